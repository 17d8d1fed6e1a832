# tests/vm/attach.sh — lotto attaches, schedules, refuses a second instance,
# detaches on SIGTERM, and can attach again. Run inside scripts/vm.sh.
# vm-test: timeout=300 cpus=2
. "$(dirname "$0")/lib.sh"

[ "$(scx_state)" = disabled ] || fail "sched_ext state before lotto is '$(scx_state)', not 'disabled'"

lotto_start
echo "state=$(scx_state) ops=$(scx_ops)"

# it schedules: a pinned hog shows up in the task table and wins draws
spin 0
sleep 2
wins=$(field "$SPIN_PID" wins)
runtime=$(field "$SPIN_PID" runtime_ns)
tickets=$(field "$SPIN_PID" tickets)
echo "hog pid $SPIN_PID: wins=$wins runtime_ns=$runtime tickets=$tickets"
check "$wins > 0 && $runtime > 500000000" "the hog did not run under lotto (wins=$wins runtime_ns=$runtime)"
check "$tickets == 100" "the hog has $tickets tickets, not the default 100"
draws=$(stat_of draws)
check "${draws:-0} > 0" "lotto_stats counts no draws"

# a ticket change reaches the kernel at the next draw
"$LOTTO_CTL" set "$SPIN_PID" 4242 || fail "lotto-ctl set failed"
sleep 1
tickets=$(field "$SPIN_PID" tickets)
check "$tickets == 4242" "tickets in force are $tickets after lotto-ctl set 4242"

# a second scheduler cannot attach while lotto is; lotto stays
rc=0
timeout 120 "$LOTTO_HOST_BIN" >/tmp/second.log 2>&1 || rc=$?
echo "second lotto-host: exit $rc: $(tail -n 1 /tmp/second.log)"
check "$rc != 0 && $rc != 124 && $rc != 143" "a second lotto-host did not fail cleanly (exit $rc)"
lotto_attached || fail "lotto was detached by the second lotto-host"
lotto_alive || fail "the first lotto-host died"

spin_stop "$SPIN_PID"
lotto_stop
echo "after SIGTERM: state=$(scx_state)"

# attach and detach again: nothing was left behind
lotto_start --slice-us 5000 --default-tickets 7
spin 1
sleep 1
tickets=$(field "$SPIN_PID" tickets)
check "$tickets == 7" "--default-tickets 7 gave $tickets tickets"
spin_stop "$SPIN_PID"
lotto_stop

kernel_log_clean || fail "the kernel log has errors"
echo "PASS: attach"
