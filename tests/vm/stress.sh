# tests/vm/stress.sh — lotto survives a hostile load. Run inside scripts/vm.sh.
#
# For STRESS_SECONDS (>= 30): stress-ng --aggressive with cpu, fork, switch and
# yield stressors on every CPU, plus two hogs pinned to CPU 0 with a 10000:1
# ticket skew (the 1-ticket hog would wait ~10000 slices in a pure lottery,
# far past the kernel's 30 s sched_ext watchdog; the starvation guard must
# run it). Checked at the end: lotto is still the enabled scheduler, the host
# is alive and reports no exit, the 1-ticket hog ran and its longest wait is
# below the watchdog bound, and the kernel log has no BUG, WARNING, oops,
# stall or sched_ext error exit. Then lotto detaches cleanly.
# vm-test: timeout=400 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${STRESS_SECONDS:-30}
STARVE_MS=2000
N=$(nproc)

lotto_start --starve-ms $STARVE_MS
spin 0
rich=$SPIN_PID
spin 0
poor=$SPIN_PID
"$LOTTO_CTL" set "$rich" 10000 "$poor" 1 || fail "lotto-ctl set failed"
sleep 1
poor_cpu0=$(cpu_ns $poor)

say "stress-ng --aggressive cpu/fork/switch/yield x$N for ${SECS}s, hogs at 10000:1 on CPU 0"
rc=0
timeout $((SECS + 120)) stress-ng --aggressive --cpu "$N" --fork "$N" --switch "$N" --yield "$N" \
	--timeout "${SECS}s" --metrics-brief >/tmp/stress.log 2>&1 || rc=$?
tail -n 12 /tmp/stress.log
[ $rc = 0 ] || fail "stress-ng exited with status $rc"

state=$(scx_state) ops=$(scx_ops)
echo "after stress: state=$state ops=$ops"
[ "$state" = enabled ] && [ "$ops" = lotto ] || fail "lotto is no longer the scheduler (state=$state ops=$ops)"
lotto_alive || fail "lotto-host died under stress"

poor_ran=$(( $(cpu_ns $poor) - poor_cpu0 ))
wait_max=$(field $poor wait_max_ns)
rescues=$(field $poor rescues)
"$LOTTO_CTL" dump | awk -v a=$rich -v b=$poor 'NR == 1 || $1 == a || $1 == b'
echo "1-ticket hog: ran $((poor_ran / 1000000)) ms, longest wait $((wait_max / 1000000)) ms, rescued $rescues times"
check "$poor_ran > 0" "the 1-ticket hog never ran: starved"
# bound: 3 x the guard's --starve-ms (slack for TCG), far below
# the kernel watchdog's 30 s
check "$wait_max < 3 * $STARVE_MS * 1000000" "the 1-ticket hog waited $((wait_max / 1000000)) ms at a stretch (--starve-ms $STARVE_MS)"
spin_stop $rich $poor

kernel_log_clean || fail "the kernel log has errors after stress"
lotto_stop
echo "PASS: stress"
