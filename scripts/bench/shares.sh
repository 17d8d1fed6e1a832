#!/bin/sh
# scripts/bench/shares.sh — shares of the machine on several CPUs, lotto
# against the kernel's default scheduler (EEVDF) with matching nice weights,
# alternating in one boot: default, lotto, default, lotto, ... BENCH_RUNS
# times each (>= 7 for figures). Run by `scripts/bench.sh --shares` (one VM
# boot per vCPU count) or on a sched_ext machine as root. busybox sh.
#
#   feasible   eight unpinned CPU hogs (lotto-burn), lotto tickets 100, 200,
#              300, 400 twice each; the default scheduler with nice 0, -3,
#              -5, -6 (weights 1024, 1991, 3121, 3906: 1 : 1.94 : 3.05 : 3.81).
#              BENCH_SECONDS s measured after 2 s of settling.
#   infeasible (BENCH_INF_RUNS > 0; scripts/bench.sh asks for it on 2 CPUs)
#              three hogs, lotto tickets 1000:1:1, default nice -20, 11, 11
#              (weights 88761 : 87 : 87 = 1020:1:1): the first is entitled to
#              one whole CPU, the others share the rest. BENCH_INF_SECONDS s.
#
# BENCH_LOTTO_B=PATH: another lotto-host (an earlier build, packed with
# scripts/vm.sh --add) run as a third scheduler in the same rotation
# (default, lotto, lotto-b, ...), same arguments: two lotto builds compared in
# one boot. It gets its own row in the worst-error tables.
#
# Share of a task: its CPU time (/proc/PID/schedstat delta) over the CPU time
# of all the hogs of the run. Ideal: the entitlement, tickets (weights) /
# sum, capped at one CPU with the surplus shared by tickets among the rest
# (for the default scheduler the same computed from its weights, which
# differ from the tickets by up to 5%). Error of a task: measured / ideal - 1;
# a run's worst error is the largest |error| over its tasks.
# Prints markdown tables: per ticket class the ideal and the median share
# (min..max over runs, each run's value the mean of the class's tasks), and
# the worst error per run, median (min..max).
RUNS=${BENCH_RUNS:-7}
SECS=${BENCH_SECONDS:-20}
INF_RUNS=${BENCH_INF_RUNS:-0}
INF_SECS=${BENCH_INF_SECONDS:-15}
LOTTO_ARGS=${BENCH_LOTTO_ARGS:-}
LOTTO_B=${BENCH_LOTTO_B:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/bench/settings.sh"
positive_ints shares.sh "BENCH_RUNS=$RUNS" "BENCH_SECONDS=$SECS" "BENCH_INF_SECONDS=$INF_SECS"
case $INF_RUNS in
'' | *[!0-9]* | 0?*) echo "shares.sh: BENCH_INF_RUNS must be 0 or a positive integer, not '$INF_RUNS'" >&2; exit 2 ;;
esac
if [ -n "$LOTTO_B" ] && [ ! -x "$LOTTO_B" ]; then
	echo "shares.sh: BENCH_LOTTO_B must be an executable lotto-host (packed with scripts/vm.sh --add), not '$LOTTO_B'" >&2
	exit 2
fi

. "$ROOT/tests/vm/lib.sh"
N=$(nproc)
OUT=/tmp/bench-shares
rm -rf $OUT && mkdir -p $OUT

TICKETS="100 200 300 400 100 200 300 400"
NICES="0 -3 -5 -6 0 -3 -5 -6"
INF_TICKETS="1000 1 1"
INF_NICES="-20 11 11"

# weight of a nice value (the kernel's sched_prio_to_weight)
weight() {
	echo "$1" | awk '{ split("88761 71755 56483 46273 36291 29154 23254 18705 14949 11916 9548 7620 6100 4904 3906 3121 2501 1991 1586 1277 1024 820 655 526 423 335 272 215 172 137 110 87 70 56 45 36 29 23 18 15", w, " ")
		print w[$1 + 21] }'
}

# snap PIDS: the uptime, then each pid's CPU time (ns, schedstat), read by
# one process, so that every task's window has the same ends. Read one awk
# (or lotto-ctl) per task, as before 2026-11-30, the eight windows were
# skewed by the time each read waited for a CPU under TCG: the default
# scheduler's worst error per run on 8 CPUs, 3.2% then, is 0.4-1.2% so.
snap() {
	_f=
	for _p in "$@"; do _f="$_f /proc/$_p/schedstat"; done
	# shellcheck disable=SC2086
	awk 'FNR == 1 { printf "%s%s", (NR > 1 ? " " : ""), $1 } END { printf "\n" }' /proc/uptime $_f
}

