# tests/vm/policy_shell.sh — Lua policies and lotto-shell on the real kernel
# (issues 3 and 4, "In the VM"). Run inside scripts/vm.sh. One boot, three
# phases, the same two CPU hogs pinned to CPU 0 throughout:
#
#  1. `lotto-host nice_weighted.lua`, hog A at nice 0 and hog B at nice 5:
#     tickets follow the CFS weights 1024 : 335, so A's CPU share must lie
#     within K sigma of 1024/1359 = 0.7535 (the lottery band, see lib.sh).
#  2. The policy file is rewritten in place (every task 500 tickets) while
#     the host runs: after the reload the share must lie within the band of
#     1/2 — and outside phase 1's band, so the edit visibly changed shares.
#  3. `lotto-shell -c 'tickets B 4500'` pins B: A's share must lie within
#     the band of 500/5000 = 0.1.
# vm-test: timeout=400 cpus=2
. "$(dirname "$0")/lib.sh"

SHELL_BIN=$LOTTO_BUILD/bin/lotto-shell
[ -x "$SHELL_BIN" ] || fail "$SHELL_BIN is missing: build first"
SECS=${POLICY_SECONDS:-10}
K=4.5
SLICE_US=20000
SOCK=/tmp/lotto.sock
POLICY=/tmp/nice_weighted.lua
cp "$LOTTO_ROOT/policies/nice_weighted.lua" "$POLICY" || fail "no policies/nice_weighted.lua"

taskset -p 2 $$ >/dev/null	# this shell stays off CPU 0
lotto_start --slice-us $SLICE_US --socket $SOCK --no-state "$POLICY"
spin 0
A=$SPIN_PID
spin 0
B=$SPIN_PID
renice -n 5 -p "$B" >/dev/null || fail "renice failed"

tickets_are() { [ "$(field "$A" tickets)" = "$1" ] && [ "$(field "$B" tickets)" = "$2" ]; }

# measure TA TB: A's CPU share over SECS against the band of TA:TB
measure() {
	_ca=$(cpu_ns $A) _cb=$(cpu_ns $B) _wa=$(field $A wins) _wb=$(field $B wins)
	sleep "$SECS"
	_ca=$(($(cpu_ns $A) - _ca)) _cb=$(($(cpu_ns $B) - _cb))
	_wa=$(($(field $A wins) - _wa)) _wb=$(($(field $B wins) - _wb))
	tickets_are "$1" "$2" || fail "tickets changed during the measurement: $(field $A tickets):$(field $B tickets)"
	set -- $(lottery_band "$1" "$2" $_ca $_cb $_wa $_wb $SLICE_US $K)
	BAND_P=$1 SHARE=$2 BAND_LO=$6 BAND_HI=$7
	awk -v p=$1 -v s=$2 -v n=$3 -v z=$5 -v lo=$6 -v hi=$7 -v ca=$_ca -v cb=$_cb 'BEGIN {
		printf "  share of A %.4f (cpu ratio %.3f), ideal %.4f, %d draws, z %.2f, band [%.4f, %.4f]\n",
			s, ca / cb, p, n, z, lo, hi }'
	awk "BEGIN { exit !($SHARE >= $BAND_LO && $SHARE <= $BAND_HI) }"
}

say "phase 1: nice_weighted, nice 0 vs nice 5 (1024:335)"
wait_for 5 tickets_are 1024 335 || fail "nice_weighted did not set 1024:335 (have $(field $A tickets):$(field $B tickets))"
measure 1024 335 || fail "nice 0 vs nice 5 outside the lottery band of 1024:335"
LO1=$BAND_LO

say "phase 2: the policy file is edited in place while lotto-host runs"
cat >"$POLICY" <<'LUA'
return {
	name = "nice_weighted",
	interval_ms = 500,
	tick = function(tasks, ctx)
		for i = 1, #tasks do tasks[i].tickets = 500 end
	end,
}
LUA
wait_for 5 tickets_are 500 500 || fail "the edited policy did not take over within 5 s (tickets $(field $A tickets):$(field $B tickets))"
measure 500 500 || fail "after the edit: outside the band of 1:1"
awk "BEGIN { exit !($SHARE < $LO1) }" || fail "the edit did not change the shares measurably (share $SHARE, phase 1 band from $LO1)"

say "phase 3: lotto-shell pins B at 4500 tickets"
"$SHELL_BIN" --socket $SOCK -c "tickets $B 4500" || fail "lotto-shell tickets failed"
"$SHELL_BIN" --socket $SOCK -c "tasks --pid $B" || fail "lotto-shell tasks failed"
wait_for 5 tickets_are 500 4500 || fail "the pin did not reach the core (tickets $(field $A tickets):$(field $B tickets))"
measure 500 4500 || fail "after the pin: outside the band of 1:9"

spin_stop $A $B
lotto_stop
kernel_log_clean || fail "the kernel log has errors"
echo "PASS: policy_shell"
