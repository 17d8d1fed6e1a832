#!/usr/bin/env bash
# scripts/bench.sh — lotto's benchmark figures (printed, not pass/fail).
#
#   scripts/bench.sh [--seconds S] [--ratios "1 2 3 5 10 20"] [--hackbench-runs N]
#                    [--hackbench "-g 4 -l 100"] [--here]
#
# In ONE boot of the sched_ext kernel (scripts/vm.sh; or on this machine with
# --here, as root on a sched_ext kernel):
#   1. hackbench throughput under the kernel's default scheduler, then under
#      lotto: the median of N runs each and their ratio. Timings in a TCG VM
#      are emulated: only this ratio, measured in one boot, means anything.
#   2. accuracy: two CPU hogs pinned to one CPU with tickets r:1 for each
#      ratio, S seconds each (default 60), the observed CPU-time ratio next to
#      Waldspurger & Weihl's Mach prototype (OSDI '94: 10:1 observed 13.42:1,
#      20:1 observed 19.08:1) and the band an ideal lottery allows.
#
# Environment: LOTTO_BUILD (build directory, default ./build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LOTTO_BUILD=${LOTTO_BUILD:-$ROOT/build}
SECS=60 RATIOS="1 2 3 5 10 20" HB_RUNS=5 HB_ARGS="-g 4 -l 100" HERE=0
die() { echo "bench.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive integer"; SECS=$2; shift 2 ;;
	--ratios) [ $# -ge 2 ] && [[ $2 =~ ^[0-9\ ]+$ ]] || die "--ratios needs a list like \"1 2 3\""; RATIOS=$2; shift 2 ;;
	--hackbench-runs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--hackbench-runs needs a positive integer"; HB_RUNS=$2; shift 2 ;;
	--hackbench) [ $# -ge 2 ] || die "--hackbench needs hackbench's arguments"; HB_ARGS=$2; shift 2 ;;
	--here) HERE=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
done

if [ $HERE = 0 ]; then
	[ -x "$LOTTO_BUILD/bin/lotto-host" ] || die "no $LOTTO_BUILD/bin/lotto-host: build first (scripts/setup.sh)"
	nr=$(echo $RATIOS | wc -w)
	exec "$ROOT/scripts/vm.sh" --cpus 2 --timeout $(( nr * (SECS + 5) + 20 * HB_RUNS * 2 + 900 )) -- \
		env BENCH_SECONDS="$SECS" BENCH_RATIOS="$RATIOS" BENCH_HB_RUNS="$HB_RUNS" BENCH_HB_ARGS="$HB_ARGS" \
		sh "$ROOT/scripts/bench-vm.sh"
fi
[ -d /sys/kernel/sched_ext ] || die "--here needs a kernel with sched_ext (/sys/kernel/sched_ext)"
[ "$(id -u)" = 0 ] || die "--here needs root"
BENCH_SECONDS=$SECS BENCH_RATIOS=$RATIOS BENCH_HB_RUNS=$HB_RUNS BENCH_HB_ARGS=$HB_ARGS \
	exec sh "$ROOT/scripts/bench-vm.sh"
