#!/bin/sh
# scripts/bench/latency.sh — wake-up latency and throughput, the kernel's
# default scheduler (EEVDF) against lotto at its defaults, alternating in one
# boot: default, lotto, default, lotto, ... BENCH_RUNS times each (>= 7 for
# figures). Run by scripts/bench.sh (in the VM) or on a sched_ext machine as
# root. busybox sh compatible. Per run and scheduler:
#   wake N    lotto-wakebench --workers N (N = CPUs, then 2 x CPUs), BENCH_SECONDS
#             s: wake-up latency p50/p99/p99.9 (us) and requests/s
#   hackbench hackbench -g 4 -l 100, processes/threads x pipes/sockets (s)
#   cyclictest cyclictest -p 0 (SCHED_OTHER: the scheduler under test runs it),
#             one thread, 1 ms interval, BENCH_SECONDS s: p50/p99/max (us)
#   priority  2 x CPUs unpinned CPU hogs and one sleeper (200 us of CPU every
#             3 ms) with 10x a hog's weight: lotto tickets 1000 vs 100; the
#             default scheduler nice -10 vs 0 (weights 9548 vs 1024): how
#             late the sleeper runs after each sleep, p50/p99 (us)
# Prints a markdown table: median (min..max) per scheduler and the ratio
# lotto / default of the medians.
#
# BENCH_LOTTO_B=PATH: another lotto-host (an earlier build, packed with
# scripts/vm.sh --add) run as a third scheduler in the same rotation
# (default, lotto, lotto-b, ...), same arguments: two lotto builds compared in
# one boot. Its column and the ratio lotto-b / lotto follow.
RUNS=${BENCH_RUNS:-7}
LOTTO_ARGS=${BENCH_LOTTO_ARGS:-}	# lotto-host settings to compare (default: its defaults)
SECS=${BENCH_SECONDS:-8}
LOTTO_B=${BENCH_LOTTO_B:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/bench/settings.sh"
positive_ints latency.sh "BENCH_RUNS=$RUNS" "BENCH_SECONDS=$SECS"
if [ -n "$LOTTO_B" ] && [ ! -x "$LOTTO_B" ]; then
	echo "latency.sh: BENCH_LOTTO_B must be an executable lotto-host (packed with scripts/vm.sh --add), not '$LOTTO_B'" >&2
	exit 2
fi

. "$ROOT/tests/vm/lib.sh"
N=$(nproc)
WB=$LOTTO_BUILD/bin/lotto-wakebench
OUT=/tmp/bench-latency
rm -rf $OUT && mkdir -p $OUT

put() { echo "$3" >>"$OUT/$1.$2"; }	# put SCHED METRIC VALUE
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

wake() {	# wake SCHED WORKERS
	_r=$("$WB" --workers "$2" --seconds "$SECS") || fail "lotto-wakebench failed"
	for _k in p50_us p99_us p999_us requests_per_s; do put "$1" "wake$2.$_k" "$(kv "$_r" $_k)"; done
}

hb() {	# hb SCHED NAME ARGS...
	_s=$1 _n=$2
	shift 2
	_t=$(hackbench -g 4 -l 100 "$@" 2>&1 | awk '/^Time:/ { print $2 }')
	[ -n "$_t" ] || fail "hackbench $* reported no time"
	put "$_s" "hackbench.$_n" "$_t"
}

cyclic() {	# cyclic SCHED: p50/p99/max from cyclictest's histogram
	cyclictest -p 0 --policy=other -t 1 -i 1000 -D "$SECS" -q -h 20000 >/tmp/cyc.out 2>&1 ||
		fail "cyclictest failed: $(head -n 3 /tmp/cyc.out)"
	# busybox awk reads 000012 as octal: strip the zeros first
	set -- $(awk 'function num(s) { sub(/^0+/, "", s); return s + 0 }
		/^[0-9]+[ \t]+[0-9]+/ { n[num($1)] = num($2); tot += num($2) } /^# Max Latencies/ { mx = num($NF) }
		END { c = 0; for (i = 0; i <= 20000; i++) if (i in n) { c += n[i]
			if (!p50 && c >= tot * 0.5) p50 = i; if (!p99 && c >= tot * 0.99) p99 = i }
			print p50 + 0, p99 + 0, mx }' /tmp/cyc.out)
	put "$SCHED" cyclic.p50_us "$1"
	put "$SCHED" cyclic.p99_us "$2"
	put "$SCHED" cyclic.max_us "$3"
}

priority() {	# priority SCHED
	_hogs=
	_i=0
	while [ $_i -lt $((2 * N)) ]; do
		"$LOTTO_BURN" &
		_hogs="$_hogs $!"
		SPIN_PIDS="$SPIN_PIDS $!"
		_i=$((_i + 1))
	done
	rm -f /tmp/prio.txt
	"$LOTTO_BURN" --run-us 200 --sleep-us 3000 --report /tmp/prio.txt &
	_s=$!
	SPIN_PIDS="$SPIN_PIDS $_s"
	if [ "$1" != default ]; then
		_set="$_s 1000"
		for _h in $_hogs; do _set="$_set $_h 100"; done
		"$LOTTO_CTL" set $_set || fail "lotto-ctl set failed"
	else
		renice -n -10 -p "$_s" >/dev/null || fail "renice failed"
	fi
	sleep $((SECS + 1))
	spin_stop $_s $_hogs
	_r=$(cat /tmp/prio.txt)
	put "$1" priority.p50_us "$(kv "$_r" p50_us)"
	put "$1" priority.p99_us "$(kv "$_r" p99_us)"
}

measure() {	# measure SCHED
	SCHED=$1
	wake "$1" "$N"
	wake "$1" $((2 * N))
	hb "$1" proc-pipe -p
	hb "$1" proc-sock
	hb "$1" thread-pipe -T -p
	hb "$1" thread-sock -T
	cyclic
	priority "$1"
}

# lotto_run NAME BIN: measure NAME under the lotto-host BIN, started and stopped
lotto_run() {
	# shellcheck disable=SC2086
	lotto_start_bin "$2" $LOTTO_ARGS >/dev/null
	echo "# run $i/$RUNS: $1${LOTTO_ARGS:+ $LOTTO_ARGS}"
	measure "$1"
	lotto_stop >/dev/null
}

echo "# latency: kernel $(uname -r), $N CPUs, $RUNS runs each, alternating, lotto-host${LOTTO_ARGS:+ $LOTTO_ARGS}${LOTTO_B:+, lotto-b $LOTTO_B}, $(date -u '+%Y-%m-%d %H:%M UTC')"
i=1
while [ $i -le "$RUNS" ]; do
	echo "# run $i/$RUNS: default"
	measure default
	lotto_run lotto "$LOTTO_HOST_BIN"
	[ -z "$LOTTO_B" ] || lotto_run lotto-b "$LOTTO_B"
	i=$((i + 1))
done

# median (min..max) of a metric's values
summary() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%s %s %s\n", m, v[1], v[NR] }'; }
for f in $OUT/*; do echo "# raw $(basename $f): $(tr '\n' ' ' <"$f")"; done
echo
if [ -z "$LOTTO_B" ]; then
	echo "| measure | default: median (min..max) | lotto: median (min..max) | lotto / default |"
	echo "| --- | --- | --- | --- |"
else
	echo "| measure | default: median (min..max) | lotto: median (min..max) | lotto-b: median (min..max) | lotto / default | lotto-b / default | lotto-b / lotto |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
fi
for f in $(ls $OUT | sed 's/^[a-z-]*\.//' | sort -u); do
	set -- $(summary "$OUT/default.$f") $(summary "$OUT/lotto.$f")
	[ -z "$LOTTO_B" ] || set -- "$@" $(summary "$OUT/lotto-b.$f")
	awk -v f="$f" -v b="$LOTTO_B" -v dm="$1" -v dl="$2" -v dh="$3" -v lm="$4" -v ll="$5" -v lh="$6" \
		-v bm="${7:-0}" -v bl="${8:-0}" -v bh="${9:-0}" '
		function r(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
		BEGIN {
		if (b == "")
			printf "| %s | %g (%g..%g) | %g (%g..%g) | %s |\n", f, dm, dl, dh, lm, ll, lh, r(lm, dm)
		else
			printf "| %s | %g (%g..%g) | %g (%g..%g) | %g (%g..%g) | %s | %s | %s |\n", f, dm, dl, dh, lm, ll, lh,
				bm, bl, bh, r(lm, dm), r(bm, dm), r(bm, lm) }'
done
kernel_log_clean || echo "WARNING: the kernel log has errors"
