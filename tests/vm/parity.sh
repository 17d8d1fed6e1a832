# tests/vm/parity.sh — the sim and the BPF core make the same decisions: one
# workload runs on the real kernel under lotto and on the sim backend
# (lotto-simstats), and what depends only on the shared rules
# (bpf/lotto_rules.h) must agree. Run inside scripts/vm.sh (2 CPUs), lotto
# at its default settings.
#
# Rates per second are printed, not compared: in a VM they follow how often
# qemu's vCPU threads get the host's CPUs (a loaded host delivers ticks late,
# so fewer quanta end per guest second). The VM also has tasks of its own
# (kworkers, timers) whose wake-ups make CPU 0 draw early; each such wake-up
# adds two draws (the early one, and the one when that task sleeps again),
# counted from phase 1's wake_preempts + wake_shrinks (no sleeper yet: all
# of them are the VM's own). What is compared does not depend on either:
# 1. Two hogs 300:100 on CPU 0, a hog alone on CPU 1, PAR_SECONDS (12):
#    prev_wins / quantum-end draws (draws - 2 x early draws): prev is in
#                        each, .75^2 + .25^2 = .625 in both
#    hogA / (A + B)      their CPU times: .75 in both
#    alone per second of CPU 1's hog's CPU time: one renewal without a draw
#                        per slice in the sim; in the VM a slice may end a
#                        tick or two late, so [PAR_ALONE_LO (0.35), 1.2] x
#                        the sim's is asked
# 2. A task that runs 200 us and sleeps 3 ms joins CPU 0 (tickets 100):
#    early draws / its wake-ups (lotto's `waits`), the VM's own early draws
#                        (phase 1's rate) taken out: each wake-up finds
#                        CPU 0 busy and makes it draw early: 1 in both
# PAR_TOL (25%) relative on fractions, PAR_ABS (0.05) on the hogs' share.
# Teeth: a rule that differs (the core counting a draw where the sim renews
# alone, as it once did: alone 0; prev left out of the draw: prev_wins 0; a
# wake-up that does not end a quantum: 0) moves a measure far more than that.
# vm-test: timeout=300 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${PAR_SECONDS:-12}
TOL=${PAR_TOL:-0.25}
ABS=${PAR_ABS:-0.05}
printf 'cpus 2\ntask name=hogA cpu=100%% tickets=300 pin=0\ntask name=hogB cpu=100%% tickets=100 pin=0\ntask name=alone cpu=100%% pin=1\n' >/tmp/p1.wl
{ cat /tmp/p1.wl; echo "task name=sleeper run=200us sleep=3ms tickets=100 pin=0"; } >/tmp/p2.wl
bad=0
bad() { echo "FAIL: $*"; bad=1; }

