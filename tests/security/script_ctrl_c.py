#!/usr/bin/env python3
"""issue 9, "Smaller": Ctrl-C during `watch` or `export` in a -c or piped
script stops the script (exit status 130); the commands after it, writes
included, do not run.
usage: script_ctrl_c.py LOTTO_HOST LOTTO_SHELL SOURCE_DIR
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seclib import Host, TempDir, check, finish

tmp = TempDir()
host = Host(sys.argv, tmp).start()
try:
	pid = host.tasks()[0]["pid"]

	def interrupted(argv, stdin=None):
		p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
				     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
		if stdin:
			p.stdin.write(stdin)
			p.stdin.flush()
		time.sleep(1.2)
		p.send_signal(signal.SIGINT)
		try:
			out, err = p.communicate(timeout=5)
		except subprocess.TimeoutExpired:
			p.kill()
			out, err = p.communicate()
		return p.returncode, out, err

	rc, out, err = interrupted([host.shell_bin, "--socket", host.sock, "-c", "watch stats 0.2; tickets %d 4321" % pid])
	t = [x for x in host.tasks() if x["pid"] == pid][0]
	check(rc == 130 and not t["pinned"], "Ctrl-C in `watch` of a -c script stops the script (exit %s, pinned %s)" % (rc, t["pinned"]))
	csv = tmp.file("x.csv")
	rc, out, err = interrupted([host.shell_bin, "--socket", host.sock],
				   stdin="export csv %s --interval 0.2 --count 100\ntickets %d 4321\n" % (csv, pid))
	t = [x for x in host.tasks() if x["pid"] == pid][0]
	check(rc == 130 and not t["pinned"], "Ctrl-C in `export` of a piped script stops it (exit %s)" % rc)
	check(os.path.getsize(csv) > 0 and "stopped by Ctrl-C" in out, "and keeps what was exported", out)

	rc, out, err = interrupted([host.shell_bin, "--socket", host.sock, "-c", "stats; watch stats 0.2", "-k"])
	check(rc == 130, "also with --keep-going (exit %s)" % rc)
finally:
	host.stop()
	tmp.cleanup()
finish(host)
