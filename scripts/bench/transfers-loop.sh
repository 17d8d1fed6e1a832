#!/bin/sh
# scripts/bench/transfers-loop.sh — many short runs of the client-server
# case of tests/vm/transfers.sh in one boot, to catch a pair that never
# forms (a server left on its own ticket: docs/design.md section 12).
# busybox sh; in the VM:
#
#   scripts/vm.sh --cpus 2 -- env XFER_RUNS=30 XFER_SECONDS=5 sh scripts/bench/transfers-loop.sh
#
# One lotto-host --transfers for the whole loop (XFER_LOTTO_ARGS: more
# settings). Per run: lotto-rpc with 3 clients (800, 300, 100 tickets) and
# their server threads (1 ticket each, 2 ms per request), all on CPU 0,
# XFER_SECONDS counted after a 1 s warm-up. Prints "run I: R0,R1,R2" (the
# requests each pair had served), flagged "STUCK" with every thread's
# lotto-ctl line (taken halfway) when a pair got under a third of its due
# share (8/12, 3/12, 1/12); at the end "stuck K of N runs".
RUNS=${XFER_RUNS:-30}
SECS=${XFER_SECONDS:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/bench/settings.sh"
positive_ints transfers-loop.sh "XFER_RUNS=$RUNS" "XFER_SECONDS=$SECS"
. "$ROOT/tests/vm/lib.sh"

taskset -p 2 $$ >/dev/null	# this shell stays off CPU 0

# shellcheck disable=SC2086 # the settings are words
lotto_start --transfers ${XFER_LOTTO_ARGS:-}
stuck=0
for i in $(seq 1 "$RUNS"); do
	rpc_start "$SECS" 1
	sleep $(((SECS + 1) / 2))
	lines=$(for k in 0 1 2; do for r in client server; do
		echo "  $r $k: $("$LOTTO_CTL" get "$(rpc_tid $r $k)")"; done; done)
	rpc_wait
	counts=$COUNTS
	if echo "$counts" | awk -F, '{ n = $1 + $2 + $3; exit !(n > 0 && ($1 < n * 8 / 36 || $2 < n * 3 / 36 || $3 < n / 36)) }'; then
		echo "run $i: $counts STUCK"
		echo "$lines"
		stuck=$((stuck + 1))
	else
		echo "run $i: $counts"
	fi
done
"$LOTTO_CTL" stats | grep -E "^(transfers|xfer_redraws)=" || true
lotto_stop
echo "stuck $stuck of $RUNS runs"
