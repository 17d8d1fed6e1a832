"""seclib.py - what the adversarial tests in tests/security/ share.

A lotto-host on the sim backend in a private temp directory (readable by the
unprivileged test users), raw protocol clients and lotto-shell run as any
uid/gid (the test runs as root), and check()/finish() that print one line per
check and fail the script at the end when one failed.

Run as a script it is the helper those clients use from a process of their
own (so that the server sees their credentials):
  seclib.py request SOCK LINE [TIMEOUT]   one request line, prints the reply
  seclib.py hold SOCK N                   open N connections, print what each
                                          got within 0.3 s, keep them until
                                          stdin closes
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NOBODY = 65534
NOGROUP = 65534
ADMIN_GID = 4242		# --admin-group 4242 (numeric: no /etc/group entry needed)
# the helper runs as other users: the system python, not one under /root
HELPER_PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


# ------------------------------------------------------------------ helper side

def _connect(path, timeout):
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(timeout)
	s.connect(path)
	return s


def _read_line(s, timeout):
	s.settimeout(timeout)
	buf = b""
	while b"\n" not in buf:
		try:
			chunk = s.recv(65536)
		except (socket.timeout, OSError):
			return None
		if not chunk:
			return buf.decode(errors="replace") if buf else None
		buf += chunk
	return buf.split(b"\n", 1)[0].decode(errors="replace")


def _helper(argv):
	mode, path = argv[0], argv[1]
	if mode == "request":
		timeout = float(argv[3]) if len(argv) > 3 else 5.0
		t0 = time.monotonic()
		try:
			s = _connect(path, timeout)
			s.sendall(argv[2].encode() + b"\n")
			line = _read_line(s, timeout)
		except OSError as e:
			line = json.dumps({"ok": False, "error": {"code": "client", "message": str(e)}})
		print(json.dumps({"reply": line, "seconds": time.monotonic() - t0}))
		return 0
	if mode == "hold":
		conns, states = [], []
		for _ in range(int(argv[2])):
			try:
				conns.append(_connect(path, 2.0))
			except OSError as e:
				states.append("refused: " + str(e))
		time.sleep(0.3)	# a refusal comes at once; then the host closes
		for s in conns:
			first = _read_line(s, 0.01)
			states.append("ok" if first is None else first)
		print(json.dumps(states), flush=True)
		sys.stdin.read()	# until the test closes our stdin
		return 0
	print("seclib.py: unknown mode " + mode, file=sys.stderr)
	return 2


# ------------------------------------------------------------------ test side

FAILS = []


def check(cond, what, detail=""):
	if cond:
		print("ok: " + what, flush=True)
	else:
		FAILS.append(what)
		print("FAIL: " + what + (": " + str(detail)[:800] if detail != "" else ""), flush=True)
	return cond


def finish(host=None):
	if FAILS:
		print("%d check(s) failed" % len(FAILS))
		if host:
			print("host log (last 30 lines):")
			print("\n".join(host.log().splitlines()[-30:]))
		sys.exit(1)
	print("all checks passed")


class TempDir:
	def __init__(self):
		self.path = tempfile.mkdtemp(prefix="lotto-sec.")
		os.chmod(self.path, 0o755)	# the unprivileged users reach the socket

	def file(self, name, text=None, mode=0o644):
		p = os.path.join(self.path, name)
		if text is not None:
			with open(p, "w") as f:
				f.write(text)
			os.chmod(p, mode)
		return p

	def cleanup(self):
		shutil.rmtree(self.path, ignore_errors=True)


def policy(name, tick_body, interval_ms=100, extra=""):
	return ("%s\nreturn { name = %s, interval_ms = %d, tick = function(tasks, ctx)\n%s\nend }\n"
		% (extra, json.dumps(name), interval_ms, tick_body))


class Host:
	"""lotto-host --backend sim on a socket in `tmp`, until stop()."""

	def __init__(self, argv, tmp, args=(), workload="demo.wl", state=None, as_limit_mb=4096, tag="host"):
		self.bin, self.shell_bin, self.src = argv[1], argv[2], argv[3]
		self.tmp = tmp
		self.sock = tmp.file(tag + ".sock")
		self.logfile = tmp.file(tag + ".log")
		self.args = list(args)
		self.workload = os.path.join(self.src, "tests/sim/workloads", workload)
		self.state = state
		self.as_limit_mb = as_limit_mb
		self.proc = None

	def cmdline(self):
		c = [self.bin, "--backend", "sim", "--workload", self.workload, "--socket", self.sock]
		c += ["--state-file", self.state] if self.state else ["--no-state"]
		return c + self.args

	def start(self, wait=True, timeout=8.0):
		log = open(self.logfile, "a")
		# a bound on the address space: a host that reads without limit dies
		# here instead of taking the test machine's memory (not under ASan,
		# which reserves terabytes of shadow address space up front)
		lim = self.as_limit_mb << 20
		pre = (lambda: __import__("resource").setrlimit(__import__("resource").RLIMIT_AS, (lim, lim))) \
			if self.as_limit_mb and "ASAN_OPTIONS" not in os.environ else None
		self.proc = subprocess.Popen(self.cmdline(), stdout=log, stderr=log, preexec_fn=pre)
		if wait and not self.wait_ready(timeout):
			raise RuntimeError("lotto-host did not serve %s within %.0f s; log:\n%s" % (self.sock, timeout, self.log()))
		return self

	def wait_ready(self, timeout=8.0):
		until = time.monotonic() + timeout
		while time.monotonic() < until:
			if self.proc.poll() is not None:
				return False
			try:
				r = self.request({"cmd": "hello"}, timeout=1.0)
				if r and r.get("ok"):
					return True
			except OSError:
				pass
			time.sleep(0.05)
		return False

	def stop(self):
		if self.proc and self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(5)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
		# in a sanitizer build (scripts/test.sh --asan) any report of the
		# host or its workers fails the test
		log = self.log()
		for mark in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
			if mark in log:
				i = log.index(mark)
				check(False, "no sanitizer report in the host's log", log[max(0, i - 200):i + 1500])
		return self.proc.returncode if self.proc else None

	def alive(self):
		return self.proc.poll() is None

	def log(self):
		try:
			with open(self.logfile, errors="replace") as f:
				return f.read()
		except OSError:
			return ""

	def rss_mb(self):
		try:
			with open("/proc/%d/status" % self.proc.pid) as f:
				for l in f:
					if l.startswith("VmRSS:"):
						return int(l.split()[1]) / 1024.0
		except OSError:
			pass
		return -1

	# a request from this (root) process; returns the reply object or None
	def request(self, obj, timeout=5.0):
		line = obj if isinstance(obj, str) else json.dumps(obj)
		s = _connect(self.sock, timeout)
		try:
			s.sendall(line.encode() + b"\n")
			r = _read_line(s, timeout)
		finally:
			s.close()
		return json.loads(r) if r else None

	def timed_request(self, obj, timeout=5.0):
		t0 = time.monotonic()
		r = self.request(obj, timeout)
		return r, time.monotonic() - t0

	# a request from a process with these credentials
	def request_as(self, obj, uid=NOBODY, gid=NOGROUP, groups=(), timeout=5.0):
		line = obj if isinstance(obj, str) else json.dumps(obj)
		out = subprocess.run([HELPER_PY, __file__, "request", self.sock, line, str(timeout)],
				     user=uid, group=gid, extra_groups=list(groups), capture_output=True, text=True,
				     timeout=timeout + 10)
		res = json.loads(out.stdout)
		return (json.loads(res["reply"]) if res["reply"] else None), res["seconds"]

	def hold(self, n, uid=NOBODY, gid=NOGROUP, groups=()):
		"""N connections from uid, kept until Holder.close(); .states: what each got"""
		return Holder(self, n, uid, gid, groups)

	def shell(self, cmd, uid=None, gid=None, groups=(), timeout=20, stdin=None, json_out=False):
		c = [self.shell_bin, "--socket", self.sock] + (["--json"] if json_out else []) + (["-c", cmd] if cmd is not None else [])
		kw = {}
		if uid is not None:
			kw = dict(user=uid, group=gid if gid is not None else uid, extra_groups=list(groups))
		p = subprocess.run(c, capture_output=True, text=True, timeout=timeout, input=stdin, **kw)
		return p.returncode, p.stdout, p.stderr

	def shell_json(self, cmd, **kw):
		rc, out, err = self.shell(cmd, json_out=True, **kw)
		try:
			return rc, json.loads(out.strip().splitlines()[-1]) if out.strip() else None, err
		except ValueError:
			return rc, None, err + out

	def tasks(self):
		return self.request({"cmd": "tasks"})["result"]["tasks"]

	def policies(self):
		return {p["name"]: p for p in self.request({"cmd": "policy.list"})["result"]["policies"]}

	def policy_errors(self):
		return self.request({"cmd": "policy.errors"})["result"]["errors"]

	def eval(self, expr):
		r = self.request({"cmd": "eval", "expr": expr})
		return r["result"]["value"] if r.get("ok") else "ERROR: " + r["error"]["message"]


class Holder:
	def __init__(self, host, n, uid, gid, groups):
		self.p = subprocess.Popen([HELPER_PY, __file__, "hold", host.sock, str(n)], user=uid, group=gid,
					  extra_groups=list(groups), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
		self.states = json.loads(self.p.stdout.readline() or "[]")

	def close(self):
		if self.p.poll() is None:
			self.p.stdin.close()
			try:
				self.p.wait(5)
			except subprocess.TimeoutExpired:
				self.p.kill()
				self.p.wait()


def wait_until(pred, timeout, step=0.05):
	until = time.monotonic() + timeout
	while time.monotonic() < until:
		if pred():
			return True
		time.sleep(step)
	return pred()


if __name__ == "__main__":
	sys.exit(_helper(sys.argv[1:]))
