#!/usr/bin/env python3
"""issue 9, "Smaller": a load whose first tick fails, error wording,
protocol versions and duplicate keys (Ctrl-C in a script: script_ctrl_c.py).
usage: smaller.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish, policy, wait_until

tmp = TempDir()
host = Host(sys.argv, tmp).start()
try:
	pid = host.tasks()[0]["pid"]
	# a load whose first tick fails is a policy_error, and nothing is loaded
	bad = tmp.file("firsttick.lua", policy("firsttick", "error('no good')"))
	r = host.request({"cmd": "policy.load", "file": bad})
	check(r and not r["ok"] and r["error"]["code"] == "policy_error" and "firsttick.lua:3: no good" in r["error"]["message"],
	      "a policy whose first tick fails is not loaded (policy_error, file:line)", r)
	check("firsttick" not in host.policies(), "and is not listed", host.policies())
	slow = tmp.file("slowtick.lua", policy("slowtick", "while true do end", interval_ms=100))
	r, secs = host.timed_request({"cmd": "policy.load", "file": slow}, timeout=10)
	check(r and not r["ok"] and "time budget" in r["error"]["message"], "one whose first tick overruns is not loaded either", r)

	# versions and duplicate keys
	r = host.request('{"cmd":"hello","v":1.0}')
	check(r and r["ok"], '"v":1.0 is version 1', r)
	r = host.request('{"cmd":"hello","version":1.0}')
	check(r and r["ok"], 'hello "version":1.0 too', r)
	r = host.request('{"cmd":"hello","v":1.5}')
	check(r and r["error"]["code"] == "unsupported_version", '"v":1.5 is not', r)
	r = host.request('{"cmd":"tickets","pid":%d,"tickets":5,"tickets":500000}' % pid)
	check(r and not r["ok"] and r["error"]["code"] == "bad_json" and 'duplicate key "tickets"' in r["error"]["message"],
	      "duplicate keys are refused, by name", r)
	r = host.request('{"cmd":"hello","id":1,"nested":{"a":1,"a":2}}')
	check(r and r["error"]["code"] == "bad_json" and r.get("id") is None, "also nested ones", r)
finally:
	host.stop()

# --admin-group with no such group: one line, no unrelated --socket hint
h = Host(sys.argv, tmp, args=["--admin-group", "nosuchgroup-lotto"], tag="badgroup")
p = subprocess.run(h.cmdline(), capture_output=True, text=True, timeout=20)
lines = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l]
check(p.returncode == 1 and len(lines) == 1 and "nosuchgroup-lotto" in lines[0] and "--socket" not in lines[0],
      "--admin-group nosuchgroup: one line about the group", lines)
tmp.cleanup()
finish(host)
