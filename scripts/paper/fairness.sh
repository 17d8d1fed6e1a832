#!/bin/sh
# scripts/paper/fairness.sh — experiment 1, fairness (W&W '94, section 5.1).
#
# Two CPU-bound tasks (lotto-burn) pinned together to one CPU with tickets
# r:1 (100r and 100) for r = 1..10, three runs of 60 s each, and 20:1 over
# 180 s; observed: the ratio of their CPU times (/proc/PID/schedstat) and the
# draws each won (lotto_tasks). lotto-host at its defaults. Two pairs run at
# once, one on each CPU (every CPU draws its own lottery among the tasks
# pinned to it, so the pairs do not touch each other's shares).
#
#   sh scripts/paper/fairness.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# --quick: r = 1 2 5 10, one 4 s run each, 20:1 over 6 s.
# Paper (Mach, Dhrystone, 100 ms quanta): all runs close to their allocation
# except one 10:1 run at 13.42:1; 20:1 over 180 s gave 19.08:1.
. "$(dirname "$0")/lib.sh"
DATA=fairness
Q_US=5000	# shortest quantum with one other task waiting (latency / 2)

run() {
	paper_run_init
	ratios=$(pick "1 2 3 4 5 6 7 8 9 10" "1 2 5 10")
	runs=$(pick 3 1)
	secs=$(pick 60 4)
	long=$(pick 180 6)
	# jobs "r run seconds", longest first, dealt to the two CPUs so that
	# both finish at about the same time
	{
		echo "20 1 $long"
		for r in $ratios; do
			i=1
			while [ $i -le "$runs" ]; do echo "$r $i $secs"; i=$((i + 1)); done
		done
	} | awk '{ c = (load[0] <= load[1]) ? 0 : 1; load[c] += $3 + 2; print > ("'"$WORK"'/jobs." c) }'
	paper_lotto_start
	for cpu in 0 1; do
		lane $cpu <"$WORK/jobs.$cpu" >"$WORK/rows.$cpu" 2>"$WORK/err.$cpu" &
		eval "lane_$cpu=\$!"
	done
	wait $lane_0 $lane_1
	[ ! -s "$WORK/err.0" ] && [ ! -s "$WORK/err.1" ] || fail "a run failed: $(cat "$WORK"/err.*)"
	lotto_stop
	sort -t, -k1,1n -k2,2n "$WORK"/rows.* | emit fairness "ratio,run,seconds,cpu,cpu_a_ns,cpu_b_ns,wins_a,wins_b"
}

# lane CPU: the jobs on stdin, one pair at a time on CPU; rows on stdout
lane() {
	while read -r r i secs; do
		taskset -c "$1" "$LOTTO_BURN" &
		a=$!
		taskset -c "$1" "$LOTTO_BURN" &
		b=$!
		"$LOTTO_CTL" set $a $((100 * r)) $b 100 >/dev/null || { echo "lotto-ctl set failed" >&2; return; }
		sleep 1
		s0=$(snapshot $a $b)
		sleep "$secs"
		s1=$(snapshot $a $b)
		ta=$("$LOTTO_CTL" get $a | tr ' ' '\n' | awk -F= '$1 == "tickets" { print $2 }')
		kill $a $b
		wait $a $b 2>/dev/null
		[ "$ta" = $((100 * r)) ] || { echo "tickets in force were $ta, not $((100 * r))" >&2; return; }
		echo "$s0 | $s1" | awk -v r="$r" -v i="$i" -v s="$secs" -v c="$1" -F'|' '{
			split($1, c0, " "); split($2, w0, " "); split($3, c1, " "); split($4, w1, " ")
			printf "%d,%d,%d,%d,%.0f,%.0f,%.0f,%.0f\n", r, i, s, c, c1[1] - c0[1], c1[2] - c0[2], w1[1] - w0[1], w1[2] - w0[2] }'
	done
}

