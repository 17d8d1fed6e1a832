# tests/vm/unpinned.sh — unpinned tasks on several CPUs get the lottery
# drawn on each CPU. Run inside scripts/vm.sh (2 CPUs).
#
# Four CPU hogs that may run on both CPUs, tickets 100:200:300:400, slice
# 20 ms, measured for UNP_SECONDS (CPU time from /proc/PID/schedstat, draws
# from lotto_tasks.wins).
#
# The ideal is not tickets / sum. Each time a CPU's slice ends it draws among
# the hogs that may run there: its own prev and the waiting ones, but not the
# hog running on the other CPU. That hog is more often a big one, so an exact
# lottery per decision gives the big hogs less than their ticket share and the
# small ones more. With equal slices the two CPUs draw in turn, which is a
# Markov chain on (hog on CPU 0, hog on CPU 1); its stationary law gives each
# hog's share of the draws, hence of the CPU time. For 1:2:3:4 that is
# .1286 .2286 .3000 .3429, against .1 .2 .3 .4 for tickets / sum.
#
# Band: K = 4.5 binomial standard deviations sqrt(p(1-p)/n), n = draws made
# (no more than CPU time / slice). Binomial is conservative here: consecutive
# draws of the chain are negatively correlated, and 1500 simulated runs of
# 2000 draws showed 0.58-0.86 of the binomial deviation. Teeth: the run must
# make enough draws that the biggest hog's ticket share (.4, what a lottery
# that ignored the other CPU's hog would approach) lies outside its band.
# vm-test: timeout=300 cpus=2
. "$(dirname "$0")/lib.sh"

SECS=${UNP_SECONDS:-30}
TICKETS=${UNP_TICKETS:-"100 200 300 400"}
K=4.5
SLICE_US=20000

lotto_start --slice-us $SLICE_US
pids=
set_args=
for t in $TICKETS; do
	"$LOTTO_BURN" &
	SPIN_PIDS="$SPIN_PIDS $!"
	pids="$pids $!"
	set_args="$set_args $! $t"
done
"$LOTTO_CTL" set $set_args || fail "lotto-ctl set failed"
sleep 2
# CPU times first, all at once: lotto-ctl is slow to start under TCG
c0= w0=
for p in $pids; do c0="$c0 $(cpu_ns $p)"; done
for p in $pids; do w0="$w0 $(field $p wins)"; done
sleep "$SECS"
c1= w1= tk=
for p in $pids; do c1="$c1 $(cpu_ns $p)"; done
for p in $pids; do
	w1="$w1 $(field $p wins)"
	tk="$tk $(field $p tickets)"
done
spin_stop $pids
[ "$(echo $tk)" = "$(echo $TICKETS)" ] || fail "tickets in force were$tk, not $TICKETS"
lotto_stop

# the ideal: stationary law of the alternating draws, by power iteration
awk -v tk="$TICKETS" -v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" -v sl=$SLICE_US -v k=$K "$AWK_SQRT"'
BEGIN {
	m = split(tk, t, " "); split(c0, a0, " "); split(c1, a1, " "); split(w0, b0, " "); split(w1, b1, " ")
	for (i = 1; i <= m; i++) { tot += t[i]; cpu[i] = a1[i] - a0[i]; cs += cpu[i]; n += b1[i] - b0[i] }
	if (cs / (sl * 1000) < n) n = cs / (sl * 1000)
	# P[x,y]: hog x on CPU 0 and y on CPU 1, just after CPU 1 drew
	for (x = 1; x <= m; x++) for (y = 1; y <= m; y++) P[x, y] = (x != y) / (m * (m - 1))
	for (it = 0; it < 500; it++) {
		for (i = 1; i <= m; i++) share[i] = 0
		# CPU 0 draws among all but y, then CPU 1 among all but the new x
		for (x = 1; x <= m; x++) for (y = 1; y <= m; y++) Q[x, y] = 0
		for (x = 1; x <= m; x++) for (y = 1; y <= m; y++) if (P[x, y] > 0)
			for (z = 1; z <= m; z++) if (z != y) {
				q = P[x, y] * t[z] / (tot - t[y]); Q[z, y] += q; share[z] += q / 2 }
		for (x = 1; x <= m; x++) for (y = 1; y <= m; y++) P[x, y] = 0
		for (x = 1; x <= m; x++) for (y = 1; y <= m; y++) if (Q[x, y] > 0)
			for (z = 1; z <= m; z++) if (z != x) {
				q = Q[x, y] * t[z] / (tot - t[x]); P[x, z] += q; share[z] += q / 2 }
	}
	bad = 0
	printf "%-8s %9s %9s %9s %7s %7s %19s %s\n", "tickets", "ideal", "t/sum", "cpu", "wins", "z", "band", "verdict"
	for (i = 1; i <= m; i++) {
		p = share[i]; s = cpu[i] / cs; sd = msqrt(p * (1 - p) / n); lo = p - k * sd; hi = p + k * sd
		v = (s >= lo && s <= hi) ? "ok" : "OUTSIDE " k " sigma"
		if (s < lo || s > hi) bad = 1
		if (i == m && t[i] / tot >= lo && t[i] / tot <= hi) { v = v "; too few draws to tell t/sum"; bad = 1 }
		printf "%-8d %9.4f %9.4f %9.4f %7d %7.2f   [%.4f,%.4f] %s\n", t[i], p, t[i] / tot, s, b1[i] - b0[i], (s - p) / sd, lo, hi, v
	}
	printf "# %d draws counted over %d s of CPU\n", n, cs / 1e9
	exit bad
}' || fail "unpinned CPU shares outside the per-decision lottery's band (see the table)"
kernel_log_clean || fail "the kernel log has errors"
echo "PASS: unpinned"
