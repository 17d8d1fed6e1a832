#!/bin/sh
# scripts/bench/overload.sh — kernel threads' waits under an overload of CPU
# hogs, the default scheduler and lotto alternating in ONE boot. Run inside
# scripts/vm.sh (it needs chrt: --add /usr/bin/chrt), e.g.
#
#   scripts/vm.sh --cpus 2 --mem 2048 --add /usr/bin/chrt -- \
#       env OVERLOAD_HOGS=2000 OVERLOAD_SECONDS=20 OVERLOAD_ROUNDS=2 sh scripts/bench/overload.sh
#
# One lotto-burn of OVERLOAD_HOGS (2000) hog threads starts under the default
# scheduler; then OVERLOAD_ROUNDS (2) times: a window of OVERLOAD_SECONDS (20)
# under the default scheduler, lotto attached (at its defaults), a window under
# lotto, lotto detached. Per window: the mean wait of each kernel thread that
# ran (ksoftirqd, rcu_preempt, kworker, kcompactd; /proc/PID/schedstat
# run_delay / pcount), their mean and the worst; under lotto also its draws,
# dispatches and starvation-guard rescues. Last, any RCU stall or hung-task
# line of the kernel log. This shell runs SCHED_FIFO so that the hogs cannot
# starve it. Figures, not pass/fail (docs/benchmarks.md).
N=${OVERLOAD_HOGS:-2000}
SECS=${OVERLOAD_SECONDS:-20}
ROUNDS=${OVERLOAD_ROUNDS:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/bench/settings.sh"
positive_ints overload.sh "OVERLOAD_HOGS=$N" "OVERLOAD_SECONDS=$SECS" "OVERLOAD_ROUNDS=$ROUNDS"
. "$ROOT/tests/vm/lib.sh"
command -v chrt >/dev/null || fail "no chrt (util-linux): pack it with scripts/vm.sh --add /usr/bin/chrt"
chrt -f -p 50 $$ >/dev/null || fail "cannot make this shell SCHED_FIFO"

# kthreads > FILE: "pid comm run_ns wait_ns timeslices" of the kernel threads
kthreads() {
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		case "$c" in ksoftirqd*|rcu_preempt|kworker*|kcompactd*) echo "${p#/proc/} $c $(cat "$p/schedstat" 2>/dev/null)" ;; esac
	done
}
# waits BEFORE AFTER LABEL: one line on the threads that ran in between
waits() {
	awk -v l="$3" 'NR == FNR { d[$1] = $4; c[$1] = $5; next }
		($1 in d) && $5 > c[$1] { w = ($4 - d[$1]) / ($5 - c[$1]) / 1e6; s += w; n++; if (w > mx) { mx = w; who = $2 } }
		END { if (!n) { printf "%s: no kernel thread ran\n", l; exit }
		      printf "%s: %d kernel threads ran, mean wait %.1f ms (mean over threads), worst %.1f ms (%s)\n", l, n, s / n, mx, who }' "$1" "$2"
}
window() {
	kthreads >/tmp/k0
	sleep "$SECS"
	kthreads >/tmp/k1
	waits /tmp/k0 /tmp/k1 "$1"
}

echo "# overload: $N hogs on $(nproc) CPUs, $ROUNDS rounds of ${SECS} s windows, $(date -u '+%F %H:%M') UTC"
chrt -o 0 "$LOTTO_BURN" --threads "$N" --tids /tmp/tids &
BURN=$!
SPIN_PIDS="$SPIN_PIDS $BURN"
wait_for 120 test -f /tmp/tids || fail "lotto-burn --threads $N did not start"
r=1
while [ $r -le "$ROUNDS" ]; do
	sleep 3
	window "default, round $r"
	lotto_start
	sleep 3
	"$LOTTO_CTL" stats >/tmp/s0
	window "lotto, round $r"
	"$LOTTO_CTL" stats >/tmp/s1
	paste /tmp/s0 /tmp/s1 | awk -F'[=\t]' '$1 == "draws" || $1 == "dispatches" || $1 == "rescues" { printf "  %s %d\n", $1, $4 - $2 }'
	lotto_stop
	r=$((r + 1))
done
dmesg | grep -i "rcu.*stall\|blocked for more" | head -5
spin_stop $BURN
