# tests/vm/unpinned.sh — unpinned tasks on several CPUs get tickets / sum of
# the machine, capped at one CPU. Run inside scripts/vm.sh (2 CPUs), lotto at
# its default settings.
#
# 1. Four CPU hogs that may run on both CPUs, tickets 100:200:300:400, for
#    UNP_SECONDS: shares .1 .2 .3 .4 of the machine. Teeth: a lottery per
#    decision among the waiting tasks only (lotto before catch-up: a task
#    running on the other CPU is not in this CPU's draw) gives .1286 .2286
#    .3000 .3429, the stationary law of the alternating draws; the run must
#    make enough draws to tell that apart.
# 2. An infeasible case, 1000:1:1, for UNP_INF_SECONDS: the big hog is
#    entitled to more than one CPU and gets one; the two small ones share
#    the other, half a CPU each. Teeth: tickets / sum uncapped (.998 .001
#    .001).
#
# Band: K = 4.5 binomial standard deviations sqrt(p(1-p)/n), n = quanta
# handed out (entitlement_check in lib.sh). CPU time from /proc/PID/schedstat,
# quanta from lotto_tasks.wins.
# vm-test: timeout=300 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${UNP_SECONDS:-30}
INF_SECS=${UNP_INF_SECONDS:-15}
K=4.5
Q_US=5000	# the default quantum with one task waiting per CPU: latency / 2

lotto_start
bad=0

say "four unpinned hogs 100:200:300:400 for ${SECS}s"
hogs 100 200 300 400
sleep 2
s0=$(snapshot $HOG_PIDS)
sleep "$SECS"
s1=$(snapshot $HOG_PIDS)
spin_stop $HOG_PIDS
entitlement_check "100 200 300 400" 2 "$s0" "$s1" $Q_US $K ".1286 .2286 .3000 .3429" || bad=1

say "infeasible: 1000:1:1 for ${INF_SECS}s"
hogs 1000 1 1
sleep 2
s0=$(snapshot $HOG_PIDS)
sleep "$INF_SECS"
s1=$(snapshot $HOG_PIDS)
spin_stop $HOG_PIDS
entitlement_check "1000 1 1" 2 "$s0" "$s1" $Q_US $K ".998 .001 .001" || bad=1

lotto_stop
kernel_log_clean || fail "the kernel log has errors"
[ $bad = 0 ] || fail "unpinned CPU shares outside the band of tickets / sum (see the tables)"
echo "PASS: unpinned"
