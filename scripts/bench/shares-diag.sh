#!/bin/sh
# scripts/bench/shares-diag.sh — the raw data behind shares.sh, for lotto's
# error analysis (issue 7): eight unpinned hogs 100/200/300/400 twice, and
# per run their CPU time, lotto's wins per task, lotto's counters, the
# machine's /proc/stat (idle and busy per CPU) and lotto-host's own CPU
# time. DIAG_DEFAULT=1 also runs the default scheduler (nice weights)
# before each lotto run, for the machine's figures. busybox sh; in the VM:
#
#   scripts/vm.sh --cpus C -- env DIAG_RUNS=R DIAG_SECONDS=S sh scripts/bench/shares-diag.sh
#
# Prints one block per run: "run SCHED I", "cpu NS..." (deltas, hogs in
# ticket order), "wins N..." (lotto only), "stat NAME=DELTA..." (lotto only),
# "procstat LINE" before and after ("cpu" lines of /proc/stat), "host TICKS"
# (lotto-host's utime+stime delta, clock ticks), "wall S".
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/vm/lib.sh"

RUNS=${DIAG_RUNS:-7}
SECS=${DIAG_SECONDS:-20}
DEF=${DIAG_DEFAULT:-0}
PROG=${DIAG_PROGSTATS:-0}	# 1: kernel.bpf_stats_enabled and lotto-ctl progstats per lotto run
LOTTO_ARGS=${DIAG_LOTTO_ARGS:-}
TICKETS=${DIAG_TICKETS:-"100 200 300 400 100 200 300 400"}
NICES="0 -3 -5 -6 0 -3 -5 -6"

wins_of() {
	"$LOTTO_CTL" dump | awk -v pids="$*" 'BEGIN { n = split(pids, p, " ") }
		NR > 1 { w[$1] = $8 }
		END { for (i = 1; i <= n; i++) printf " %s", (p[i] in w) ? w[p[i]] : -1; printf "\n" }'
}

# the uptime, then each pid's CPU time (ns), read by one process: all at
# (nearly) the same moment
snap() {
	_f=
	for _p in "$@"; do _f="$_f /proc/$_p/schedstat"; done
	# shellcheck disable=SC2086
	awk 'FNR == 1 { printf "%s%s", (NR > 1 ? " " : ""), $1 } END { printf "\n" }' /proc/uptime $_f
}

# every thread's CPU time: "pid comm ns" (comm without spaces)
threads() {
	grep -H '' /proc/[0-9]*/task/[0-9]*/schedstat /proc/[0-9]*/task/[0-9]*/comm 2>/dev/null |
		awk '{ i = index($0, ":"); split(substr($0, 1, i - 1), a, "/"); v = substr($0, i + 1)
			if (a[6] == "comm") { gsub(/[ \t]/, "_", v); c[a[5]] = v } else { split(v, x, " "); ns[a[5]] = x[1] } }
			END { for (t in ns) print t, (t in c) ? c[t] : "?", ns[t] }'
}

host_ticks() {
	[ -n "$LOTTO_PID" ] && awk '{ print $14 + $15 }' "/proc/$LOTTO_PID/stat" 2>/dev/null || echo 0
}

