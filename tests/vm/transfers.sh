# tests/vm/transfers.sh — ticket transfers: the lottery scheduling paper's
# client-server experiment (Waldspurger & Weihl, section 5.4). Run inside
# scripts/vm.sh (2 CPUs).
#
# Three clients with tickets 800:300:100 (8:3:1) each send requests over a
# Unix socket to a server thread of their own, which burns 2 ms of CPU per
# request and holds 1 ticket; everything is pinned to CPU 0. Each pair has
# one runnable thread at a time: the client, or its server while the client
# waits for the reply.
#   1. lotto-host --transfers: a server runs on its blocked client's tickets,
#      so the pairs' request rates come out 8:3:1 (pair 0: 8/12 of them).
#   2. lotto-host at its defaults (no transfers): the servers' 1 ticket each
#      decides, 1:1:1 (pair 0: 1/3), whatever the clients hold.
#   3. --transfers with one client on CPU 1 and its server alone on CPU 0:
#      every wake-up goes to an idle CPU, where the kernel queues it (its
#      ops.enqueue runs on the woken task's CPU, not in the waker's
#      context), and each must still be recorded (xfer_wakes): two per
#      request.
#   4. --transfers, a shell loop on CPU 0 that wakes kernel threads and is
#      woken by them (writes to drop_caches) beside a hog: kernel threads
#      are nobody's partner, so the loop is never funded (lotto-ctl get
#      funded_by, 20 samples).
# Bands: K = 4.5 binomial sd over the requests (about one draw each), times
# VM_SPREAD; each case also asserts that the other case's share lies outside.
# vm-test: timeout=500 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${XFER_SECONDS:-12}
K=4.5
bad=0

taskset -p 2 $$ >/dev/null	# this shell stays off CPU 0


# share_band COUNTS I P OTHER: pair I's share of the requests against P
# within K sd; OTHER (the other case's share) must lie outside the band
share_band() {
	echo "$1" | awk -F, -v i="$2" -v p="$3" -v o="$4" -v k=$K -v spread=$VM_SPREAD "$AWK_SQRT"'
	{
		for (j = 1; j <= NF; j++) n += $j
		s = $(i + 1) / n; sd = spread * msqrt(p * (1 - p) / n); lo = p - k * sd; hi = p + k * sd
		bad = (s < lo || s > hi); teeth = (o >= lo && o <= hi)
		printf "  pair %d: %.4f of %d requests, expected %.4f in [%.4f, %.4f] (z %.2f)%s%s\n", i, s, n, p,
			lo, hi, (s - p) / sd, bad ? " OUTSIDE" : "", teeth ? "; too few requests to tell " o : ""
		exit bad || teeth
	}'
}

# rpc_case LOTTO-HOST-ARGS...: start lotto, run the clients and servers,
# set their tickets, print the request counts in $COUNTS
rpc_case() {
	lotto_start "$@"
	rpc_start "$SECS" 2
	sleep 1
	FUNDED=$("$LOTTO_CTL" get "$(rpc_tid server 0)")
	rpc_wait
	say "requests per pair: $COUNTS"
	"$LOTTO_CTL" stats | grep -E "transfers|xfer_redraws" || true
	lotto_stop
}

say "1. with --transfers: 8:3:1"
rpc_case --transfers
echo "$FUNDED" | grep -q "funded_by=$(rpc_tid client 0) " ||
	echo "$FUNDED" | grep -q "funded_by=0 " || fail "server 0 funded by someone else: $FUNDED"
share_band "$COUNTS" 0 0.6667 0.3333 || bad=1
share_band "$COUNTS" 2 0.0833 0.3333 || bad=1

say "2. at the defaults (no transfers): 1:1:1"
rpc_case
echo "$FUNDED" | grep -q "funded_by=0 " || fail "a transfer without --transfers: $FUNDED"
share_band "$COUNTS" 0 0.3333 0.6667 || bad=1
share_band "$COUNTS" 2 0.3333 0.0833 || bad=1

say "3. --transfers, a client on CPU 1 and its server on CPU 0: queued wake-ups"
lotto_start --transfers
rm -f "$RPC_TIDS"
taskset -c 0 "$LOTTO_BUILD/bin/lotto-rpc" --clients 1 --serve-us 2000 --seconds 4 --warmup 1 \
	--tids "$RPC_TIDS" >"$RPC_OUT" &
RPC_PID=$!
SPIN_PIDS="$SPIN_PIDS $RPC_PID"
wait_for 10 test -s "$RPC_TIDS" || fail "lotto-rpc wrote no thread ids"
taskset -p -c 1 "$(rpc_tid client 0)" >/dev/null || fail "cannot move the client to CPU 1"
wakes0=$("$LOTTO_CTL" stats | awk -F= '$1 == "xfer_wakes" { print $2 }')
rpc_wait
wakes=$(($("$LOTTO_CTL" stats | awk -F= '$1 == "xfer_wakes" { print $2 }') - wakes0))
lotto_stop
say "requests: $COUNTS, wake-ups recorded: $wakes"
[ "$COUNTS" -ge 50 ] || fail "only $COUNTS requests in 4 s"
# two wake-ups per request (the server's, the client's), over 5 s against 4 s
# of counted requests: 2.5 per request; a recording that misses one wake-up
# in two gets 1.25
[ "$wakes" -ge $((COUNTS * 3 / 2)) ] ||
	fail "$wakes wake-ups recorded for $COUNTS requests across CPUs (at least 1.5 each)"

say "4. --transfers, a task that wakes kernel threads and is woken by them: no partner"
# drop_caches queues work on each CPU's kworker and waits for it, in the
# writer's context: a kworker woken by the task, the task woken back by it.
# A kworker (rcu_preempt, ...) asleep most of the time must not fund the
# task it last met: nothing else wakes this loop, so it has no funder at any
# of its draws (it waits beside a hog on CPU 0: it draws often).
lotto_start --transfers
spin 0
HOG=$SPIN_PID
# echo is the shell's builtin: the loop forks nothing (an exiting child
# would wake it as a user task)
taskset -c 0 sh -c 'while :; do echo 3 >/proc/sys/vm/drop_caches; done' &
KW=$!
SPIN_PIDS="$SPIN_PIDS $KW"
sleep 1
funded=0 samples=0
while [ $samples -lt 20 ]; do
	by=$(field $KW funded_by)
	[ "$by" = 0 ] || { funded=$((funded + 1)); say "funded by $by ($(cat /proc/$by/comm 2>/dev/null))"; }
	samples=$((samples + 1))
	sleep 0.2
done
wins=$(field $KW wins)
spin_stop $KW $HOG
lotto_stop
say "$samples samples, $funded with a funder; the loop won $wins draws"
[ "$wins" -ge 20 ] || fail "the drop_caches loop won only $wins draws: it was not drawn often enough to tell"
[ $funded = 0 ] || fail "a kernel thread funded a task in $funded of $samples samples"

kernel_log_clean || fail "the kernel log has errors"
[ $bad = 0 ] || fail "a pair's share of the requests outside its band (see above)"
echo "PASS: transfers"
