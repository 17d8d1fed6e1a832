#!/usr/bin/env bash
# scripts/bench.sh — lotto's benchmark figures (printed, not pass/fail).
#
#   scripts/bench.sh [--seconds S] [--ratios "1 2 3 5 10 20"] [--hackbench-runs N]
#                    [--hackbench "-g 4 -l 100"] [--here]
#   scripts/bench.sh --latency [--runs N] [--seconds S] [--cpus N] [--lotto-args "..."]
#                    [--lotto-b PATH] [--here]
#   scripts/bench.sh --shares [--runs N] [--seconds S] [--cpus "2 4 8"] [--lotto-args "..."]
#                    [--lotto-b PATH]
#   scripts/bench.sh --cost [--runs N] [--seconds S] [--counts "10 100 1000 10000"]
#                    [--groups] [--lotto-args "..."] [--here]
#
# Without a mode (the accuracy benchmark):
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
# Modes, each in ONE boot, the default scheduler and lotto alternating (A B A
# B ...) N times (--runs, default 7; 3 for --cost) and reported as markdown
# tables of medians (min..max) and ratios (docs/benchmarks.md):
#   --latency  scripts/bench/latency.sh on --cpus (2) vCPUs: wake-up latency
#              p50/p99/p99.9 and requests/s at 1x and 2x CPUs workers,
#              hackbench x4, cyclictest, a priority task; S s per measure (8).
#              --lotto-b PATH: another lotto-host as a third scheduler in
#              the same rotation, as for --shares
#   --shares   scripts/bench/shares.sh, one boot per count in --cpus ("2 4 8"):
#              eight unpinned hogs, tickets 100..400 twice vs nice 0/-3/-5/-6,
#              S s per run (20); on 2 CPUs also 1000:1:1 (3 runs each).
#              --lotto-b PATH: another lotto-host (an earlier build) as a
#              third scheduler in the same rotation: two builds in one boot
#   --cost     scripts/bench/cost.sh on 2 vCPUs (2 GiB): ns per call of lotto's
#              programs (bpf_stats) at 10..10,000 runnable threads, the
#              guard's rescues/s, lotto-host RSS, BPF map memlock; for both
#              schedulers context switches/s, the wait for a CPU per
#              timeslice and CPU utilisation; S s per window (10).
#              --groups: also 10,000 threads in 1,000 groups (with hogs,
#              RCU stalls hang a 2-vCPU TCG VM under either scheduler: see
#              docs/benchmarks.md)
# --lotto-args: lotto-host settings for the lotto runs (default: its defaults).
#
# Environment: LOTTO_BUILD (build directory, default ./build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LOTTO_BUILD=${LOTTO_BUILD:-$ROOT/build}
SECS= RATIOS="1 2 3 5 10 20" HB_RUNS=5 HB_ARGS="-g 4 -l 100" HERE=0
MODE=accuracy RUNS= CPUS= COUNTS="10 100 1000 10000" GROUPS_RUN=0 LOTTO_ARGS= LOTTO_B=
die() { echo "bench.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--latency|--shares|--cost) MODE=${1#--}; shift ;;
	--runs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"; RUNS=$2; shift 2 ;;
	--cpus) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9\ ]*$ ]] || die "--cpus needs CPU counts like \"2 4 8\""; CPUS=$2; shift 2 ;;
	--counts) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9\ ]*$ ]] || die "--counts needs task counts like \"10 100\""; COUNTS=$2; shift 2 ;;
	--groups) GROUPS_RUN=1; shift ;;
	--lotto-args) [ $# -ge 2 ] || die "--lotto-args needs lotto-host's arguments"; LOTTO_ARGS=$2; shift 2 ;;
	--lotto-b) [ $# -ge 2 ] && [ -f "$2" ] && [ -x "$2" ] || die "--lotto-b needs an executable lotto-host"; LOTTO_B=$(realpath "$2"); shift 2 ;;
	--seconds) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive integer"; SECS=$2; shift 2 ;;
	--ratios) [ $# -ge 2 ] && [[ $2 =~ ^[0-9\ ]+$ ]] || die "--ratios needs a list like \"1 2 3\""; RATIOS=$2; shift 2 ;;
	--hackbench-runs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--hackbench-runs needs a positive integer"; HB_RUNS=$2; shift 2 ;;
	--hackbench) [ $# -ge 2 ] || die "--hackbench needs hackbench's arguments"; HB_ARGS=$2; shift 2 ;;
	--here) HERE=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
done

[ -z "$LOTTO_B" ] || [ $MODE = latency ] || [ $MODE = shares ] || die "--lotto-b goes with --latency or --shares"
[ $HERE = 1 ] || [ -x "$LOTTO_BUILD/bin/lotto-host" ] || die "no $LOTTO_BUILD/bin/lotto-host: build first (scripts/setup.sh)"
if [ $HERE = 1 ]; then
	[ -d /sys/kernel/sched_ext ] || die "--here needs a kernel with sched_ext (/sys/kernel/sched_ext)"
	[ "$(id -u)" = 0 ] || die "--here needs root"