one_run() {
	_sched=$1 _i=$2
	_pids=
	for _t in $TICKETS; do
		"$LOTTO_BURN" &
		_pids="$_pids $!"
		SPIN_PIDS="$SPIN_PIDS $!"
	done
	if [ "$_sched" = lotto ]; then
		_set= _k=1
		for _p in $_pids; do _set="$_set $_p $(echo $TICKETS | cut -d' ' -f$_k)"; _k=$((_k + 1)); done
		"$LOTTO_CTL" set $_set || fail "lotto-ctl set failed"
	else
		_k=1
		for _p in $_pids; do
			renice -n "$(echo $NICES | cut -d' ' -f$_k)" -p "$_p" >/dev/null
			_k=$((_k + 1))
		done
	fi
	sleep 2
	_h0=$(host_ticks)
	[ "$_sched" = lotto ] && _s0=$("$LOTTO_CTL" stats | tr '\n' ' ')
	[ "$_sched" = lotto ] && [ "$PROG" = 1 ] && "$LOTTO_CTL" progstats | sed 's/^/prog /' >/tmp/diag-prog0
	_p0=$(grep '^cpu' /proc/stat | tr '\n' ';')
	# wins are read outside the CPU window: lotto-ctl is slow under TCG
	[ "$_sched" = lotto ] && _w0=$(wins_of $_pids)
	threads >/tmp/diag-thr0
	_c0=$(snap $_pids)
	sleep "$SECS"
	_c1=$(snap $_pids)
	threads >/tmp/diag-thr1
	_p1=$(grep '^cpu' /proc/stat | tr '\n' ';')
	[ "$_sched" = lotto ] && _w1=$(wins_of $_pids)
	[ "$_sched" = lotto ] && _s1=$("$LOTTO_CTL" stats | tr '\n' ' ')
	[ "$_sched" = lotto ] && [ "$PROG" = 1 ] && "$LOTTO_CTL" progstats | sed 's/^/prog /' >/tmp/diag-prog1
	_h1=$(host_ticks)
	spin_stop $_pids
	echo "run $_sched $_i"
	awk -v a="${_c0#* }" -v b="${_c1#* }" 'BEGIN { n = split(a, x, " "); split(b, y, " "); printf "cpu"; for (i = 1; i <= n; i++) printf " %.0f", y[i] - x[i]; printf "\n" }'
	if [ "$_sched" = lotto ]; then
		awk -v a="$_w0" -v b="$_w1" 'BEGIN { n = split(a, x, " "); split(b, y, " "); printf "wins"; for (i = 1; i <= n; i++) printf " %.0f", y[i] - x[i]; printf "\n" }'
		echo "stat0 $_s0"
		echo "stat1 $_s1"
		[ "$PROG" = 1 ] && sed 's/^prog/prog0/' /tmp/diag-prog0 && sed 's/^prog/prog1/' /tmp/diag-prog1
	fi
	echo "procstat0 $_p0"
	echo "procstat1 $_p1"
	echo "host $((_h1 - _h0))"
	# the threads that ran most in the window, other than the hogs
	awk -v hogs="$_pids" 'BEGIN { n = split(hogs, h, " "); for (i = 1; i <= n; i++) hog[h[i]] = 1 }
		FNR == NR { a[$1] = $3; next }
		!($1 in hog) && $3 != "" { d = $3 - ($1 in a ? a[$1] : 0); if (d > 0) { by[$2] += d; all += d } }
		END { printf "others %.0f", all; for (c in by) if (by[c] > 1e7) printf " %s=%.0f", c, by[c]; printf "\n" }' /tmp/diag-thr0 /tmp/diag-thr1
	echo "wall ${_c0%% *} ${_c1%% *}"
}

echo "# shares-diag: $(nproc) CPUs, $RUNS runs x ${SECS}s, tickets $TICKETS, default runs: $DEF, lotto-host${LOTTO_ARGS:+ $LOTTO_ARGS}, $(date -u '+%Y-%m-%d %H:%M UTC')"
[ "$PROG" = 1 ] && sysctl -w kernel.bpf_stats_enabled=1 >/dev/null
# without default runs lotto stays attached for all of its runs
# shellcheck disable=SC2086
[ "$DEF" = 1 ] || lotto_start $LOTTO_ARGS >/dev/null
i=1
while [ $i -le "$RUNS" ]; do
	if [ "$DEF" = 1 ]; then
		one_run default $i
		# shellcheck disable=SC2086
		lotto_start $LOTTO_ARGS >/dev/null
	fi
	one_run lotto $i
	[ "$DEF" = 1 ] && lotto_stop >/dev/null
	i=$((i + 1))
done
lotto_stop >/dev/null
kernel_log_clean || echo "WARNING: the kernel log has errors"