# kernel (k) and sim (s) values of counter $2 in phase $1
kval() { awk -F= -v k="$2" '$1 == k { print $2 }' /tmp/k$1.1 /tmp/k$1.0 | { read a; read b; echo $((a - b)); }; }
sval() { awk -F= -v k="$2" '$1 == k { print $2 }' /tmp/s$1; }
stask() { awk -v n="$2" -v f="$3" '$1 == "task" && $2 == n { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' /tmp/s$1; }
within() { awk -v k="$1" -v s="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(s > 0 && k / s >= lo && k / s <= hi) }'; }
row() { echo "| $1 | $2 | $3 |"; }
rates() {
	for c in draws prev_wins alone wake_preempts wake_shrinks; do
		row "$c per s" "$(awk -v v="$(kval $1 $c)" -v t="$SECS" 'BEGIN { printf "%.1f", v / t }')" \
			"$(awk -v v="$(sval $1 $c)" -v t="$SECS" 'BEGIN { printf "%.1f", v / t }')"
	done
}

taskset -p 2 $$ >/dev/null	# this shell, lotto-host and lotto-ctl stay off CPU 0
lotto_start
spin 0; A=$SPIN_PID
spin 0; B=$SPIN_PID
spin 1; L=$SPIN_PID
"$LOTTO_CTL" set $A 300 $B 100 || fail "lotto-ctl set failed"
sleep 1
"$LOTTO_CTL" stats >/tmp/k1.0
a0=$(cpu_ns $A) b0=$(cpu_ns $B) l0=$(cpu_ns $L)
sleep "$SECS"
"$LOTTO_CTL" stats >/tmp/k1.1
a1=$(cpu_ns $A) b1=$(cpu_ns $B) l1=$(cpu_ns $L)

spin 0 --run-us 200 --sleep-us 3000; S=$SPIN_PID
"$LOTTO_CTL" set $S 100 || fail "lotto-ctl set failed"
sleep 1
"$LOTTO_CTL" stats >/tmp/k2.0
w0=$(field $S waits)
sleep "$SECS"
"$LOTTO_CTL" stats >/tmp/k2.1
w1=$(field $S waits)
spin_stop $A $B $S $L
lotto_stop

for p in 1 2; do
	"$LOTTO_BUILD/bin/lotto-simstats" --workload /tmp/p$p.wl --seconds "$SECS" >/tmp/s$p || fail "lotto-simstats failed"
done

echo "## 1. hogs 300:100 on CPU 0, a hog alone on CPU 1"
row measure kernel sim
row --- --- ---
rates 1
early() { echo $(($(kval $1 wake_preempts) + $(kval $1 wake_shrinks))); }
k=$(awk -v p="$(kval 1 prev_wins)" -v d="$(kval 1 draws)" -v e="$(early 1)" 'BEGIN { print p / (d - 2 * e) }')
s=$(awk -v p="$(sval 1 prev_wins)" -v d="$(sval 1 draws)" -v e="$(($(sval 1 wake_preempts) + $(sval 1 wake_shrinks)))" 'BEGIN { print p / (d - 2 * e) }')
row "prev_wins / quantum-end draws (ideal .625)" "$k" "$s"
within "$k" "$s" "$(awk -v t=$TOL 'BEGIN { print 1 - t }')" "$(awk -v t=$TOL 'BEGIN { print 1 + t }')" ||
	bad "prev_wins / draws: kernel $k, sim $s"
k=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN { print a / (a + b) }')
s=$(awk -v a="$(stask 1 hogA runtime_ns)" -v b="$(stask 1 hogB runtime_ns)" 'BEGIN { print a / (a + b) }')
row "hogA / (hogA + hogB), CPU time (ideal .75)" "$k" "$s"
check "($k - $s) <= $ABS && ($s - $k) <= $ABS" "hogA's share: kernel $k, sim $s" || bad=1
k=$(awk -v a="$(kval 1 alone)" -v ns=$((l1 - l0)) 'BEGIN { print a / (ns / 1e9) }')
s=$(awk -v a="$(sval 1 alone)" -v ns="$(stask 1 alone runtime_ns)" 'BEGIN { print a / (ns / 1e9) }')
row "alone per s of CPU 1's hog's CPU time" "$k" "$s"
within "$k" "$s" "${PAR_ALONE_LO:-0.35}" 1.2 || bad "alone renewals per CPU second: kernel $k, sim $s"

echo "## 2. a sleeper (200 us every 3 ms) joins CPU 0"
row measure kernel sim
row --- --- ---
rates 2
k=$(awk -v e2="$(early 2)" -v e1="$(early 1)" -v w=$((w1 - w0)) 'BEGIN { print (e2 - e1) / w }')
s=$(awk -v p="$(sval 2 wake_preempts)" -v q="$(sval 2 wake_shrinks)" -v w="$(stask 2 sleeper waits)" 'BEGIN { print (p + q) / w }')
row "early draws / the sleeper's wake-ups (the VM's own taken out)" "$k" "$s"
within "$k" "$s" "$(awk -v t=$TOL 'BEGIN { print 1 - t }')" "$(awk -v t=$TOL 'BEGIN { print 1 + t }')" ||
	bad "early draws per wake-up: kernel $k, sim $s"

[ $bad = 0 ] || fail "the core and the sim disagree (above)"
kernel_log_clean || fail "kernel log has errors"
echo "PASS parity"
