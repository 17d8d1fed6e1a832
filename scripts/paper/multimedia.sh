#!/bin/sh
# scripts/paper/multimedia.sh — experiment 5, multimedia applications (W&W
# '94, section 5.4).
#
# Three tasks (`lotto-paper frames`) that each compute "frames" as fast as
# they can, pinned to one CPU, with tickets 3:2:1 (300, 200, 100) set from
# lotto-shell; half-way through, lotto-shell changes them to 3:1:2 while they
# run. Each reports its frame count every 250 ms; plotted: frame rates in 1 s
# windows, the change marked, with the rates an ideal lottery gives.
#
#   sh scripts/paper/multimedia.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# Full: 60 s per allocation. --quick: 4 s.
# Paper (three MPEG viewers): 1.92:1.50:1 then 1.92:1:1.53 with display
# (the X server, not the CPU, was the bottleneck), 3.06:2.04:1 without.
. "$(dirname "$0")/lib.sh"
DATA="multimedia multimedia-phases"
FRAME=1000000	# units of work per frame (lotto-paper frames --frame)

run() {
	paper_run_init
	half=$(pick 60 4)
	paper_lotto_start
	T0=$(now)
	for k in 1 2 3; do
		bg_task pid "$WORK/frames.$k" 0 "$LOTTO_PAPER" frames --frame $FRAME --every-ms 250 --seconds $((2 * half + 1))
		eval "f_$k=\$pid"
	done
	shell "tickets $f_1 300; tickets $f_2 200; tickets $f_3 100"
	set_t=$(since)
	sleep_until "$half"
	shell "tickets $f_2 100; tickets $f_3 200"
	change_t=$(since)
	wait $f_1 $f_2 $f_3
	lotto_stop
	for k in 1 2 3; do rel "$WORK/frames.$k" | sed "s/^/$k,/"; done | emit multimedia "task,t,frames"
	end_t=$(rel "$WORK/frames.1" | tail -n 1 | cut -d, -f1)
	echo "$set_t,$change_t,$end_t" | emit multimedia-phases "tickets_set,changed,end"
}

# frame rates in 1 s windows; per phase (from 1 s after a ticket change)
# the mean rates and their ratios
summary() {
	awk -F, '
	FNR == 1 { f++; next }
	f == 1 { k = $1; n[k]++; t[k, n[k]] = $2; c[k, n[k]] = $3 }
	f == 2 { s = $1; ch = $2; e = $3 }
	function at(k, x,   i) {
		if (x <= t[k, 1]) return c[k, 1] * x / t[k, 1]
		for (i = 2; i <= n[k]; i++)
			if (x <= t[k, i]) return c[k, i - 1] + (c[k, i] - c[k, i - 1]) * (x - t[k, i - 1]) / (t[k, i] - t[k, i - 1])
		return c[k, n[k]]
	}
	END {
		for (x = 1; x <= e; x++)
			printf "window %d %.2f %.2f %.2f\n", x, at(1, x) - at(1, x - 1), at(2, x) - at(2, x - 1), at(3, x) - at(3, x - 1)
		for (p = 1; p <= 2; p++) {
			a = (p == 1 ? s : ch) + 1; b = p == 1 ? ch : e
			for (k = 1; k <= 3; k++) r[k] = (at(k, b) - at(k, a)) / (b - a)
			m = p == 1 ? r[3] : r[2]
			printf "phase %d %.2f %.2f %.2f %.2f %.2f %.2f %.1f %.1f\n", p, r[1], r[2], r[3], r[1] / m, r[2] / m, r[3] / m, a, b
		}
		printf "times %.2f %.2f %.2f\n", s, ch, e
	}' "$(csv multimedia)" "$(csv multimedia-phases)"
}

report() {
	awk '$1 == "window" { print $2 - 0.5 "," $3 "," $4 "," $5 }' "$S" >"$T/multimedia-rates.csv"
	# the ideal lottery's rates: each phase's total rate split 3:2:1 / 3:1:2
	awk '$1 == "phase" { tot = $3 + $4 + $5
		if ($2 == 1) { w1 = 3; w2 = 2; w3 = 1 } else { w1 = 3; w2 = 1; w3 = 2 }
		line = sprintf(",%.2f,%.2f,%.2f", tot * w1 / 6, tot * w2 / 6, tot * w3 / 6)
		print $9 - 1 line; print $10 line; print "" }' "$S" >"$T/multimedia-ideal.csv"
	ch=$(awk '$1 == "times" { print $3 }' "$S")
	plot "$DIR/multimedia.png" 960,900 <<EOF
