#!/usr/bin/env python3
"""What the shell is told succeeded is on disk; restore never drops silently.

issue 9, "State that is said to be saved but is not": a state file that
cannot be written, pins of 0, -5, 1e12 and 2.5 on restore, a policy that is
missing or broken at restart, and the wording of state-file errors.
usage: state_persistence.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish, policy, wait_until

tmp = TempDir()
state = tmp.file("state.json")
pol = tmp.file("p.lua", policy("p", "for i = 1, #tasks do tasks[i].tickets = 250 end"))
other = tmp.file("other.lua", policy("other", "for i = 1, #tasks do tasks[i].tickets = 260 end"))

# --- a state file that cannot be written: the shell is told, nothing changes
host = Host(sys.argv, tmp, state=state).start()
try:
	pid = host.tasks()[0]["pid"]
	os.mkdir(state + ".tmp")	# the atomic write's temp name is taken: every save fails
	rc, out, err = host.shell("tickets %d 4242" % pid)
	check(rc != 0 and "state file" in err, "`tickets` fails when the state file cannot be written", (rc, out, err))
	t = [x for x in host.tasks() if x["pid"] == pid][0]
	check(not t["pinned"] and t["tickets"] != 4242, "and the task is not pinned", t)
	r = host.request({"cmd": "tickets", "pid": pid, "tickets": 4242})
	check(r and r["error"]["code"] == "not_saved", "the protocol error code is not_saved", r)
	rc, out, err = host.shell("policy load " + pol)
	check(rc != 0 and "state file" in err, "`policy load` fails too", (rc, out, err))
	check("p" not in host.policies(), "and the policy is not loaded", host.policies())
	os.rmdir(state + ".tmp")
	rc, out, err = host.shell("tickets %d 4242; policy load %s; policy load %s" % (pid, pol, other))
	check(rc == 0, "once it can be written, they succeed", err)
	saved = json.load(open(state))
	check(saved["pins"].get(str(pid)) == 4242, "and are in the file", saved)
	os.mkdir(state + ".tmp")
	rc, out, err = host.shell("unpin %d" % pid)
	check(rc != 0 and [x for x in host.tasks() if x["pid"] == pid][0]["pinned"], "an unpin that cannot be saved is refused and undone")
	rc, out, err = host.shell("policy unload other")
	check(rc != 0 and "other" in host.policies(), "so is a policy unload")
	os.rmdir(state + ".tmp")
finally:
	host.stop()

# --- restart: a policy that is missing keeps its entry, with its error
os.rename(other, other + ".away")
host = Host(sys.argv, tmp, state=state, tag="restart").start()
try:
	ps = host.policies()
	check("p" in ps and ps["p"]["active"], "the loadable policy is back", ps)
	missing = [p for p in ps.values() if p["file"] == other]
	check(missing and not missing[0]["active"] and "cannot open" in missing[0]["last_error"],
	      "the missing one is listed, inactive, with its error", ps)
	check(other in json.dumps(json.load(open(state))), "and stays in the state file")
	os.rename(other + ".away", other)
	check(wait_until(lambda: any(p["file"] == other and p["active"] for p in host.policies().values()), 3),
	      "when its file comes back it loads")
	rc, out, err = host.shell("policy unload other")
	check(rc == 0 and other not in json.dumps(json.load(open(state))), "`policy unload` removes it from the state file", err)
finally:
	host.stop()

# --- restore: bad pins stop lotto-host with a line naming the field
def start_fails(text, want, what):
	with open(state, "w") as f:
		f.write(text)
	h = Host(sys.argv, tmp, state=state, tag="bad")
	p = subprocess.run(h.cmdline(), capture_output=True, text=True, timeout=20)
	errline = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l]
	ok = p.returncode == 1 and errline and want in errline[-1]
	check(ok, what, (p.returncode, errline[-1:] if errline else p.stderr[-300:]))
	check(open(state).read() == text, what + ": the state file is left as it was")
	return errline[-1] if errline else ""

for bad, name in [("0", "0"), ("-5", "-5"), ("1e12", "1e+12"), ("2.5", "2.5"), ('"7"', '"7"')]:
	start_fails('{"version":2,"policies":[],"pins":{"100":%s}}' % bad, 'pins."100": tickets %s' % name,
		    "a pin of %s is refused by name" % bad)
msg = start_fails('{"version":2,"policies":[],"pins":{"abc":5}}', 'pins: "abc" is not a pid', "a pin key that is not a pid is named")
check("stoul" not in msg, "without 'stoul'", msg)
msg = start_fails('{"version":2,"policies":[5],"pins":{}}', "policies[0]", "a policy entry that is not a path is named")
check("json" not in msg.lower().split(":", 1)[-1].replace("state.json", ""), "without a raw json exception", msg)
start_fails('{"version":2,"pins":{"1":5},"pins":{"1":6}}', 'duplicate key "pins"', "a duplicate key is refused")
start_fails('{"version":4}', "version 4", "an unknown version is named")
tmp.cleanup()
finish()