# per run: observed ratio, draws n (wins, at most CPU / shortest quantum: a
# draw that bought less cannot narrow the band), z, the 95% band as ratios
summary() {
	awk -F, -v q="$Q_US" "$AWK_BAND"'
	NR > 1 {
		r = $1; ca = $5; cb = $6; n = $7 + $8; m = (ca + cb) / (q * 1000); if (m < n) n = m
		p = r / (r + 1); s = ca / (ca + cb); d = sd(p, n)
		printf "run %d %d %.3f %d %.2f %.3f %.3f %.3f %.3f\n", r, $2, ca / cb, n, (s - p) / d,
			ratio(p - 1.96 * d), ratio(p + 1.96 * d), ratio(p - 4.5 * d), ratio(p + 4.5 * d)
	}' "$(csv fairness)"
}

report() {
	awk '$1 == "run" { printf "%s,%s,%s,%s,%s,%s,%s\n", $2, $3, $4, $5, $6, $7, $8 }' "$S" >"$T/fairness-runs.csv"
	# one band per ratio, from the mean draws of its runs
	awk '$1 == "run" { n[$2] += $5; k[$2]++; lo[$2] += $7; hi[$2] += $8 }
		END { for (r in n) printf "%s,%.3f,%.3f\n", r, lo[r] / k[r], hi[r] / k[r] }' "$S" | sort -t, -k1,1n >"$T/fairness-band.csv"
	printf '10,13.42\n20,19.08\n' >"$T/fairness-mach.csv"
	plot "$DIR/fairness.png" <<EOF
set title "Fairness: two CPU-bound tasks on one CPU, tickets r:1\nEvery run should lie in the grey band an ideal lottery reaches 95% of the time"
set xlabel "allocated ratio (tickets r:1)"
set ylabel "observed ratio (CPU time A / B)"
set xrange [0:21]
set yrange [0:*]
set xtics (1,2,3,4,5,6,7,8,9,10,20)
plot "$T/fairness-band.csv" using 1:(((\$2)+(\$3))/2):(0.35):((\$3)-(\$2))/2 with boxxyerror fs solid 0.35 noborder lc rgb "#999999" title "ideal lottery, 95% of runs", \
     x with lines dt 2 lc rgb "#444444" title "observed = allocated", \
     "$T/fairness-runs.csv" using 1:3 with points pt 7 ps 1.2 lc rgb "#1f77b4" title "lotto (each run)", \
     "$T/fairness-mach.csv" using 1:2 with points pt 6 ps 1.8 lw 2 lc rgb "#d62728" title "Mach prototype (paper)"
EOF
	total=$(awk '$1 == "run" { n++ } END { print n + 0 }' "$S")
	# the spread at 10:1: draws per run, ms of CPU per draw, sd of the ratio
	# (delta method: d ratio / d share = 1 / (1 - p)^2); Mach's 95% band
	set -- $(awk -F, -v q="$Q_US" "$AWK_BAND"'
		NR > 1 && $1 == 10 { n += $7 + $8; c += $5 + $6; k++ }
		END { p = 10 / 11; m = n / k; printf "%d %.1f %.2f %.2f %.2f\n", m, c / n / 1e6,
			sd(p, m) / (1 - p) ^ 2, ratio(p - 1.96 * sd(p, 600)), ratio(p + 1.96 * sd(p, 600)) }' "$(csv fairness)")
	n10=$1 ms=$2 sd10=$3 mach_lo=$4 mach_hi=$5
	inside=$(awk '$1 == "run" && $4 >= $7 && $4 <= $8 { n++ } END { print n + 0 }' "$S")
	secs=$(awk -F, 'NR > 1 && $1 != 20 { print $3; exit }' "$(csv fairness)")
	long=$(awk -F, 'NR > 1 && $1 == 20 { print $3; exit }' "$(csv fairness)")
	r10=$(awk '$1 == "run" && $2 == 10 { s += $4; k++ } END { if (k) printf "%.2f", s / k }' "$S")
	r20=$(awk '$1 == "run" && $2 == 20 { printf "%.2f", $4; exit }' "$S")
	digest 1 "Fairness, r:1" "close to r:1; one 10:1 run 13.42:1; 20:1 gave 19.08:1" \
		"$inside of $total runs in the 95% band; 10:1 averaged $r10:1; 20:1 gave $r20:1"
	cat <<EOF
## 1. Fairness

**Paper (§5.1).** Two tasks running the Dhrystone benchmark with ticket
allocations from 1:1 to 10:1, three 60 s runs each, and 20:1 over 180 s. The
observed iteration ratios were close to the allocations, except one 10:1 run
at 13.42:1; 20:1 gave 19.08:1.

**Run here.** Two \`lotto-burn\` CPU hogs pinned together to one CPU with
100r and 100 tickets (set with \`lotto-ctl\`), ${secs} s per run after 1 s of
settling, ${long} s for 20:1; observed is the ratio of their CPU times
(\`/proc/PID/schedstat\`). lotto-host at its defaults. Two pairs run at the
same time, one per CPU: each CPU draws its own lottery among the tasks pinned
to it. The band is what an ideal lottery gives 95% of the time for the number
of draws the run made (n = draws won by the two, at most CPU time / 5 ms, the
shortest quantum with one task waiting).

![fairness](paper/fairness.png)

| tickets | observed (each run) | draws per run | ideal lottery, 95% | Mach prototype |
| --- | --- | --- | --- | --- |
EOF
	awk '$1 == "run" {
		r = $2; o[r] = o[r] (o[r] == "" ? "" : ", ") sprintf("%.2f", $4); n[r] += $5; k[r]++; lo[r] = $7; hi[r] = $8 }
		END { for (r = 1; r <= 20; r++) if (k[r]) {
			m = r == 10 ? "one run 13.42:1" : r == 20 ? "19.08:1" : "close"
			printf "| %d:1 | %s | %d | %.2f .. %.2f | %s |\n", r, o[r], n[r] / k[r], lo[r], hi[r], m } }' "$S"
	cat <<EOF

$inside of $total runs lie inside their 95% band (an ideal lottery puts about
19 in 20 there).
EOF
	if [ $((inside * 100)) -lt $((total * 88)) ]; then
		worst=$(awk '$1 == "run" { r = $2; d = ($4 - r) / r; if (d < 0) d = -d; if (d > w) { w = d; o = sprintf("%.2f:1 for %d:1, %.0f%% off", $4, r, 100 * d) } }
			END { print o }' "$S")
		cat <<EOF
That is more outside than the lottery's own scatter explains: the band
counts only the binomial spread of the draws, as if every draw bought the
same CPU time, and it does not (a quantum ends on a timer tick, so its
length varies; compensation evens this out only on average), so the band
is a lower bound on the spread. The furthest run is
$worst; the Mach prototype's 13.42:1 for 10:1 was 34% off.
EOF
	fi
	cat <<EOF

**Why they agree.** Each of lotto's decisions is an exact lottery among the
tasks allowed on that CPU, and a task is charged the CPU time it really used
(compensation), so the CPU ratio follows the tickets with only the binomial
spread of the draws. That spread is large even here: a ${secs} s run made
about $n10 draws at 10:1 ($ms ms of CPU each), and one standard deviation of
its ratio is still about $sd10. The Mach prototype's 100 ms quanta gave a
60 s run only 600 draws, for which an ideal lottery's 95% band at 10:1
reaches from $mach_lo:1 to $mach_hi:1: its 13.42:1 was such a draw, near the
edge, not a flaw.
EOF
}

check() {
	# every run within 4.5 sigma of its allocation (a correct lottery fails
	# this about once in 150,000 runs), and 10:1 told apart from 1:1
	awk '$1 == "run" { print $2 ":1_run_" $3, $4, $9, $10 }' "$S" >"$T/runs"
	while read -r what v lo hi; do
		verdict "fairness: $what, observed ratio (4.5-sigma band)" "$v" "$lo" "$hi"
	done <"$T/runs"
	verdict "fairness: 10:1 observed ratio well above 1:1" "$(awk '$1 == "run" && $2 == 10 { print $4; exit }' "$S")" 4 1000
}

paper_main "$@"
