#!/bin/sh
# scripts/demo.sh — the lotto demo, run on a sched_ext kernel as root (inside
# scripts/vm.sh when this machine's kernel has no sched_ext; scripts/run.sh
# does that). busybox sh compatible.
#
#   scripts/demo.sh [LOTTO-HOST ARGS...]
#
# Starts lotto-host ARGS, then four CPU-bound tasks pinned to CPU 0 with
# 100, 200, 300 and 400 tickets (set with lotto-ctl), lets them compete for
# DEMO_SECONDS (default 15) and prints each task's ticket share against its
# measured share of CPU 0 (utime + stime from /proc/PID/stat), and the spread
# an ideal lottery would show for the number of draws made.
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/vm/lib.sh"

SECS=${DEMO_SECONDS:-15}
TICKETS="100 200 300 400"

# utime + stime of PID, in clock ticks
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

taskset -p 2 $$ >/dev/null 2>&1 || true	# this shell stays off CPU 0 if it can
lotto_start "$@"
pids=
for t in $TICKETS; do
	spin 0
	pids="$pids $SPIN_PID"
	"$LOTTO_CTL" set "$SPIN_PID" "$t" || fail "lotto-ctl set $SPIN_PID $t failed"
done
say "four CPU hogs pinned to CPU 0, tickets $TICKETS; measuring for ${SECS}s"
sleep 1
before=
for p in $pids; do before="$before $(cpu_ticks $p):$(field $p wins)"; done
sleep "$SECS"
after=
for p in $pids; do after="$after $(cpu_ticks $p):$(field $p wins):$(field $p tickets)"; done
spin_stop $pids
lotto_stop

echo
echo "$pids" "|" "$before" "|" "$after" | awk -v secs="$SECS" "$AWK_SQRT"'
{
	n = 0; part = 1
	for (i = 1; i <= NF; i++) {
		if ($i == "|") { part++; k = 0; continue }
		k++
		if (part == 1) { pid[k] = $i; n = k }
		else if (part == 2) { split($i, a, ":"); c0[k] = a[1]; w0[k] = a[2] }
		else { split($i, a, ":"); cpu[k] = a[1] - c0[k]; wins[k] = a[2] - w0[k]; t[k] = a[3] }
	}
	for (k = 1; k <= n; k++) { T += t[k]; C += cpu[k]; W += wins[k] }
	printf "%7s %8s %13s %10s %8s %8s\n", "PID", "TICKETS", "TICKET-SHARE", "CPU-SHARE", "+-1 SD", "WINS"
	for (k = 1; k <= n; k++) {
		p = t[k] / T; s = C ? cpu[k] / C : 0; sd = W ? msqrt(p * (1 - p) / W) : 0
		printf "%7d %8d %12.1f%% %9.1f%% %7.1f%% %8d\n", pid[k], t[k], 100 * p, 100 * s, 100 * sd, wins[k]
	}
	printf "\n%d draws in %s s; an ideal lottery puts each CPU share within about 2 SD of its ticket share.\n", W, secs
}'
kernel_log_clean || fail "the kernel log has errors"
