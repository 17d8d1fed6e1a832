# tests/vm/lib.sh — shared by the in-VM scripts (tests/vm/*.sh, scripts/demo.sh,
# scripts/bench.sh). busybox sh, sourced, run as root inside scripts/vm.sh.
#
#   lotto_start [ARGS]   start build/bin/lotto-host ARGS, wait until attached
#   lotto_stop           SIGTERM it, check it exited 0 and lotto is disabled
#   spin CPU [ARGS]      start lotto-burn ARGS pinned to CPU; pid in $SPIN_PID
#   cpu_ns PID           CPU time of a thread so far, ns (/proc/PID/schedstat)
#   delay_ns PID         time it spent runnable but waiting, ns (schedstat)
#   field PID NAME       one field of `lotto-ctl get PID` (wins, runtime_ns, ...)
#   pair_run A B SECS    two pinned hogs with tickets A:B, measured (see below)
#   lottery_band ...     A's CPU share against an ideal lottery's band
#   hogs TICKETS...      start unpinned hogs with these tickets; pids in $HOG_PIDS
#   snapshot PIDS        "CPU_NS... | WINS..." of these threads, now
#   entitlement_check .. shares of unpinned tasks against tickets / sum, capped
#   kernel_log_clean     no BUG/WARNING/oops/stall/error exit in dmesg
#   rpc_start/rpc_wait   the paper's client-server case (lotto-rpc), see below
#   check COND MSG       fail with MSG unless the awk condition COND is true
#   fail MSG             print MSG, lotto-host's log and sched_ext state; exit 1
# $AWK_SQRT is an awk msqrt() function: busybox-static's awk has no math.
# Settings reach a script through the environment: scripts/vm.sh passes none
# from the host, so use `scripts/vm.sh -- env VAR=X sh tests/vm/NAME.sh`.

LOTTO_BUILD=${LOTTO_BUILD:-${LOTTO_ROOT:-$(pwd)}/build}
LOTTO_HOST_BIN=$LOTTO_BUILD/bin/lotto-host
LOTTO_CTL=$LOTTO_BUILD/bin/lotto-ctl
LOTTO_BURN=$LOTTO_BUILD/bin/lotto-burn
SCX=/sys/kernel/sched_ext
LOTTO_LOG=/tmp/lotto-host.log
LOTTO_PID=
SPIN_PIDS=

say() { echo "# $*"; }

fail() {
	echo "FAIL: $*"
	if [ -s "$LOTTO_LOG" ]; then
		echo "--- lotto-host log (last lines)"
		tail -n 20 "$LOTTO_LOG"
	fi
	echo "--- sched_ext: state=$(scx_state) ops=$(scx_ops)"
	dmesg | grep -E 'sched_ext|BUG:|WARNING:|Oops' | tail -n 20
	exit 1
}

scx_state() { cat "$SCX/state" 2>/dev/null || echo none; }
scx_ops() { cat "$SCX/root/ops" 2>/dev/null || true; }

for _b in "$LOTTO_HOST_BIN" "$LOTTO_CTL" "$LOTTO_BURN"; do
	[ -x "$_b" ] || fail "$_b is missing: build first (cmake --build \$LOTTO_BUILD)"
done
[ -d "$SCX" ] || fail "this kernel has no sched_ext ($SCX missing)"

