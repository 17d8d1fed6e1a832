#!/usr/bin/env python3
"""One local user cannot starve the control socket for the others.

issue 9, "Denial of service on the control socket": 64 idle connections from
one user locked root out (and root's error said "is lotto-host running?").
Variants: many users at once, slow clients that send half a line, clients
that never send anything, the per-user limit's own message.
usage: socket_limits.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish, wait_until, NOBODY, NOGROUP

tmp = TempDir()

# --- defaults: one user's idle connections do not lock anyone else out
host = Host(sys.argv, tmp).start()
holders = []
try:
	h = host.hold(64)
	holders.append(h)
	refused = [s for s in h.states if s != "ok"]
	check(len(refused) >= 64 - 8, "one user gets at most 8 connections (%d of 64 refused)" % len(refused))
	check(any("uid %d" % NOBODY in s and "busy" in s for s in refused),
	      "the refusal is a `busy` error naming the user's limit", refused[:1])
	rc, out, err = host.shell("stats")
	check(rc == 0 and "backend" in out, "root still gets in while that user holds its connections", err)
	rc, out, err = host.shell("stats", uid=NOBODY, gid=NOGROUP)
	check(rc != 0 and "is lotto-host running" not in err and "connections" in err,
	      "the refused user is told why, not 'is lotto-host running?'", err.strip())
	rc, out, err = host.shell("stats", uid=NOBODY - 1, gid=NOGROUP)
	check(rc == 0, "another user still gets in", err)

	# many users at once fill the server: root keeps a reserve
	for uid in range(NOBODY - 20, NOBODY - 11):
		holders.append(host.hold(8, uid=uid))
	rc, out, err = host.shell("stats")
	check(rc == 0, "root gets in when many users fill the socket", err)
	rc, out, err = host.shell("stats", uid=NOBODY - 30, gid=NOGROUP)
	check(rc != 0 and ("busy" in err or "too many" in err), "a further user is told the host is busy", err.strip())
finally:
	for h in holders:
		h.close()
	host.stop()

# --- idle and slow clients are closed after --client-timeout-s
host = Host(sys.argv, tmp, args=["--client-timeout-s", "1"], tag="timeout").start()
try:
	def connected(payload):
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.connect(host.sock)
		if payload:
			s.sendall(payload)
		return s

	def closed_within(s, seconds):
		s.settimeout(seconds)
		t0 = time.monotonic()
		try:
			while True:
				b = s.recv(4096)
				if not b:
					return time.monotonic() - t0
		except socket.timeout:
			return None
		except OSError:
			return time.monotonic() - t0

	idle = connected(b"")
	half = connected(b'{"cmd":"sta')
	t = closed_within(idle, 4)
	check(t is not None, "a client that sends nothing is closed after the idle timeout (%s s)" % t)
	t = closed_within(half, 4)
	check(t is not None, "a client that sends half a line and stops is closed too (%s s)" % t)
	# dribbling one byte every 0.4 s never completes a line within the timeout
	s = connected(b"")
	t0 = time.monotonic()
	gone = False
	for ch in b'{"cmd":"stats"}' * 4:
		try:
			s.sendall(bytes([ch]))
		except OSError:
			gone = True
			break
		time.sleep(0.4)
	check(gone and time.monotonic() - t0 < 5, "a client dribbling a line byte by byte is closed (%.1f s)" % (time.monotonic() - t0))
	# a client that keeps asking stays
	s = connected(b"")
	ok = True
	for _ in range(5):
		s.sendall(b'{"cmd":"hello"}\n')
		s.settimeout(2)
		ok = ok and b'"ok":true' in s.recv(65536)
		time.sleep(0.5)
	check(ok, "a client that keeps making requests is not timed out")
	check(host.alive() and host.request({"cmd": "stats"})["ok"], "the host serves on")
finally:
	host.stop()
	tmp.cleanup()
finish(host)
