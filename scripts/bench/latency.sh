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
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/vm/lib.sh"

RUNS=${BENCH_RUNS:-7}
LOTTO_ARGS=${BENCH_LOTTO_ARGS:-}	# lotto-host settings to compare (default: its defaults)
SECS=${BENCH_SECONDS:-8}
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
	if [ "$1" = lotto ]; then
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

echo "# latency: kernel $(uname -r), $N CPUs, $RUNS runs each, alternating, lotto-host${LOTTO_ARGS:+ $LOTTO_ARGS}, $(date -u '+%Y-%m-%d %H:%M UTC')"
i=1
while [ $i -le "$RUNS" ]; do
	echo "# run $i/$RUNS: default"
	measure default
	# shellcheck disable=SC2086
	lotto_start $LOTTO_ARGS >/dev/null
	echo "# run $i/$RUNS: lotto $LOTTO_ARGS"
	measure lotto
	lotto_stop >/dev/null
	i=$((i + 1))
done

# median (min..max) of a metric's values
summary() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%s %s %s\n", m, v[1], v[NR] }'; }
for f in $OUT/*; do echo "# raw $(basename $f): $(tr '\n' ' ' <"$f")"; done
echo
echo "| measure | default: median (min..max) | lotto: median (min..max) | lotto / default |"
echo "| --- | --- | --- | --- |"
for f in $(ls $OUT | sed 's/^[a-z]*\.//' | sort -u); do
	set -- $(summary "$OUT/default.$f") $(summary "$OUT/lotto.$f")
	awk -v f="$f" -v dm="$1" -v dl="$2" -v dh="$3" -v lm="$4" -v ll="$5" -v lh="$6" 'BEGIN {
		printf "| %s | %g (%g..%g) | %g (%g..%g) | %.2f |\n", f, dm, dl, dh, lm, ll, lh, (dm > 0 ? lm / dm : 0) }'
done
kernel_log_clean || echo "WARNING: the kernel log has errors"
