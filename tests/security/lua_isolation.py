#!/usr/bin/env python3
"""A read-only user's `lua` can change nothing shared and stall nothing.

issue 9, "Privilege": the string metatable shared with the policies, a
policy's tick turned into a ticket writer, an endless expression that blocks
the event loop, kills the policy's worker and resets its ctx.state, and, as
variants, other shared tables, log injection, and the unsafe-policy libraries
that would run as root.
usage: lua_isolation.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish, policy, wait_until, NOBODY, NOGROUP, HELPER_PY

tmp = TempDir()
# a policy whose tickets go through string methods, and that counts its ticks
# in ctx.state
pol = tmp.file("strings.lua", policy("strings", """
	ctx.state.n = (ctx.state.n or 0) + 1
	for i = 1, #tasks do tasks[i].tickets = tonumber(("1"):rep(3)) end""", interval_ms=100))
host = Host(sys.argv, tmp, args=[pol]).start()
try:
	wait_until(lambda: host.policies()["strings"]["ticks"] >= 2, 3)

	def ro(expr, timeout=10):
		r, secs = host.request_as({"cmd": "eval", "expr": expr}, timeout=timeout)
		return r, secs

	# --- the shared string metatable
	r, _ = ro('getmetatable("").__index.rep = function() return "7" end')
	r, _ = ro('getmetatable("").__index.upper = function() return "PWNED" end')
	check(host.eval('("abc"):upper()') == '"ABC"', "a read-only user cannot change string methods for later evaluations",
	      host.eval('("abc"):upper()'))
	time.sleep(0.35)
	tickets = sorted({t["tickets"] for t in host.tasks()})
	check(tickets == [111], "nor, through a policy's string calls, anyone's tickets", tickets)
	ro('getmetatable("").__index = {}')
	check(host.eval('("x"):rep(2)') == '"xx"', "replacing the string metatable's __index stays in the read-only evaluation")
	ro('getmetatable("").__metatable = "mine"')
	check(host.eval('type(getmetatable(""))') != '"string"', "nor does setting its __metatable")

	# --- other shared state a read-only user might reach
	ro("rawset(ctx.state, 'n', -1000)")
	ro("ctx.state.n = -1000")
	check(int(host.eval("ctx.state.n")) > 0, "ctx.state is not writable read-only, raw or not", host.eval("ctx.state.n"))
	ro("rawset(_G, 'ctx', nil)")
	ro("collectgarbage('collect'); tasks = nil")
	check(host.eval("#tasks") == "4", "globals of the evaluation are its own", host.eval("#tasks"))
	before = host.log().count("INJECTED")
	ro('ctx.log("error", "INJECTED by a read-only user")')
	ro('print("INJECTED too")')
	time.sleep(0.2)
	check(host.log().count("INJECTED") == before, "a read-only user cannot write lines into the host's log")

	# --- an endless expression: not the event loop, not the policy's worker
	n0 = int(host.eval("ctx.state.n"))
	t0 = time.monotonic()
	endless = subprocess.Popen([HELPER_PY, os.path.join(os.path.dirname(os.path.abspath(__file__)), "seclib.py"),
				    "request", host.sock, '{"cmd":"eval","expr":"(function() while true do end end)()"}', "10"],
				   user=NOBODY, group=NOGROUP, stdout=subprocess.PIPE, text=True)
	time.sleep(0.2)
	r, secs = host.timed_request({"cmd": "stats"})
	check(r and r["ok"] and secs < 0.3, "other clients are answered while a read-only `lua` loops (%.2f s)" % secs)
	out, _ = endless.communicate(timeout=10)
	took = time.monotonic() - t0
	reply = __import__("json").loads(__import__("json").loads(out)["reply"])
	check(not reply["ok"] and "longer than" in reply["error"]["message"] and took < 3,
	      "the endless `lua` is stopped with an error (%.1f s)" % took, reply)
	n1 = int(host.eval("ctx.state.n"))
	check(n1 >= n0, "the policy's ctx.state survives it (%d -> %d)" % (n0, n1))

	# six in a row: the policy keeps ticking (interval 100 ms)
	ticks0 = host.policies()["strings"]["ticks"]
	t0 = time.monotonic()
	for _ in range(6):
		ro("(function() while true do end end)()")
	spent = time.monotonic() - t0
	ticks = host.policies()["strings"]["ticks"] - ticks0
	expected = spent / 0.1
	check(ticks >= 0.6 * expected, "six endless read-only `lua` in a row: the policy ticked %d times in %.1f s" % (ticks, spent))
	check(not any(p["errors"] for p in host.policies().values()), "and had no error", host.policies())
finally:
	host.stop()

# --- unsafe policies: a read-only evaluation has the requester's rights, not root's
secret = tmp.file("secret", "SECRETTOKEN\n", mode=0o600)
host2 = Host(sys.argv, tmp, args=["--unsafe-policies", pol], tag="unsafe").start()
try:
	r, _ = host2.request_as({"cmd": "eval", "expr": 'io.open(%r) and "READ" or "DENIED"' % secret})
	check(r and r.get("ok") and r["result"]["value"] == '"DENIED"', "read-only `lua` with --unsafe-policies cannot read root's files", r)
	marker = tmp.file("marker")
	r, _ = host2.request_as({"cmd": "eval", "expr": 'os.execute("touch %s")' % marker})
	check(not os.path.exists(marker) or os.stat(marker).st_uid == NOBODY,
	      "nor run commands as root")
	r, _ = host2.request_as({"cmd": "eval", "expr": 'require("ffi").cast("uint32_t *", 0)'})
	check(r is not None, "and the host answers whatever it tries", r)
	check(host2.alive() and host2.eval("1 + 1") == "2", "the host is unharmed")
finally:
	host2.stop()
	tmp.cleanup()
finish(host)
