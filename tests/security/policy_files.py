#!/usr/bin/env python3
"""Policy files: only regular files, size checked first, never blocking, and
read with the rights of whoever asked.

issue 9, "Files that are not regular files" and "Reading as root on behalf of
others": FIFOs, devices, directories, symlinks swapped in under a watched
path, a FIFO in the state file, a raw policy.load from an admin-group member
of a root-only file, a watched file replaced by a symlink to one.
usage: policy_files.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish, policy, wait_until, NOBODY, NOGROUP, ADMIN_GID

tmp = TempDir()
good = policy("good", "for i = 1, #tasks do tasks[i].tickets = 500 end")
watched = tmp.file("watched.lua", good.replace('"good"', '"watched"'))
fifo = tmp.file("fifo.lua")
os.mkfifo(fifo)
secret = tmp.file("secret.lua", "SECRETTOKEN and more root-only words\n", mode=0o600)

host = Host(sys.argv, tmp, args=["--admin-group", str(ADMIN_GID), watched]).start()
try:
	def load(path, timeout=5):
		r, secs = host.timed_request({"cmd": "policy.load", "file": path}, timeout=timeout)
		return r, secs

	r, secs = load(fifo)
	check(r and r["error"]["code"] == "policy_error" and "not a regular file (a FIFO)" in r["error"]["message"] and secs < 1,
	      "policy load of a FIFO fails at once (%.2f s)" % secs, r)
	r, secs = load("/dev/zero")
	check(r and "not a regular file (a character device)" in r["error"]["message"] and secs < 1,
	      "policy load of /dev/zero fails at once (%.2f s)" % secs, r)
	check(host.rss_mb() < 200, "and the host did not grow (%.0f MiB)" % host.rss_mb())
	r, _ = load(tmp.path)
	check(r and "is a directory" in r["error"]["message"], "a directory is named as one", r)
	big = tmp.file("big.lua", "-- " + "x" * (2 << 20) + "\n")
	r, _ = load(big)
	check(r and "larger than 1 MiB" in r["error"]["message"], "a file over 1 MiB is refused by its size", r)
	r, _ = load("/proc/self/status")
	check(r and not r["ok"] and "is empty" in r["error"]["message"], "a /proc file (it says size 0) is refused unread", r)

	# a watched path replaced by something that is not a regular file
	os.rename(watched, watched + ".orig")
	os.mkfifo(watched)
	check(wait_until(lambda: "not a regular file" in host.log(), 3), "a FIFO at a watched path is reported as such")
	check("was deleted" not in host.log(), "not as 'was deleted'")
	os.unlink(watched)
	os.symlink("/dev/zero", watched)
	host.proc.send_signal(signal.SIGHUP)
	time.sleep(1)
	check(host.alive() and host.rss_mb() < 200, "SIGHUP with a watched path -> /dev/zero: the host stays small (%.0f MiB)" % host.rss_mb())
	check(host.policies()["watched"]["ticks"] > 0 and host.policies()["watched"]["active"], "and its last good version keeps running")
	os.unlink(watched)
	os.rename(watched + ".orig", watched)

	# an admin-group member may load policies, but only files it could read
	def as_admin(obj):
		return host.request_as(obj, uid=NOBODY, gid=ADMIN_GID, groups=[ADMIN_GID])[0]

	r = as_admin({"cmd": "policy.load", "file": secret})
	check(r and not r["ok"] and "Permission denied" in r["error"]["message"], "a raw policy.load of a root-only file as an admin-group member is refused", r)
	check("SECRETTOKEN" not in json.dumps(r), "and quotes nothing of it", r)
	check("SECRETTOKEN" not in json.dumps(host.policy_errors()), "nor does `policy errors`")
	rc, out, err = host.shell("policy load " + secret, uid=NOBODY, gid=ADMIN_GID, groups=[ADMIN_GID])
	check(rc != 0 and "SECRETTOKEN" not in out + err, "nor through lotto-shell", err)

	# its own file loads, and a symlink swapped in later is read with its rights too
	udir = tmp.file("nobody")
	os.mkdir(udir)
	os.chown(udir, NOBODY, ADMIN_GID)
	def user_file(name, text):	# a file of the admin-group member, in its directory
		path = os.path.join(udir, name)
		with open(path, "w") as f:
			f.write(text)
		os.chown(path, NOBODY, ADMIN_GID)
		return path

	def swap_in_secret(path, what):	# the watched file becomes a symlink to the root-only one
		os.unlink(path)
		os.symlink(secret, path)
		time.sleep(1)
		check("SECRETTOKEN" not in json.dumps(host.policy_errors()) and "SECRETTOKEN" not in host.log(), what)

	mine = user_file("mine.lua", policy("mine", "for i = 1, #tasks do tasks[i].tickets = 300 end"))
	r = as_admin({"cmd": "policy.load", "file": mine})
	check(r and r["ok"], "an admin-group member loads its own policy", r)
	swap_in_secret(mine, "a watched file replaced by a symlink to a root-only file is not read as root")
	check(host.policies()["mine"]["active"], "the last good version keeps running")

	# a policy root loaded from a directory someone else can write: a symlink
	# swapped in changes the file's owner, and that is not followed
	rootpol = user_file("rootpol.lua", policy("rootpol", "for i = 1, #tasks do tasks[i].tickets = 301 end"))
	r, _ = load(rootpol)
	check(r and r["ok"], "root loads a policy from a user's directory", r)
	swap_in_secret(rootpol, "a symlink to a root-only file swapped in there is refused (the owner changed)")
	check(any("owner changed" in e["message"] for e in host.policy_errors()), "with an error that says why",
	      host.policy_errors()[-1:])
	check(host.alive() and host.request({"cmd": "stats"})["ok"], "the host serves on")
finally:
	host.stop()

# a FIFO named in the state file: start-up does not hang, SIGTERM works
state = tmp.file("state.json", json.dumps({"version": 1, "policies": [fifo], "pins": {}}))
h2 = Host(sys.argv, tmp, state=state, tag="fifostate")
t0 = time.monotonic()
h2.start(wait=False)
ready = h2.wait_ready(5)
check(ready, "a FIFO named in the state file does not hang start-up (%.1f s)" % (time.monotonic() - t0))
if ready:
	p = h2.policies()
	check(any(not x["active"] and "not a regular file" in x["last_error"] for x in p.values()),
	      "it is listed with its error", p)
rc = h2.stop()
check(rc == 0, "SIGTERM stops it (exit %s)" % rc)
tmp.cleanup()
finish(host)
