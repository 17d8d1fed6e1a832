#!/bin/bash
# End to end on the sim backend: lotto-host --metrics, scraped over HTTP,
# against what `lotto-shell stats --json` and `tasks --json` say at the same
# time (counters between a stats before and one after the scrape; what does
# not move, equal).
# usage: metrics.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
. "$(dirname "$0")/lib.sh"
start_host "$SRC/tests/sim/workloads/nice_mix.wl" "$SRC/policies/nice_weighted.lua" \
	--metrics 127.0.0.1:0 --metrics-top 3
sleep 1.2	# one sampler interval, a few policy ticks
PORT=$(sed -n 's|.*metrics: serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$T/host.log")
[ -n "$PORT" ] && ok "the host says where it serves metrics" || { fail "no metrics line in: $(cat "$T/host.log")"; finish; }

scrape() {	# scrape FILE: the body, the status line in FILE.status
	python3 - "$PORT" "$1" <<'PY'
import sys, urllib.request
port, out = sys.argv[1], sys.argv[2]
try:
	r = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
	open(out, "wb").write(r.read())
	open(out + ".status", "w").write(f"{r.status} {r.headers['Content-Type']}\n")
except Exception as e:
	open(out + ".status", "w").write(f"error {e}\n")
PY
}

sh_ -c 'stats --json' >"$T/before.json" && scrape "$T/m.txt" && sh_ -c 'stats --json; tasks --json' >"$T/after.json"
expect_in "$T/m.txt.status" "200 text/plain; version=0.0.4" "GET /metrics answers 200 in the text format"

python3 - "$T/before.json" "$T/m.txt" "$T/after.json" >"$T/cmp" 2>&1 <<'PY'
import json, re, sys
before = json.loads(open(sys.argv[1]).read())
lines = open(sys.argv[3]).read().splitlines()
after, tasks = json.loads(lines[0]), json.loads(lines[1])["tasks"]
m = {}
for line in open(sys.argv[2]):
	if line.startswith("#") or not line.strip():
		continue
	k, v = line.rsplit(" ", 1)
	m[k] = float(v)
bad = []
def eq(key, want):
	if m.get(key) != want:
		bad.append(f"{key} = {m.get(key)}, stats says {want}")
for key, field in [("lotto_cpus", "nr_cpus"), ("lotto_tasks", "nr_tasks"), ("lotto_tickets", "total_tickets"),
		   ("lotto_pins", "pins"), ("lotto_boosts", "boosts"), ("lotto_policies", "policies")]:
	if before[field] != after[field]:
		bad.append(f"{field} moved during the test: {before[field]} -> {after[field]}")
	eq(key, before[field])
eq("lotto_enabled", 1 if before["state"] == "enabled" else 0)
counters = 0
for c, (b, a) in enumerate(zip(before["per_cpu"], after["per_cpu"])):
	for name in b:
		if name == "cpu":
			continue
		key = f'lotto_{name}_total{{cpu="{c}"}}'
		counters += 1
		if key not in m or not (b[name] <= m[key] <= a[name]):
			bad.append(f"{key} = {m.get(key)}, not within stats {b[name]}..{a[name]}")
task_keys = [k for k in m if k.startswith("lotto_task_tickets{")]
if len(task_keys) != 3:
	bad.append(f"{len(task_keys)} tasks have series, --metrics-top 3 asked for 3")
by_pid = {t["pid"]: t for t in tasks}
for k in task_keys:
	pid = int(re.search(r'pid="(\d+)"', k).group(1))
	comm = re.search(r'comm="([^"]*)"', k).group(1)
	if pid not in by_pid or by_pid[pid]["comm"] != comm or by_pid[pid]["tickets"] != m[k]:
		bad.append(f"{k} = {m[k]} does not match tasks: {by_pid.get(pid)}")
eq('lotto_policy_active{policy="nice_weighted"}', 1)
if not m.get('lotto_policy_ticks_total{policy="nice_weighted"}', 0) > 0:
	bad.append("nice_weighted has no ticks in the metrics")
print("\n".join(bad) if bad else f"all {counters} per-CPU counters within the stats around the scrape")
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] && ok "metrics agree with stats --json: $(cat "$T/cmp")" || fail "metrics disagree with stats: $(cat "$T/cmp")"

if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m.txt" >"$T/lint" 2>&1 && ok "promtool check metrics" || fail "promtool: $(cat "$T/lint")"
fi

# what else it answers, and that it never blocks the control socket
code() { python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5)
s.sendall(sys.argv[1].encode())
print(s.recv(100).decode().split(chr(13))[0])" "$1"; }
[ "$(code $'GET /nope HTTP/1.1\r\n\r\n')" = "HTTP/1.1 404 Not Found" ] && ok "404 for another page" || fail "another page"
[ "$(code $'DELETE /metrics HTTP/1.1\r\n\r\n')" = "HTTP/1.1 405 Method Not Allowed" ] && ok "405 for a write" || fail "a write"
python3 -c "
import socket, time
socks = [socket.create_connection(('127.0.0.1', $PORT)) for _ in range(8)]
time.sleep(0.3)
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5)
print(s.recv(100).decode().split(chr(13))[0])" >"$T/busy" 2>&1
expect_in "$T/busy" "HTTP/1.1 503" "a ninth open connection is refused"
expect_rc 0 "the control socket answers meanwhile" -- sh_ -c stats

expect_rc 2 "a bad --metrics address stops lotto-host" -- "$HOST_BIN" --backend sim --no-state --metrics 9477
expect_in "$T/err" "is not ADDR:PORT" "it says the form"
finish