# wait_for SECONDS CMD... : poll CMD every 0.1 s until it succeeds
wait_for() {
	_n=$(($1 * 10))
	shift
	while [ $_n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

lotto_attached() { [ "$(scx_state)" = enabled ] && [ "$(scx_ops)" = lotto ]; }
lotto_detached() { [ "$(scx_state)" = disabled ]; }
lotto_alive() { kill -0 "$LOTTO_PID" 2>/dev/null; }
lotto_attached_or_dead() { lotto_attached || ! lotto_alive; }

lotto_start() {
	[ -z "$LOTTO_PID" ] || fail "lotto_start: lotto-host already running"
	wait_for 10 lotto_detached || fail "another sched_ext scheduler is attached: $(scx_ops)"
	"$LOTTO_HOST_BIN" "$@" >"$LOTTO_LOG" 2>&1 &
	LOTTO_PID=$!
	# loading means verifying the BPF program: slow under TCG
	wait_for 300 lotto_attached_or_dead
	lotto_alive || { LOTTO_PID=; fail "lotto-host${*:+ $*} exited instead of attaching"; }
	lotto_attached || fail "lotto not enabled 300 s after starting lotto-host${*:+ $*}"
	say "lotto attached (lotto-host${*:+ $*}, pid $LOTTO_PID)"
}

# lotto_start_bin BIN [ARGS...]: lotto_start with another lotto-host (an
# earlier build, for two builds compared in one boot)
lotto_start_bin() {
	_lsb_main=$LOTTO_HOST_BIN
	LOTTO_HOST_BIN=$1
	shift
	lotto_start "$@"
	LOTTO_HOST_BIN=$_lsb_main
}

lotto_stop() {
	[ -n "$LOTTO_PID" ] || return 0
	kill -TERM "$LOTTO_PID"
	_rc=0
	wait "$LOTTO_PID" || _rc=$?
	LOTTO_PID=
	[ $_rc = 0 ] || fail "lotto-host exited with status $_rc after SIGTERM"
	wait_for 10 lotto_detached || fail "sched_ext state is '$(scx_state)' 10 s after lotto-host exited, not 'disabled'"
	say "lotto detached"
}

spin() {
	_cpu=$1
	shift
	taskset -c "$_cpu" "$LOTTO_BURN" "$@" &
	SPIN_PID=$!
	SPIN_PIDS="$SPIN_PIDS $SPIN_PID"
}

spin_stop() {
	for _p in "$@"; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
}

cleanup() {
	for _p in $SPIN_PIDS; do kill "$_p" 2>/dev/null; done
	[ -z "$LOTTO_PID" ] || kill -TERM "$LOTTO_PID" 2>/dev/null
}
trap cleanup EXIT

# busybox-static's awk has no math functions: sqrt by Newton's method
# $AWK_ENTITLE is an awk entitle(m, t, cpus, e) function: what each of m
# tasks with tickets t[1..m] is promised on cpus CPUs (tickets / sum, capped
# at one CPU, the surplus shared by tickets) into e[1..m]; returns the sum.
AWK_ENTITLE='function entitle(m, t, cpus, e,   cap, changed, free, sum, i, es) { do { changed = 0; free = cpus; sum = 0; for (i = 1; i <= m; i++) if (cap[i]) free--; else sum += t[i]; for (i = 1; i <= m; i++) if (!cap[i]) { e[i] = free * t[i] / sum; if (e[i] > 1) { cap[i] = 1; e[i] = 1; changed = 1 } } } while (changed); for (i = 1; i <= m; i++) es += e[i]; return es }'
AWK_SQRT='function msqrt(x,  r, i) { if (x <= 0) return 0; r = x < 1 ? 1 : x; for (i = 0; i < 200; i++) r = (r + x / r) / 2; return r }'

cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
delay_ns() { awk '{ print $2 }' "/proc/$1/schedstat"; }

# stat_of NAME: one of lotto's global counters now (lotto-ctl stats)
stat_of() { "$LOTTO_CTL" stats | awk -F= -v k="$1" '$1 == k { print $2 }'; }

field() {
	"$LOTTO_CTL" get "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' ||
		fail "lotto-ctl has no field $2 for pid $1"
}

# check "AWK-CONDITION" "message"  (variables via -v beforehand is awkward in
# sh: the condition gets numbers substituted in by the caller)
check() {
	awk "BEGIN { exit !($1) }" || fail "$2"
}

kernel_log_clean() {
	_bad=$(dmesg | grep -E 'BUG:|WARNING:|Oops|Call Trace|detected stall|task stall|stalls on|soft lockup|hard LOCKUP|blocked for more than|sched_ext: .*disabled' |
		grep -v 'unregistered from user space' || true)
	if [ -n "$_bad" ]; then
		echo "$_bad" | tail -n 30
		return 1
	fi
	return 0
}

# pair_run TICKETS_A TICKETS_B SECONDS: two hogs pinned to CPU 0 with these
# tickets; after 1 s of settling, measure SECONDS. Sets PAIR_CPU_A/B (ns of
# CPU, schedstat) and PAIR_WINS_A/B (draws won, lotto_tasks).
pair_run() {
	spin 0
	_a=$SPIN_PID
	spin 0
	_b=$SPIN_PID
	"$LOTTO_CTL" set "$_a" "$1" "$_b" "$2" || fail "lotto-ctl set failed"
	sleep 1
	_ca=$(cpu_ns $_a) _cb=$(cpu_ns $_b)
	_wa=$(field $_a wins) _wb=$(field $_b wins)
	sleep "$3"
	PAIR_CPU_A=$(($(cpu_ns $_a) - _ca))
	PAIR_CPU_B=$(($(cpu_ns $_b) - _cb))
	PAIR_WINS_A=$(($(field $_a wins) - _wa))
	PAIR_WINS_B=$(($(field $_b wins) - _wb))
	_ta=$(field $_a tickets) _tb=$(field $_b tickets)
	spin_stop $_a $_b
	[ "$_ta" = "$1" ] && [ "$_tb" = "$2" ] || fail "tickets in force were $_ta:$_tb, not $1:$2"
}

# lottery_band TICKETS_A TICKETS_B CPU_A CPU_B WINS_A WINS_B SLICE_US K
# prints: p share n sigma z lo hi — for A's share of the CPU time against an
# ideal lottery. Each draw hands out about one slice, so A's share of n draws
# is Binomial(n, p)/n with p = a/(a+b): sigma = sqrt(p(1-p)/n). n is the
# number of draws made (wins of both), but no more than CPU time / slice, so
# that draws that bought less than a slice cannot narrow the band.
lottery_band() {
	awk -v a="$1" -v b="$2" -v ca="$3" -v cb="$4" -v wa="$5" -v wb="$6" -v sl="$7" -v k="$8" "$AWK_SQRT"'
	BEGIN {
		p = a / (a + b); s = ca / (ca + cb)
		n = wa + wb; m = (ca + cb) / (sl * 1000); if (m < n) n = m
		sd = msqrt(p * (1 - p) / n); z = (s - p) / sd
		printf "%.5f %.5f %d %.5f %.2f %.5f %.5f\n", p, s, n, sd, z, p - k * sd, p + k * sd
	}'
}

# hogs TICKETS...: one unpinned lotto-burn hog per ticket count, tickets set
# with lotto-ctl; their pids in $HOG_PIDS (also cleaned up at exit)
hogs() {
	HOG_PIDS=
	_set=
	for _t in "$@"; do
		"$LOTTO_BURN" &
		SPIN_PIDS="$SPIN_PIDS $!"
		HOG_PIDS="$HOG_PIDS $!"
		_set="$_set $! $_t"
	done
	"$LOTTO_CTL" set $_set || fail "lotto-ctl set failed"
}

# snapshot PIDS...: prints "CPU_NS... | WINS..." (CPU times first, all at
# once: lotto-ctl is slow to start under TCG)
snapshot() {
	_c= _w=
	for _p in "$@"; do _c="$_c $(cpu_ns $_p)"; done
	for _p in "$@"; do _w="$_w $(field $_p wins)"; done
	echo "$_c |$_w"
}

# Tests of several tasks on several CPUs, or of groups, see more spread than
# a binomial count of quanta gives: under TCG the CPU time one quantum buys
# varies, and the z of a share across runs had a standard deviation of about
# 1.4 (28 runs of unpinned.sh, smp4.sh and groups.sh). Their bands use the
# binomial sd times VM_SPREAD, so that K = 4.5 stays about 4.5 real sd.
VM_SPREAD=1.5

# entitlement_check "TICKETS" CPUS "SNAPSHOT BEFORE" "SNAPSHOT AFTER" Q_US K ["OTHER"]
# Each task's share of the CPU the tasks got against its entitlement: tickets /
# sum of tickets, capped at one CPU, the surplus shared by tickets (the
# promise, for tasks that may run on every CPU). Band: K binomial standard
# deviations sqrt(p(1-p)/n) times VM_SPREAD, n = quanta handed out (wins of all, no more than
# their CPU time / Q_US, so that short quanta cannot narrow the band). OTHER,
# if given, is a wrong ideal (e.g. the old per-decision lottery's shares):
# the run must tell it apart (some value of it outside its band). Prints a
# table; returns non-zero if a share is outside its band or OTHER fits.
entitlement_check() {
	awk -v tk="$1" -v cpus="$2" -v s0="$3" -v s1="$4" -v q="$5" -v k="$6" -v other="$7" -v spread=$VM_SPREAD "$AWK_SQRT$AWK_ENTITLE"'
	BEGIN {
		m = split(tk, t, " ")
		split(s0, a, "|"); split(a[1], c0, " "); split(a[2], w0, " ")
		split(s1, b, "|"); split(b[1], c1, " "); split(b[2], w1, " ")
		no = split(other, o, " ")
		for (i = 1; i <= m; i++) { cpu[i] = c1[i] - c0[i]; cs += cpu[i]; n += w1[i] - w0[i] }
		if (cs / (q * 1000) < n) n = cs / (q * 1000)
		es = entitle(m, t, cpus, e)
		bad = 0; fits = no > 0
		printf "%-8s %9s %9s %7s %7s %19s %s\n", "tickets", "entitled", "cpu", "wins", "z", "band", "verdict"
		for (i = 1; i <= m; i++) {
			p = e[i] / es; s = cpu[i] / cs; sd = spread * msqrt(p * (1 - p) / n); lo = p - k * sd; hi = p + k * sd
			v = (s >= lo && s <= hi) ? "ok" : "OUTSIDE " k " sigma"
			if (s < lo || s > hi) bad = 1
			if (no && (o[i] < lo || o[i] > hi)) fits = 0
			printf "%-8d %9.4f %9.4f %7d %7.2f   [%.4f,%.4f] %s\n", t[i], p, s, w1[i] - w0[i], (s - p) / sd, lo, hi, v
		}
		printf "# %d quanta counted over %.1f s of CPU\n", n, cs / 1e9
		if (fits) { print "# too few quanta: the wrong ideal (" other ") fits every band"; bad = 1 }
		exit bad
	}'
}

# ---- cgroups (cgroup v2 at /sys/fs/cgroup; the cpu controller on)
CG=/sys/fs/cgroup

# cg_make NAME WEIGHT: a cgroup below the root (NAME may be a/b: a exists
# and has no tasks of its own) with this cpu.weight
cg_make() {
	_parent=$(dirname "$CG/$1")
	grep -q cpu "$_parent/cgroup.subtree_control" || echo +cpu >"$_parent/cgroup.subtree_control" ||
		fail "cannot enable the cpu controller in $_parent"
	mkdir -p "$CG/$1" || fail "cannot make cgroup $1"
	echo "$2" >"$CG/$1/cpu.weight" || fail "cannot set $1's cpu.weight to $2"
}

# cg_spin CGROUP CPUS [ARGS]: lotto-burn ARGS in CGROUP, on CPUS ("" = any);
# its pid in $SPIN_PID
cg_spin() {
	_cg=$1 _cpus=$2
	shift 2
	if [ -n "$_cpus" ]; then
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec taskset -c "$@"' cg "$CG/$_cg" "$_cpus" "$LOTTO_BURN" "$@" &
	else
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' cg "$CG/$_cg" "$LOTTO_BURN" "$@" &
	fi
	SPIN_PID=$!
	SPIN_PIDS="$SPIN_PIDS $SPIN_PID"
}

# sum_cpu PIDS: their CPU time, summed (ns); sum_wins PIDS: their wins
sum_cpu() { _s=0; for _p in "$@"; do _s=$((_s + $(cpu_ns $_p))); done; echo $_s; }
sum_wins() { _s=0; for _p in "$@"; do _s=$((_s + $(field $_p wins))); done; echo $_s; }

# group_band A_PIDS B_PIDS SECONDS P Q_US K [OTHER]: run SECONDS, then A's
# share of A+B's CPU against p within K binomial sd (n: the quanta both
# groups won, no more than their CPU / Q_US); OTHER, a wrong share, must lie
# outside. Prints one line; returns non-zero if outside (or OTHER inside).
group_band() {
	_ca=$(sum_cpu $1) _cb=$(sum_cpu $2) _wa=$(sum_wins $1) _wb=$(sum_wins $2)
	sleep "$3"
	_ca=$(($(sum_cpu $1) - _ca)) _cb=$(($(sum_cpu $2) - _cb))
	_wa=$(($(sum_wins $1) - _wa)) _wb=$(($(sum_wins $2) - _wb))
	awk -v ca=$_ca -v cb=$_cb -v wa=$_wa -v wb=$_wb -v p="$4" -v q="$5" -v k="$6" -v o="$7" -v spread=$VM_SPREAD "$AWK_SQRT"'
	BEGIN {
		s = ca / (ca + cb); n = wa + wb; m = (ca + cb) / (q * 1000); if (m < n) n = m
		sd = spread * msqrt(p * (1 - p) / n); lo = p - k * sd; hi = p + k * sd
		bad = (s < lo || s > hi); teeth = (o != "" && o >= lo && o <= hi)
		printf "  share %.4f, expected %.4f in [%.4f, %.4f] (z %.2f, n %d)%s%s\n", s, p, lo, hi, (s - p) / sd, n,
			bad ? " OUTSIDE" : "", teeth ? "; too few quanta to tell " o : ""
		exit bad || teeth
	}'
}

# The paper's client-server case (tests/vm/transfers.sh,
# scripts/bench/transfers-loop.sh): 3 clients on CPU 0 with 800, 300 and 100
# tickets, each calling a server thread of its own with 1 ticket, 2 ms each.
#   rpc_start SECS WARMUP  start lotto-rpc, set the tickets; pid in $RPC_PID
#   rpc_tid client|server I  a thread's id
#   rpc_wait               wait for it; its request counts "R0,R1,R2" in $COUNTS
RPC_TIDS=/tmp/rpc.tids
RPC_OUT=/tmp/rpc.out
rpc_tid() { awk -v k="$1" -v i="$2" '$1 == k && $2 == i { print $3 }' "$RPC_TIDS"; }
rpc_start() {
	rm -f "$RPC_TIDS"
	taskset -c 0 "$LOTTO_BUILD/bin/lotto-rpc" --clients 3 --serve-us 2000 --seconds "$1" --warmup "$2" \
		--tids "$RPC_TIDS" >"$RPC_OUT" &
	RPC_PID=$!
	SPIN_PIDS="$SPIN_PIDS $RPC_PID"
	wait_for 10 test -s "$RPC_TIDS" || fail "lotto-rpc wrote no thread ids"
	"$LOTTO_CTL" set "$(rpc_tid client 0)" 800 "$(rpc_tid client 1)" 300 "$(rpc_tid client 2)" 100 \
		"$(rpc_tid server 0)" 1 "$(rpc_tid server 1)" 1 "$(rpc_tid server 2)" 1 || fail "lotto-ctl set failed"
}
rpc_wait() {
	wait "$RPC_PID" || fail "lotto-rpc failed: $(cat "$RPC_OUT")"
	COUNTS=$(sed -n 's/^requests=//p' "$RPC_OUT")
	[ -n "$COUNTS" ] || fail "lotto-rpc printed no counts"
}