# one_run SCHED CASE "TICKETS" "NICES" SECONDS: start the hogs, weight them,
# measure; appends "share..." and "ideal..." lines to $OUT/SCHED.CASE
one_run() {
	_sched=$1 _case=$2 _tk=$3 _nc=$4 _secs=$5
	_pids=
	for _t in $_tk; do
		"$LOTTO_BURN" &
		_pids="$_pids $!"
		SPIN_PIDS="$SPIN_PIDS $!"
	done
	if [ "$_sched" != default ]; then
		_set=
		_i=1
		for _p in $_pids; do _set="$_set $_p $(echo $_tk | cut -d' ' -f$_i)"; _i=$((_i + 1)); done
		"$LOTTO_CTL" set $_set || fail "lotto-ctl set failed"
		_w=$_tk
	else
		_i=1
		_w=
		for _p in $_pids; do
			_n=$(echo $_nc | cut -d' ' -f$_i)
			renice -n "$_n" -p "$_p" >/dev/null || fail "renice $_n $_p failed"
			_w="$_w $(weight "$_n")"
			_i=$((_i + 1))
		done
	fi
	sleep 2
	# lotto's wins, read outside the CPU window (lotto-ctl is slow under TCG)
	[ "$_sched" != default ] && _w0=$(wins_of $_pids)
	_s0=$(snap $_pids)
	sleep "$_secs"
	_s1=$(snap $_pids)
	[ "$_sched" != default ] && _w1=$(wins_of $_pids)
	_t0=${_s0%% *} _c0=${_s0#* } _t1=${_s1%% *} _c1=${_s1#* }
	spin_stop $_pids
	# shares, ideal (water-filling: capped at one CPU, surplus by weight),
	# utilisation of the machine by the hogs
	awk -v w="$_w" -v c0="$_c0" -v c1="$_c1" -v cpus="$N" -v wall="$_t0 $_t1" "$AWK_ENTITLE"'BEGIN {
		m = split(w, t, " "); split(c0, a, " "); split(c1, b, " "); split(wall, tt, " ")
		for (i = 1; i <= m; i++) { c[i] = b[i] - a[i]; cs += c[i] }
		es = entitle(m, t, cpus, e)
		printf "share"; for (i = 1; i <= m; i++) printf " %.5f", c[i] / cs; printf "\n"
		printf "ideal"; for (i = 1; i <= m; i++) printf " %.5f", e[i] / es; printf "\n"
		printf "util %.4f\n", cs / 1e9 / ((tt[2] - tt[1]) * cpus)
	}' >>"$OUT/$_sched.$_case"
	[ "$_sched" != default ] && lottery_worst "$_w" "$N" "$_w0" "$_w1" >>"$OUT/$_sched.$_case"
}

# lotto_run NAME BIN CASE "TICKETS" "NICES" SECONDS: one_run under the
# lotto-host BIN (lotto: this build; lotto-b: $LOTTO_B), started and stopped
lotto_run() {
	_name=$1 _bin=$2
	shift 2
	# shellcheck disable=SC2086
	lotto_start_bin "$_bin" $LOTTO_ARGS >/dev/null
	one_run "$_name" "$@"
	lotto_stop >/dev/null
}

# wins_of PIDS: lotto's wins of these tasks so far (lotto-ctl dump)
wins_of() {
	"$LOTTO_CTL" dump | awk -v pids="$*" 'BEGIN { n = split(pids, p, " ") }
		NR > 1 { w[$1] = $8 }
		END { for (i = 1; i <= n; i++) printf " %s", (p[i] in w) ? w[p[i]] : 0; printf "\n" }'
}

