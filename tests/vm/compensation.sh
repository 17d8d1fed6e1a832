# tests/vm/compensation.sh — a task that sleeps half the time gets its fair
# share of the CPU in the draws it takes part in. Run inside scripts/vm.sh.
#
# A test of the mechanism, so with fixed quanta and no wake-up draws (lotto-host
# --latency-us 1000000 --preempt off: every quantum is the slice, and a wake-up
# waits for it to end); tests/vm/wakeup.sh covers the defaults.
#
# Workload, pinned together on CPU 0, equal tickets (100 each), slice Q = 20 ms:
#   S  lotto-burn --run-ms 5 --sleep-ms 5: 5 ms of CPU time, then 5 ms asleep
#      (alone it would sleep half the time); it uses a fraction f of each
#      slice it wins, then blocks (f = its CPU time per win / Q, measured:
#      about 0.25-0.4 under TCG, where a 5 ms burst overshoots).
#   H  a CPU hog.
#
# What is measured. A wake-up does not preempt the running slice, so each time
# S wakes it first waits out the rest of H's current slice (the "residual"),
# whatever the tickets; only then is there a draw between S and H. The claim
# of compensation tickets (Waldspurger) is about the draws: S, which uses only
# f of a slice per win, competes with tickets/f, wins with probability
# 1/(1+f) instead of 1/2, and so receives the same CPU time per contested
# draw as H: half of the CPU time handed out by draws S took part in. Without
# compensation it would receive f/(1+f) (~0.25).
#
# From /proc/PID/schedstat: S's CPU time (exec) and the time S was runnable
# but waiting (delay); from lotto_tasks: S's wins W (one per burst, as a burst
# is shorter than a slice). delay = W * residual + H's CPU time in contested
# draws. The residual per wake-up is measured in a control phase of the same
# boot in which S holds 1000000 tickets against H's 1 (S wins every draw, so
# its whole delay is residual). Then, with 100:100,
#     share = exec / (exec + delay - W * residual)
# must be 1/2 within K = 4.5 standard deviations of a lottery: S's losses
# before each win are geometric with mean f and variance f(1+f), which gives
# sd(share) = sqrt(f(1+f)/W) / (4f).
#
# The same measurement with lotto-host --no-compensation must fall outside
# that band (else the test could not tell compensation from its absence).
# vm-test: timeout=400 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${COMP_SECONDS:-15}
CTRL_SECS=${COMP_CONTROL_SECONDS:-6}
K=4.5
Q_US=20000

taskset -p 2 $$ >/dev/null	# this shell stays off CPU 0

# measure LOTTO-HOST-ARGS... : sets SHARE, SD, F, W, RESIDUAL_NS
measure() {
	lotto_start --slice-us $Q_US --latency-us 1000000 --preempt off "$@"
	spin 0
	h=$SPIN_PID
	spin 0 --run-ms 5 --sleep-ms 5
	s=$SPIN_PID

	# control: S wins every draw; its delay is the residual of H's slices
	"$LOTTO_CTL" set "$s" 1000000 "$h" 1 || fail "lotto-ctl set failed"
	sleep 1
	d0=$(delay_ns $s) w0=$(field $s wins)
	sleep "$CTRL_SECS"
	d1=$(delay_ns $s) w1=$(field $s wins)
	RESIDUAL_NS=$(( (d1 - d0) / (w1 - w0) ))

	# the contest: equal tickets
	"$LOTTO_CTL" set "$s" 100 "$h" 100 || fail "lotto-ctl set failed"
	sleep 1
	e0=$(cpu_ns $s) d0=$(delay_ns $s) w0=$(field $s wins)
	sleep "$SECS"
	e1=$(cpu_ns $s) d1=$(delay_ns $s) w1=$(field $s wins)
	spin_stop $s $h
	lotto_stop

	set -- $(awk -v e=$((e1 - e0)) -v d=$((d1 - d0)) -v w=$((w1 - w0)) -v r=$RESIDUAL_NS -v q=$Q_US "$AWK_SQRT"'
	BEGIN {
		contested = d - w * r; if (contested < 0) contested = 0
		f = e / w / (q * 1000)
		share = e / (e + contested)
		sd = msqrt(f * (1 + f) / w) / (4 * f)
		printf "%.5f %.5f %.4f %d %.3f %.3f %.3f\n", share, sd, f, w, e / 1e6, d / 1e6, contested / 1e6
	}')
	SHARE=$1 SD=$2 F=$3 W=$4
	echo "  S: cpu ${5} ms, waited ${6} ms, wins $W (f=$F); residual per wake-up $((RESIDUAL_NS / 1000)) us;" \
		"H in contested draws ${7} ms -> S's share $SHARE (sd $SD)"
}

say "with compensation (default)"
measure
share_comp=$SHARE
lo=$(awk "BEGIN { print 0.5 - $K * $SD }") hi=$(awk "BEGIN { print 0.5 + $K * $SD }")
say "without compensation"
measure --no-compensation
share_nocomp=$SHARE
nocomp_expect=$(awk "BEGIN { printf \"%.3f\", $F / (1 + $F) }")

echo "share of contested CPU: compensation $share_comp (band [$lo, $hi] around 1/2);" \
	"no compensation $share_nocomp (a lottery without it: f/(1+f) = $nocomp_expect)"
kernel_log_clean || fail "the kernel log has errors"
check "$share_comp >= $lo && $share_comp <= $hi" \
	"with compensation S got $share_comp of the contested CPU, outside [$lo, $hi] (1/2 +- $K sd)"
check "$share_nocomp < $lo || $share_nocomp > $hi" \
	"without compensation the share $share_nocomp also lies in the band: the test cannot tell them apart"
echo "PASS: compensation"