fi
case $MODE in
latency)
	RUNS=${RUNS:-7} SECS=${SECS:-8} CPUS=${CPUS:-2}
	[[ $CPUS =~ ^[0-9]+$ ]] || die "--latency takes one --cpus count"
	scheds=2 add=()
	[ -n "$LOTTO_B" ] && scheds=3 add=(--add "$LOTTO_B")
	set -- env BENCH_RUNS="$RUNS" BENCH_SECONDS="$SECS" BENCH_LOTTO_ARGS="$LOTTO_ARGS" BENCH_LOTTO_B="$LOTTO_B" \
		sh "$ROOT/scripts/bench/latency.sh"
	[ $HERE = 1 ] && exec "$@"
	echo "# scripts/vm.sh --cpus $CPUS${LOTTO_B:+ --add $LOTTO_B}: scripts/bench/latency.sh, BENCH_RUNS=$RUNS BENCH_SECONDS=$SECS${LOTTO_B:+ BENCH_LOTTO_B=$LOTTO_B}"
	exec "$ROOT/scripts/vm.sh" --cpus "$CPUS" "${add[@]}" --timeout $(( RUNS * scheds * (4 * SECS + 240) + 900 )) -- "$@" ;;
shares)
	RUNS=${RUNS:-7} SECS=${SECS:-20} CPUS=${CPUS:-"2 4 8"}
	[ $HERE = 0 ] || die "--shares boots one VM per CPU count: no --here"
	rc=0 scheds=2 add=()
	[ -n "$LOTTO_B" ] && scheds=3 add=(--add "$LOTTO_B")
	for c in $CPUS; do
		inf=0
		[ "$c" = 2 ] && inf=3
		echo "# scripts/vm.sh --cpus $c${LOTTO_B:+ --add $LOTTO_B}: scripts/bench/shares.sh, BENCH_RUNS=$RUNS BENCH_SECONDS=$SECS BENCH_INF_RUNS=$inf${LOTTO_B:+ BENCH_LOTTO_B=$LOTTO_B}"
		"$ROOT/scripts/vm.sh" --cpus "$c" "${add[@]}" \
			--timeout $(( RUNS * scheds * (SECS + 180) + inf * scheds * (15 + 180) + 900 )) -- \
			env BENCH_RUNS="$RUNS" BENCH_SECONDS="$SECS" BENCH_INF_RUNS=$inf BENCH_LOTTO_ARGS="$LOTTO_ARGS" \
			BENCH_LOTTO_B="$LOTTO_B" sh "$ROOT/scripts/bench/shares.sh" || rc=$?
	done
	exit $rc ;;
cost)
	RUNS=${RUNS:-3} SECS=${SECS:-10}
	set -- env BENCH_RUNS="$RUNS" BENCH_SECONDS="$SECS" BENCH_COUNTS="$COUNTS" BENCH_GROUPS=$GROUPS_RUN \
		BENCH_LOTTO_ARGS="$LOTTO_ARGS" sh "$ROOT/scripts/bench/cost.sh"
	[ $HERE = 1 ] && exec "$@"
	chrt=$(command -v chrt) || die "no chrt: install util-linux (scripts/setup.sh)"
	nc=$(echo $COUNTS | wc -w)
	echo "# scripts/vm.sh --cpus 2 --mem 2048: scripts/bench/cost.sh, BENCH_RUNS=$RUNS BENCH_SECONDS=$SECS BENCH_COUNTS=\"$COUNTS\" BENCH_GROUPS=$GROUPS_RUN"
	exec "$ROOT/scripts/vm.sh" --cpus 2 --mem 2048 --add "$chrt" \
		--timeout $(( nc * RUNS * (2 * SECS + 300) + GROUPS_RUN * (SECS + 900) + 900 )) -- "$@" ;;
esac
SECS=${SECS:-60}

if [ $HERE = 0 ]; then
	nr=$(echo $RATIOS | wc -w)
	exec "$ROOT/scripts/vm.sh" --cpus 2 --timeout $(( nr * (SECS + 5) + 20 * HB_RUNS * 2 + 900 )) -- \
		env BENCH_SECONDS="$SECS" BENCH_RATIOS="$RATIOS" BENCH_HB_RUNS="$HB_RUNS" BENCH_HB_ARGS="$HB_ARGS" \
		sh "$ROOT/scripts/bench-vm.sh"
fi
BENCH_SECONDS=$SECS BENCH_RATIOS=$RATIOS BENCH_HB_RUNS=$HB_RUNS BENCH_HB_ARGS=$HB_ARGS \
	exec sh "$ROOT/scripts/bench-vm.sh"
