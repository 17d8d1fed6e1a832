#!/bin/sh
# scripts/bench/cost.sh — what a scheduling decision costs as the number of
# runnable tasks grows, and lotto's memory. Run by `scripts/bench.sh --cost`
# (one VM boot, 2 vCPUs) or on a sched_ext machine as root. busybox sh; needs
# chrt (util-linux: bench.sh packs it into the VM).
#
# For each count n in BENCH_COUNTS (10 100 1000 10000): one lotto-burn
# process with n threads (64 KiB stacks), each burning 1 ms of CPU and
# sleeping 1 ms (throttled hogs: they wake, so select_cpu runs; on 2 CPUs
# nearly all of them are runnable at any time). Then BENCH_RUNS times,
# alternating: the default scheduler for BENCH_SECONDS s (context switches/s
# from /proc/stat ctxt), lotto attached for BENCH_SECONDS s after 2 s of
# settling: with kernel.bpf_stats_enabled=1, run_time_ns / run_cnt of each of
# lotto's programs (struct_ops, sched_waking) over that window (`lotto-ctl progstats`
# before and after), the starvation guard's rescues/s, lotto-host's RSS and
# the memlock of the scheduler's BPF maps. For both schedulers: context
# switches/s, CPU utilisation (the measured threads' CPU time over the CPUs' time), the mean
# wait of a runnable task for a CPU per timeslice (/proc/schedstat run delay
# over timeslices, kept by the kernel for every class), and the runnable
# tasks (procs_running of /proc/stat, sampled every second, median).
# Last, groups at scale (BENCH_GROUPS=1; off by default: with hogs, RCU
# stalls hang a 2-vCPU TCG VM under either scheduler, see
# docs/benchmarks.md): 10,000 such threads of one process
# in 1,000 groups of 10: 512 policy groups (all the ABI has: gids 512..1023;
# lotto-ctl setgroup/fund, funded 100..400) and 488 threaded cgroups under
# /sys/fs/cgroup/swarm (cpu.weight 100..400), placed while the threads wait
# asleep (--start-file): lotto must stay enabled; the same per-program cost,
# RSS and memlock.
#
# This shell and lotto-host run SCHED_FIFO (chrt): with 10,000 runnable
# SCHED_OTHER threads a shell at nice 0 gets 1/10,000 of the CPU, and the
# BPF verifier (lotto_start) would take hours. SCHED_FIFO tasks are not
# scheduled by sched_ext; the measured threads are SCHED_OTHER (chrt -o).
# Times are TCG's emulated nanoseconds: compare them with each other, never
# with hardware.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/vm/lib.sh"

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
COUNTS=${BENCH_COUNTS:-"10 100 1000 10000"}
GROUPS_RUN=${BENCH_GROUPS:-0}
LOTTO_ARGS=${BENCH_LOTTO_ARGS:-}
BURN_ARGS="--run-us 1000 --sleep-us 1000"
PROGS="lotto_enqueue lotto_dispatch lotto_select_cp lotto_running lotto_stopping"
N=$(nproc)
OUT=/tmp/bench-cost
rm -rf $OUT && mkdir -p $OUT

command -v chrt >/dev/null || fail "no chrt (util-linux): scripts/bench.sh --cost packs it into the VM"
chrt -f -p 50 $$ >/dev/null || fail "cannot make this shell SCHED_FIFO"
echo 1 >/proc/sys/kernel/bpf_stats_enabled || fail "cannot set kernel.bpf_stats_enabled"
echo 200000 >/proc/sys/kernel/threads-max
echo 200000 >/proc/sys/kernel/pid_max 2>/dev/null
echo 262144 >/proc/sys/vm/max_map_count

ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }
now() { awk '{ print $1 }' /proc/uptime; }
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print 0 }'; }

