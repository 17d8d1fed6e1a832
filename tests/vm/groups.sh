# tests/vm/groups.sh — cgroups are groups (currencies): a cgroup's tasks get
# its cpu.weight's share, however many they are. Run inside scripts/vm.sh
# (2 CPUs), lotto at its default settings.
#
# 1. cgroups a (cpu.weight 200) and b (100): one CPU hog in a, three in b, all
#    pinned to CPU 0: a gets 2/3 of it (a flat lottery would give it 1/4).
# 2. a's weight set to 100 while they run: 1/2 from then on.
# 3. the same unpinned, twice as many tasks in each (2 and 6) on 2 CPUs: 2/3.
# 4. insulation (Waldspurger & Weihl, section 5.5), on CPU 0: cgroups A and B
#    weigh alike; A1:A2 = 100:200 and B1:B2 = 100:200 tickets; then B3 (300)
#    joins B: A keeps 1/2, A1 keeps 1/6 of the CPU, B1 goes from 1/6 to 1/12.
# 5. nested cgroups on CPU 0: n and m weigh alike, n/x:n/y = 300:100; one
#    hog in each of n/x and n/y, two in m: x gets 3/8 of the CPU, y 1/8,
#    m 1/2 (each cgroup on its own weight, as before, gave x 3/5).
# 6. n/y's hog stops: only active siblings count, x has all of n's 1/2.
# Bands: group_band (lib.sh), K = 4.5 binomial sd over the quanta won.
# vm-test: timeout=400 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${GRP_SECONDS:-12}
K=4.5
Q_US=3333	# two groups waiting on a CPU: latency / 3
bad=0

taskset -p 2 $$ >/dev/null	# this shell stays off CPU 0
lotto_start
cg_make a 200
cg_make b 100

say "1. a (200): one hog, b (100): three hogs, all on CPU 0"
cg_spin a 0; A=$SPIN_PID
B=
for i in 1 2 3; do cg_spin b 0; B="$B $SPIN_PID"; done
sleep 1
group_band "$A" "$B" "$SECS" 0.6667 $Q_US $K 0.25 || bad=1
[ "$(field $A group)" != 0 ] || fail "the task in cgroup a races in the root group"

say "2. a's cpu.weight 200 -> 100"
echo 100 >"$CG/a/cpu.weight"
sleep 1
group_band "$A" "$B" "$SECS" 0.5 $Q_US $K 0.6667 || bad=1
spin_stop $A $B
echo 200 >"$CG/a/cpu.weight"

say "3. unpinned: two hogs in a, six in b, on 2 CPUs"
A= B=
for i in 1 2; do cg_spin a ""; A="$A $SPIN_PID"; done
for i in 1 2 3 4 5 6; do cg_spin b ""; B="$B $SPIN_PID"; done
sleep 1
group_band "$A" "$B" "$SECS" 0.6667 5000 $K 0.25 || bad=1
spin_stop $A $B

say "4. insulation on CPU 0: A and B weigh alike, A1:A2 = B1:B2 = 100:200"
cg_make A 100
cg_make B 100
cg_spin A 0; A1=$SPIN_PID
cg_spin A 0; A2=$SPIN_PID
cg_spin B 0; B1=$SPIN_PID
cg_spin B 0; B2=$SPIN_PID
"$LOTTO_CTL" set $A1 100 $A2 200 $B1 100 $B2 200 || fail "lotto-ctl set failed"
sleep 1
group_band "$A1 $A2" "$B1 $B2" "$SECS" 0.5 $Q_US $K || bad=1
say "   B3 (300) joins B"
cg_spin B 0; B3=$SPIN_PID
"$LOTTO_CTL" set $B3 300 || fail "lotto-ctl set failed"
sleep 1
# A keeps half; within B, B1 now has 1/6 of B's half (1/12 of the CPU)
group_band "$A1 $A2" "$B1 $B2 $B3" "$SECS" 0.5 $Q_US $K || bad=1
group_band "$B1" "$A1 $A2 $B2 $B3" "$SECS" 0.0833 $Q_US $K 0.1667 || bad=1
spin_stop $A1 $A2 $B1 $B2 $B3

say "5. nested on CPU 0: n/x (300) and n/y (100) under n (100), against m (100)"
cg_make n 100
cg_make m 100
cg_make n/x 300
cg_make n/y 100
cg_spin n/x 0; X=$SPIN_PID
cg_spin n/y 0; Y=$SPIN_PID
cg_spin m 0; M1=$SPIN_PID
cg_spin m 0; M2=$SPIN_PID
sleep 1
group_band "$X" "$Y $M1 $M2" "$SECS" 0.375 $Q_US $K 0.6 || bad=1
group_band "$M1 $M2" "$X $Y" "$SECS" 0.5 $Q_US $K 0.4 || bad=1
"$LOTTO_CTL" groups

say "6. n/y's hog stops: x has all of n's half"
spin_stop $Y
sleep 1
group_band "$X" "$M1 $M2" "$SECS" 0.5 $Q_US $K 0.375 || bad=1
spin_stop $X $M1 $M2

"$LOTTO_CTL" groups
lotto_stop
kernel_log_clean || fail "the kernel log has errors"
[ $bad = 0 ] || fail "a group's share outside its band (see above)"
echo "PASS: groups"