# lottery_worst "TICKETS" CPUS "WINS BEFORE" "WINS AFTER": prints "band N W",
# W the median worst relative error of an ideal lottery that makes the same
# number of draws N (the wins of the run) with probabilities the
# entitlements: each share binomial, sd sqrt(p(1-p)/N), sampled 1001 times
# (normals as sums of 12 uniforms: busybox awk has rand but no log or cos).
lottery_worst() {
	awk -v tk="$1" -v cpus="$2" -v a="$3" -v b="$4" "$AWK_SQRT$AWK_ENTITLE"'
	BEGIN {
		m = split(tk, t, " "); split(a, w0, " "); split(b, w1, " ")
		for (i = 1; i <= m; i++) n += w1[i] - w0[i]
		es = entitle(m, t, cpus, e)
		for (i = 1; i <= m; i++) { p = e[i] / es; rsd[i] = n > 0 ? msqrt((1 - p) / (n * p)) : 0 }
		srand(7)
		for (r = 1; r <= 1001; r++) {
			worst = 0
			for (i = 1; i <= m; i++) {
				z = -6; for (k = 0; k < 12; k++) z += rand()
				x = z * rsd[i]; if (x < 0) x = -x; if (x > worst) worst = x
			}
			v[r] = worst
		}
		for (i = 2; i <= 1001; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		printf "band %d %.5f\n", n, v[501]
	}'
}

echo "# shares: kernel $(uname -r), $N CPUs, $RUNS runs each x ${SECS}s (+ $INF_RUNS infeasible x ${INF_SECS}s), alternating, lotto-host${LOTTO_ARGS:+ $LOTTO_ARGS}, $(date -u '+%Y-%m-%d %H:%M UTC')"
i=1
while [ $i -le "$RUNS" ]; do
	echo "# run $i/$RUNS: default"
	one_run default feasible "$TICKETS" "$NICES" "$SECS"
	echo "# run $i/$RUNS: lotto"
	lotto_run lotto "$LOTTO_HOST_BIN" feasible "$TICKETS" "$NICES" "$SECS"
	[ -z "$LOTTO_B" ] || { echo "# run $i/$RUNS: lotto-b"; lotto_run lotto-b "$LOTTO_B" feasible "$TICKETS" "$NICES" "$SECS"; }
	i=$((i + 1))
done
i=1
while [ $i -le "$INF_RUNS" ]; do
	echo "# infeasible run $i/$INF_RUNS: default"
	one_run default infeasible "$INF_TICKETS" "$INF_NICES" "$INF_SECS"
	echo "# infeasible run $i/$INF_RUNS: lotto"
	lotto_run lotto "$LOTTO_HOST_BIN" infeasible "$INF_TICKETS" "$INF_NICES" "$INF_SECS"
	[ -z "$LOTTO_B" ] || { echo "# infeasible run $i/$INF_RUNS: lotto-b"; lotto_run lotto-b "$LOTTO_B" infeasible "$INF_TICKETS" "$INF_NICES" "$INF_SECS"; }
	i=$((i + 1))
done
for f in $OUT/*; do echo "# raw $(basename $f):"; sed 's/^/#   /' "$f"; done

# table CASE "CLASS LABELS" "TASKS PER CLASS": per class, per scheduler, the
# ideal (median over runs: the same every run) and the measured median
# (min..max) of the class's mean share; then the worst |error| per run
table() {
	_case=$1
	echo
	echo "| tickets (nice) | lotto ideal | lotto measured: median (min..max) | default ideal | default measured: median (min..max) |"
	echo "| --- | --- | --- | --- | --- |"
	for _s in lotto default; do
		awk -v ncls="$2" '
		function med(v, n,   i, j, x) { for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
		$1 == "share" { r++; for (i = 2; i <= NF; i++) s[r, i - 1] = $i; m = NF - 1 }
		$1 == "ideal" { for (i = 2; i <= NF; i++) e[r, i - 1] = $i }
		END {
			for (k = 1; k <= ncls; k++) {
				for (q = 1; q <= r; q++) {
					a = 0; b = 0; n = 0
					for (i = k; i <= m; i += ncls) { a += s[q, i]; b += e[q, i]; n++ }
					v[q] = a / n; id[q] = b / n
				}
				lo = v[1]; hi = v[1]; for (q = 1; q <= r; q++) { if (v[q] < lo) lo = v[q]; if (v[q] > hi) hi = v[q] }
				printf "%d %.4f %.4f %.4f %.4f\n", k, id[1], med(v, r), lo, hi
			}
		}' "$OUT/$_s.$_case" >"$OUT/$_s.$_case.cls"
	done
	_k=1
	for _lab in $3; do
		set -- $(awk -v k=$_k '$1 == k { print $2, $3, $4, $5 }' "$OUT/lotto.$_case.cls") \
			$(awk -v k=$_k '$1 == k { print $2, $3, $4, $5 }' "$OUT/default.$_case.cls")
		echo "| $(echo "$_lab" | tr '_' ' ') | $1 | $2 ($3..$4) | $5 | $6 ($7..$8) |"
		_k=$((_k + 1))
	done
	echo
	echo "| scheduler | worst relative error per run: median (min..max) | ideal lottery with the same draws: median worst error (draws per run) | runs | hogs' use of the machine: median |"
	echo "| --- | --- | --- | --- | --- |"
	for _s in lotto ${LOTTO_B:+lotto-b} default; do
		awk -v s=$_s '
		function med(v, n,   i, j, x) { for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
		$1 == "share" { r++; for (i = 2; i <= NF; i++) sh[i - 1] = $i; m = NF - 1 }
		$1 == "ideal" { w = 0; for (i = 2; i <= NF; i++) { d = sh[i - 1] / $i - 1; if (d < 0) d = -d; if (d > w) w = d } err[r] = w }
		$1 == "util" { u[r] = $2 }
		$1 == "band" { nb++; bn[nb] = $2; bw[nb] = $3 }
		END {
			lo = err[1]; hi = err[1]; for (q = 1; q <= r; q++) { if (err[q] < lo) lo = err[q]; if (err[q] > hi) hi = err[q] }
			band = nb ? sprintf("%.1f%% (%d)", 100 * med(bw, nb), med(bn, nb)) : "-"
			printf "| %s | %.1f%% (%.1f%%..%.1f%%) | %s | %d | %.3f |\n", s, 100 * med(err, r), 100 * lo, 100 * hi, band, r, med(u, r) }' "$OUT/$_s.$_case"
	done
}

echo
echo "## $N CPUs: eight unpinned hogs, share of the hogs' CPU time"
table feasible 4 "100_(0) 200_(-3) 300_(-5) 400_(-6)"
if [ "$INF_RUNS" -gt 0 ]; then
	echo
	echo "## $N CPUs, infeasible: 1000:1:1 (nice -20, 11, 11)"
	table infeasible 3 "1000_(-20) 1_(11) 1_(11)"
fi
kernel_log_clean || echo "WARNING: the kernel log has errors"