# CPU time of the measured threads (the lotto-burn process $BURN: utime +
# stime of /proc/PID/stat, its threads' exact runtime in USER_HZ = 100 ticks
# per second, so ns). Not /proc/stat's busy time, which is tick-sampled and
# under TCG lost ticks of busy CPUs (traced: 1% idle where it said 9%), nor
# /proc/schedstat's per-CPU run time, which under sched_ext counted up to
# twice the wall time (1.985 x 2 CPUs at 1,000 threads under lotto, where the
# threads' own CPU time was 0.989). The run delay there (time tasks waited
# runnable) and its timeslices are right: 267 ms per timeslice at 1,000
# threads against lotto's own mean wait, 272 ms.
busytime() { awk '{ printf "%.0f\n", ($14 + $15) * 1e7 }' "/proc/$BURN/stat"; }
rundelay() { awk '/^cpu[0-9]/ { d += $9; n += $10 } END { printf "%.0f %.0f\n", d, n }' /proc/schedstat; }

# window TAG SECS: sleep SECS sampling procs_running each second; appends
# "ctxt_per_s", "runnable" (median of samples), "util" (the measured threads'
# CPU time over N x the window) and "wait_ms" (mean wait of a runnable
# task for a CPU, per timeslice: run delay over timeslices) to $OUT/TAG
window() {
	_c0=$(ctxt) _u0=$(busytime) _d0=$(rundelay) _t0=$(now)
	: >/tmp/runnable.samples
	_k=0
	while [ $_k -lt "$2" ]; do
		sleep 1
		awk '$1 == "procs_running" { print $2 }' /proc/stat >>/tmp/runnable.samples
		_k=$((_k + 1))
	done
	_c1=$(ctxt) _u1=$(busytime) _d1=$(rundelay) _t1=$(now)
	echo "ctxt_per_s $(awk -v a=$_c0 -v b=$_c1 -v s=$_t0 -v e=$_t1 'BEGIN { printf "%.0f", (b - a) / (e - s) }')" >>"$OUT/$1"
	echo "runnable $(med </tmp/runnable.samples)" >>"$OUT/$1"
	awk -v a="$_u0" -v b="$_u1" -v s=$_t0 -v e=$_t1 -v n=$N 'BEGIN { printf "util %.3f\n", (b - a) / ((e - s) * 1e9 * n) }' >>"$OUT/$1"
	echo "$_d0 $_d1" | awk '{ printf "wait_ms %.3f\n", ($4 - $2 > 0 ? ($3 - $1) / ($4 - $2) / 1e6 : 0) }' >>"$OUT/$1"
}

# lotto_window TAG SECS: progstats before and after a window; per program
# "ns_per_run NAME X" and "runs_per_s NAME Y"; rescues_per_s (the starvation
# guard's, whose walk of the shared DSQ is O(n)); then rss_kb and memlock
lotto_window() {
	"$LOTTO_CTL" progstats >/tmp/ps0 || fail "lotto-ctl progstats failed"
	_r0=$(stat_of rescues)
	_w0=$(now)
	window "$1" "$2"
	_w1=$(now)
	"$LOTTO_CTL" progstats >/tmp/ps1 || fail "lotto-ctl progstats failed"
	_r1=$(stat_of rescues)
	echo "rescues_per_s $(awk -v a="$_r0" -v b="$_r1" -v s=$_w0 -v e=$_w1 'BEGIN { printf "%.1f", (b - a) / (e - s) }')" >>"$OUT/$1"
	for _p in $PROGS; do
		awk -v p=$_p -v s=$_w0 -v e=$_w1 -v tag="$1" '
			function kv(k,   i, a) { for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return 0 }
			FNR == 1 { f++ } $1 == "prog" && $2 == p { c[f] = kv("run_cnt"); t[f] = kv("run_time_ns") }
			END { dc = c[2] - c[1]; dt = t[2] - t[1]
				printf "ns_per_run %s %.1f\nruns_per_s %s %.0f\n", p, (dc > 0 ? dt / dc : 0), p, dc / (e - s) }' /tmp/ps0 /tmp/ps1 >>"$OUT/$1"
	done
	echo "rss_kb $(awk '/^VmRSS:/ { print $2 }' /proc/$LOTTO_PID/status)" >>"$OUT/$1"
	echo "memlock $(awk '$1 == "maps" { split($3, a, "="); print a[2] }' /tmp/ps1)" >>"$OUT/$1"
	if [ ! -f $OUT/progstats.sample ]; then cp /tmp/ps1 $OUT/progstats.sample; fi
}

