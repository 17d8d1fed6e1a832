# tests/vm/dynamic.sh — shares follow the entitlement while tasks arrive and
# leave and tickets change. Run inside scripts/vm.sh (2 CPUs), defaults.
#
# Phases of DYN_SECONDS each, unpinned hogs, shares measured per phase:
#   1. a=100 b=200 c=300            (entitled .333 .667 1.0 of a CPU)
#   2. d=400 arrives                (.2 .4 .6 .8)
#   3. b's tickets 200 -> 600       (.143 .857 .429 .571)
#   4. a exits                      (b .923, c .462, d .615)
# Each phase against its own band (entitlement_check, K = 4.5); phases 2 and
# 3 also check that the run tells the new shares from the old ones (teeth).
# (The case of a task entitled to a whole CPU or more is unpinned.sh's.)
# vm-test: timeout=400 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${DYN_SECONDS:-10}
K=4.5
Q_US=5000
bad=0

# phase TICKETS PIDS OTHER: settle 1 s, measure SECS
phase() {
	sleep 1
	_s0=$(snapshot $2)
	sleep "$SECS"
	_s1=$(snapshot $2)
	entitlement_check "$1" 2 "$_s0" "$_s1" $Q_US $K "$3" || bad=1
}

lotto_start
hogs 100 200 300
set -- $HOG_PIDS
a=$1 b=$2 c=$3
say "phase 1: a b c = 100 200 300"
phase "100 200 300" "$a $b $c"
say "phase 2: d = 400 arrives"
hogs 400
d=$HOG_PIDS
# teeth: d must not be left out (the three keeping phase 1's shares)
phase "100 200 300 400" "$a $b $c $d" ".1667 .3333 .5 0"
say "phase 3: b 200 -> 600"
"$LOTTO_CTL" set "$b" 600 || fail "lotto-ctl set failed"
phase "100 600 300 400" "$a $b $c $d" ".1 .2 .3 .4"
say "phase 4: a exits"
spin_stop $a
phase "600 300 400" "$b $c $d"
spin_stop $b $c $d
lotto_stop
kernel_log_clean || fail "the kernel log has errors"
[ $bad = 0 ] || fail "CPU shares outside the entitlement's band in some phase (see the tables)"
echo "PASS: dynamic"