set multiplot layout 2,1 title "Three frame-producing tasks with tickets 3:2:1, changed to 3:1:2 live from lotto-shell\nEach task should follow its dashed line (the ideal lottery's share)"
set xlabel "time (s); dotted: tickets changed"
set key outside right top
set yrange [0:*]
$(mark "$ch")
set title "frame rates (they move together when the emulated machine's speed varies)"
set ylabel "frames per second (1 s windows)"
plot "$T/multimedia-rates.csv" using 1:2 with lines lw 2 lc rgb "#1f77b4" title "A (300 tickets)", \
     "" using 1:3 with lines lw 2 lc rgb "#ff7f0e" title "B (200, then 100)", \
     "" using 1:4 with lines lw 2 lc rgb "#2ca02c" title "C (100, then 200)", \
     "$T/multimedia-ideal.csv" using 1:2 with lines dt 2 lc rgb "#1f77b4" notitle, \
     "" using 1:3 with lines dt 2 lc rgb "#ff7f0e" notitle, \
     "" using 1:4 with lines dt 2 lc rgb "#2ca02c" notitle
set title "each task's share of the frames (independent of the machine's speed)"
set ylabel "share of the frames (1 s windows)"
set yrange [0:1]
plot "$T/multimedia-rates.csv" using 1:(\$2 / (\$2 + \$3 + \$4)) with lines lw 2 lc rgb "#1f77b4" title "A (3/6)", \
     "" using 1:(\$3 / (\$2 + \$3 + \$4)) with lines lw 2 lc rgb "#ff7f0e" title "B (2/6, then 1/6)", \
     "" using 1:(\$4 / (\$2 + \$3 + \$4)) with lines lw 2 lc rgb "#2ca02c" title "C (1/6, then 2/6)", \
     "$T/multimedia-ideal.csv" using 1:(\$2 / (\$2 + \$3 + \$4)) with lines dt 2 lc rgb "#1f77b4" notitle, \
     "" using 1:(\$3 / (\$2 + \$3 + \$4)) with lines dt 2 lc rgb "#ff7f0e" notitle, \
     "" using 1:(\$4 / (\$2 + \$3 + \$4)) with lines dt 2 lc rgb "#2ca02c" notitle
unset multiplot
EOF
	p1=$(awk '$1 == "phase" && $2 == 1 { print $6 ":" $7 ":1" }' "$S")
	p2=$(awk '$1 == "phase" && $2 == 2 { print $6 ":1:" $8 }' "$S")
	half=$(awk '$1 == "times" { printf "%d", $3 - $2 }' "$S")
	digest 5 "Multimedia, 3:2:1 then 3:1:2" "3.06:2.04:1 without display" "$p1, then $p2"
	cat <<EOF
## 5. Multimedia: changing tickets while the tasks run

**Paper (§5.4).** Three MPEG viewers with tickets 3:2:1, changed to 3:1:2
during the run. With their frames displayed the rates were 1.92:1.50:1 and
then 1.92:1:1.53 (the X server, which held no tickets of theirs, was a
bottleneck); without display, 3.06:2.04:1.

**Run here.** Three \`lotto-paper frames\` tasks (a frame is a fixed amount
of computation) pinned to one CPU; \`lotto-shell -c 'tickets PID 300; ...'\`
sets 300, 200 and 100 tickets, and after ${half} s \`lotto-shell\` changes the
second and third to 100 and 200 while everything runs. Frame rates in 1 s
windows; each allocation's ratio is measured from 1 s after the change.
There is no display: this is the paper's "without display" case.

![multimedia](paper/multimedia.png)

| allocation | lotto | paper, without display | paper, with display |
| --- | --- | --- | --- |
| 3:2:1 | $p1 | 3.06:2.04:1 | 1.92:1.50:1 |
| 3:1:2 | $p2 | | 1.92:1:1.53 |

**Why they agree.** Without a display the tasks are pure computation and a
frame rate is a CPU share, which follows the tickets as in experiment 1. A
ticket change takes effect at the task's next draw, so the rates move within
the first window after \`lotto-shell\` returns. The paper's display numbers
were bent by the X server doing work for the viewers on its own tickets;
that is experiment 4's problem (transfers), not the lottery's.
EOF
}

check() {
	set -- $(awk '$1 == "phase" && $2 == 1 { print $6, $7 }' "$S")
	verdict "multimedia 3:2:1: A / C (3)" "$1" 1.8 5
	verdict "multimedia 3:2:1: B / C (2)" "$2" 1.2 3.5
	set -- $(awk '$1 == "phase" && $2 == 2 { print $6, $8 }' "$S")
	verdict "multimedia 3:1:2: A / B (3)" "$1" 1.8 5
	verdict "multimedia 3:1:2: C / B (2)" "$2" 1.2 3.5
}

paper_main "$@"
