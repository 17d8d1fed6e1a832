#!/bin/sh
# scripts/bench-vm.sh — the body of scripts/bench.sh, run on the sched_ext
# kernel (in the VM, or with bench.sh --here). busybox sh compatible.
# Settings come from bench.sh: BENCH_SECONDS, BENCH_RATIOS, BENCH_HB_RUNS,
# BENCH_HB_ARGS.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/vm/lib.sh"

SECS=${BENCH_SECONDS:-60}
RATIOS=${BENCH_RATIOS:-"1 2 3 5 10 20"}
HB_RUNS=${BENCH_HB_RUNS:-5}
HB_ARGS=${BENCH_HB_ARGS:-"-g 4 -l 100"}
SLICE_US=20000

echo "lotto benchmark: kernel $(uname -r), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"

# median of hackbench's "Time:" over HB_RUNS runs, in seconds
hackbench_median() {
	_i=0
	: >/tmp/hb.times
	while [ $_i -lt "$HB_RUNS" ]; do
		# shellcheck disable=SC2086
		hackbench $HB_ARGS 2>&1 | awk '/^Time:/ { print $2 }' >>/tmp/hb.times
		_i=$((_i + 1))
	done
	[ "$(wc -l </tmp/hb.times)" = "$HB_RUNS" ] || fail "hackbench did not report its time"
	sort -n /tmp/hb.times | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "== hackbench $HB_ARGS, median of $HB_RUNS runs (seconds; lower is better)"
hb_default=$(hackbench_median)
echo "default scheduler: $hb_default s  (runs: $(tr '\n' ' ' </tmp/hb.times))"
lotto_start --slice-us $SLICE_US
hb_lotto=$(hackbench_median)
echo "lotto:             $hb_lotto s  (runs: $(tr '\n' ' ' </tmp/hb.times))"
awk -v d="$hb_default" -v l="$hb_lotto" 'BEGIN {
	printf "throughput under lotto = %.2f x the default scheduler (time ratio default/lotto)\n", d / l }'

echo
echo "== accuracy: two CPU hogs pinned to CPU 0, ${SECS} s per ratio, slice $((SLICE_US / 1000)) ms"
printf '%-8s %10s %10s %7s %8s %8s %17s %s\n' tickets "observed" "wins" draws share z "4.5-sigma band" "Mach (W&W '94)"
for r in $RATIOS; do
	pair_run $((100 * r)) 100 "$SECS"
	set -- $(lottery_band $((100 * r)) 100 $PAIR_CPU_A $PAIR_CPU_B $PAIR_WINS_A $PAIR_WINS_B $SLICE_US 4.5)
	case $r in 10) mach="13.42:1" ;; 20) mach="19.08:1" ;; *) mach="-" ;; esac
	awk -v r="$r" -v ca=$PAIR_CPU_A -v cb=$PAIR_CPU_B -v wa=$PAIR_WINS_A -v wb=$PAIR_WINS_B \
		-v n="$3" -v s="$2" -v z="$5" -v lo="$6" -v hi="$7" -v mach="$mach" 'BEGIN {
		blo = lo / (1 - lo); bhi = hi < 1 ? hi / (1 - hi) : 1e9
		printf "%3d:1    %8.2f:1 %8.2f:1 %7d %8.4f %8.2f  %6.2f..%-7.2f  %s\n",
			r, ca / cb, (wb ? wa / wb : 0), n, s, z, blo, bhi, mach }'
done
lotto_stop
echo "(observed: CPU-time ratio from /proc/PID/schedstat; wins: ratio of draws won;"
echo " band: the CPU ratios an ideal lottery reaches with 4.5-sigma confidence for that many draws)"
kernel_log_clean || echo "WARNING: the kernel log has errors (above)"