# lotto_up/lotto_down: attach and detach (lotto-host inherits this shell's
# SCHED_FIFO) with the measured threads stopped (SIGSTOP; $1 = their
# process), then 2 s of settling. Under the default scheduler 10,000 runnable
# threads on 2 TCG vCPUs take turns of about 20 s (each runs a 4 ms tick), so
# a thread preempted inside an RCU read-side section stalls grace periods
# (the kernel reports RCU stalls), and lotto-host's attach waits in
# synchronize_srcu (the tracepoint link) for minutes; traced, 2026-12-01.
# stop_all PID: SIGSTOP, then wait until every thread has stopped (each must
# run once to stop: up to a round of the default scheduler's)
stop_all() {
	kill -STOP "$1"
	wait_for 120 awk '$3 != "T" { exit 1 }' /proc/"$1"/task/*/stat || fail "the threads of $1 did not all stop in 120 s"
}
lotto_up() {
	[ -z "$1" ] || stop_all "$1"
	# shellcheck disable=SC2086
	lotto_start $LOTTO_ARGS >/dev/null
	[ -z "$1" ] || kill -CONT "$1"
	sleep 2
}
lotto_down() {
	lotto_attached || fail "lotto is no longer attached: state $(scx_state)"
	[ -z "$1" ] || stop_all "$1"
	lotto_stop >/dev/null
	[ -z "$1" ] || kill -CONT "$1"
	sleep 2
}

echo "# cost: kernel $(uname -r), $N CPUs, counts $COUNTS, $RUNS runs each x ${SECS}s, alternating, lotto-host${LOTTO_ARGS:+ $LOTTO_ARGS}, $(date -u '+%Y-%m-%d %H:%M UTC')"
for n in $COUNTS; do
	rm -f /tmp/tids
	# shellcheck disable=SC2086
	chrt -o 0 "$LOTTO_BURN" --threads $n $BURN_ARGS --tids /tmp/tids &
	BURN=$!
	SPIN_PIDS="$SPIN_PIDS $BURN"
	wait_for 300 test -f /tmp/tids || fail "lotto-burn --threads $n did not start"
	[ "$(wc -l </tmp/tids)" = "$n" ] || fail "lotto-burn started $(wc -l </tmp/tids) threads, not $n"
	sleep 2
	r=1
	while [ $r -le "$RUNS" ]; do
		echo "# n=$n run $r/$RUNS: default ($(now) s after boot)"
		window "default.$n" "$SECS"
		echo "# n=$n run $r/$RUNS: lotto ($(now) s after boot)"
		lotto_up $BURN
		lotto_window "lotto.$n" "$SECS"
		lotto_down $BURN
		r=$((r + 1))
	done
	spin_stop $BURN
done

if [ "$GROUPS_RUN" = 1 ]; then
	echo "# groups: one process of 10,000 threads: 4,880 in 488 threaded cgroups, 5,120 in 512 policy groups"
	rm -f /tmp/tids /tmp/go
	grep -q cpu "$CG/cgroup.subtree_control" || echo +cpu >"$CG/cgroup.subtree_control" || fail "no cpu controller"
	mkdir -p "$CG/swarm" || fail "cannot make cgroup swarm"
	# its threads wait for /tmp/go (asleep) while they are placed
	# shellcheck disable=SC2086
	chrt -o 0 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' cg "$CG/swarm" \
		"$LOTTO_BURN" --threads 10000 $BURN_ARGS --tids /tmp/tids --start-file /tmp/go &
	BURN=$!
	SPIN_PIDS="$SPIN_PIDS $BURN"
	wait_for 300 test -f /tmp/tids || fail "lotto-burn --threads 10000 did not start"
	echo "# $(date -u +%T) placing threads in cgroups"
	i=0
	while [ $i -lt 488 ]; do
		mkdir -p "$CG/swarm/t$i" && echo threaded >"$CG/swarm/t$i/cgroup.type" || fail "cannot make threaded cgroup t$i"
		i=$((i + 1))
	done
	echo +cpu >"$CG/swarm/cgroup.subtree_control" || fail "cannot enable cpu in swarm's threaded subtree"
	i=0
	while [ $i -lt 488 ]; do echo $((100 * (1 + i % 4))) >"$CG/swarm/t$i/cpu.weight" || fail "cpu.weight of t$i"; i=$((i + 1)); done
	# threads 5121..10000 -> cgroup t((k - 5121) / 10)
	awk 'NR > 5120 { printf "%s %d\n", $1, int((NR - 5121) / 10) }' /tmp/tids >/tmp/tids.cg
	while read -r tid g; do echo "$tid" >"$CG/swarm/t$g/cgroup.threads" || fail "cannot move thread $tid to t$g"; done </tmp/tids.cg
	echo "# $(date -u +%T) attaching lotto"
	lotto_up
	# threads 1..5120 -> policy group 512 + k % 512, funded 100..400
	set -- $(awk 'NR <= 5120 { printf "%s %d ", $1, 512 + (NR - 1) % 512 }' /tmp/tids)
	"$LOTTO_CTL" --wait 30000 setgroup "$@" || fail "lotto-ctl setgroup failed"
	set -- $(awk 'BEGIN { for (g = 512; g < 1024; g++) printf "%d %d ", g, 100 * (1 + g % 4) }')
	"$LOTTO_CTL" fund "$@" || fail "lotto-ctl fund failed"
	echo "# $(date -u +%T) go"
	touch /tmp/go
	sleep 5
	lotto_window groups "$SECS"
	"$LOTTO_CTL" groups >/tmp/groups.txt || fail "lotto-ctl groups failed"
	echo "groups_cgroup $(awk '$2 == "cgroup"' /tmp/groups.txt | wc -l)" >>$OUT/groups
	echo "groups_policy $(awk '$2 == "policy"' /tmp/groups.txt | wc -l)" >>$OUT/groups
	echo "rescues $(stat_of rescues)" >>$OUT/groups
	echo "no_group $(stat_of no_group)" >>$OUT/groups
	lotto_attached && echo "enabled yes" >>$OUT/groups || echo "enabled NO ($(scx_state))" >>$OUT/groups
	lotto_stop >/dev/null
	spin_stop $BURN
fi
for f in $OUT/*; do echo "# raw $(basename $f):"; sed 's/^/#   /' "$f"; done

# stat FILE KEY [NAME]: median (min..max) of a key's values
mstat() {
	if [ -n "$3" ]; then awk -v k="$2" -v n="$3" '$1 == k && $2 == n { print $3 }' "$1"; else awk -v k="$2" '$1 == k { print $2 }' "$1"; fi |
		sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "- - -"; exit } printf "%g %g %g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
}
cell() { set -- $(mstat "$@"); echo "$1 ($2..$3)"; }

first=$(echo $COUNTS | awk '{ print $1 }')
echo
echo "## Cost per call of lotto's programs (ns of TCG time, run_time_ns / run_cnt; median (min..max) of $RUNS runs)"
echo
printf '| program |'; for n in $COUNTS; do printf ' n=%s |' "$n"; done
[ "$GROUPS_RUN" = 1 ] && printf ' 10,000 in 1,000 groups |'
for n in $COUNTS; do [ "$n" = "$first" ] || printf ' n=%s / n=%s |' "$n" "$first"; done
echo
printf '| --- |'; for n in $COUNTS; do printf ' --- |'; done; [ "$GROUPS_RUN" = 1 ] && printf ' --- |'
for n in $COUNTS; do [ "$n" = "$first" ] || printf ' --- |'; done
echo
for p in $PROGS; do
	printf '| %s |' "$p"
	for n in $COUNTS; do printf ' %s |' "$(cell $OUT/lotto.$n ns_per_run $p)"; done
	[ "$GROUPS_RUN" = 1 ] && printf ' %s |' "$(cell $OUT/groups ns_per_run $p)"
	a=$(mstat $OUT/lotto.$first ns_per_run $p | awk '{ print $1 }')
	for n in $COUNTS; do
		[ "$n" = "$first" ] && continue
		b=$(mstat $OUT/lotto.$n ns_per_run $p | awk '{ print $1 }')
		awk -v a="$a" -v b="$b" 'BEGIN { printf " %s |", (a > 0 ? sprintf("%.2f", b / a) : "-") }'
	done
	echo
done
echo
echo "## Calls/s, context switches/s, runnable tasks, memory"
echo
echo "| n | runnable (procs_running): default / lotto | ctxt/s default | ctxt/s lotto | lotto / default | dispatch calls/s | enqueue calls/s | guard rescues/s | lotto-host RSS (KiB) | BPF maps memlock (KiB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for n in $COUNTS; do
	set -- $(mstat $OUT/default.$n ctxt_per_s) $(mstat $OUT/lotto.$n ctxt_per_s)
	ratio=$(awk -v a="$1" -v b="$4" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
	echo "| $n | $(mstat $OUT/default.$n runnable | cut -d' ' -f1) / $(mstat $OUT/lotto.$n runnable | cut -d' ' -f1) | $1 ($2..$3) | $4 ($5..$6) | $ratio | $(mstat $OUT/lotto.$n runs_per_s lotto_dispatch | cut -d' ' -f1) | $(mstat $OUT/lotto.$n runs_per_s lotto_enqueue | cut -d' ' -f1) | $(cell $OUT/lotto.$n rescues_per_s) | $(mstat $OUT/lotto.$n rss_kb | cut -d' ' -f1) | $(mstat $OUT/lotto.$n memlock | awk '{ printf "%.0f", $1 / 1024 }') |"
done
if [ "$GROUPS_RUN" = 1 ]; then
	echo "| 10,000 in 1,000 groups | - / $(mstat $OUT/groups runnable | cut -d' ' -f1) | - | $(mstat $OUT/groups ctxt_per_s | cut -d' ' -f1) | - | $(mstat $OUT/groups runs_per_s lotto_dispatch | cut -d' ' -f1) | $(mstat $OUT/groups runs_per_s lotto_enqueue | cut -d' ' -f1) | $(cell $OUT/groups rescues_per_s) | $(mstat $OUT/groups rss_kb | cut -d' ' -f1) | $(mstat $OUT/groups memlock | awk '{ printf "%.0f", $1 / 1024 }') |"
	echo
	echo "groups run: $(awk '$1 == "groups_cgroup" { print $2 }' $OUT/groups) cgroup groups and $(awk '$1 == "groups_policy" { print $2 }' $OUT/groups) policy groups in lotto_groups; lotto still enabled at the end: $(awk '$1 == "enabled" { $1 = ""; print }' $OUT/groups); rescues (starvation guard, since attach): $(awk '$1 == "rescues" { print $2 }' $OUT/groups); cgroups left in the root group (no gid free): $(awk '$1 == "no_group" { print $2 }' $OUT/groups)"
fi
echo
echo "## Wait for a CPU and CPU utilisation"
echo
echo "| n | wait per timeslice (ms): default | lotto | lotto / default | utilisation: default | lotto |"
echo "| --- | --- | --- | --- | --- | --- |"
for n in $COUNTS; do
	a=$(mstat $OUT/default.$n wait_ms | cut -d' ' -f1) b=$(mstat $OUT/lotto.$n wait_ms | cut -d' ' -f1)
	echo "| $n | $(cell $OUT/default.$n wait_ms) | $(cell $OUT/lotto.$n wait_ms) | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%s", (a > 0 ? sprintf("%.2f", b / a) : "-") }') | $(cell $OUT/default.$n util) | $(cell $OUT/lotto.$n util) |"
done
kernel_log_clean || echo "WARNING: the kernel log has errors"
