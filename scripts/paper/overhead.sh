#!/bin/sh
# scripts/paper/overhead.sh — experiment 7, system overhead (W&W '94,
# section 5.6).
#
# Two benchmarks under the kernel's default scheduler (EEVDF) and under lotto
# (lotto-host at its defaults), in interleaved rounds (default-lotto, then
# lotto-default, ...) so that drifts of the emulated machine hit both alike:
#   cpu        four CPU-bound `lotto-paper frames` tasks on the 2 CPUs, S s of
#              wall time: frames per second, all four together
#   hackbench  `hackbench -g 4 -l 100` (processes and sockets): seconds
# Timings in a TCG VM are emulated: only ratios within one boot mean
# anything, and the spread between rounds is large; the medians are compared.
#
#   sh scripts/paper/overhead.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# Full: 5 rounds, S = 10. --quick: 2 rounds, S = 2, hackbench -g 2 -l 30.
# Paper: lottery scheduling's throughput within -0.8% .. -2.7% of unmodified
# Mach, within the noise.
. "$(dirname "$0")/lib.sh"
DATA=overhead
FRAME=1000000

run() {
	paper_run_init
	rounds=$(pick 5 2)
	secs=$(pick 10 2)
	hb=$(pick "-g 4 -l 100" "-g 2 -l 30")
	: >"$WORK/rows"
	i=1
	while [ $i -le "$rounds" ]; do
		if [ $((i % 2)) = 1 ]; then order="default lotto"; else order="lotto default"; fi
		for s in $order; do
			[ $s = default ] || paper_lotto_start
			fps=$(cpu_bench "$secs")
			# shellcheck disable=SC2086
			hbt=$(hackbench $hb 2>&1 | awk '/^Time:/ { print $2 }')
			[ -n "$hbt" ] || fail "hackbench did not report its time"
			[ $s = default ] || lotto_stop
			say "round $i $s: cpu $fps frames/s, hackbench $hbt s"
			echo "$i,$s,$fps,$hbt" >>"$WORK/rows"
		done
		i=$((i + 1))
	done
	emit overhead "round,scheduler,cpu_frames_per_s,hackbench_s" "$WORK/rows"
}

# cpu_bench S: four unpinned frame tasks for S s; frames per second of all
cpu_bench() {
	_p=
	for _k in 1 2 3 4; do
		"$LOTTO_PAPER" frames --frame $FRAME --every-ms 100000 --seconds "$1" >"$WORK/cpu.$_k" &
		_p="$_p $!"
	done
	wait $_p
	tail -q -n 1 "$WORK"/cpu.? | awk -v s="$1" '{ n += $2 } END { printf "%.2f\n", n / s }'
}

# medians per scheduler, lotto's relative to the default's
summary() {
	for col in 3 4; do
		for s in default lotto; do
			awk -F, -v s=$s -v c=$col 'NR > 1 && $2 == s { print $c }' "$(csv overhead)" | sort -n |
				awk -v s=$s -v c=$col '{ v[NR] = $1 } END {
					m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
					printf "median %s %s %.4f %.4f %.4f\n", c == 3 ? "cpu" : "hackbench", s, m, v[1], v[NR] }'
		done
	done | awk '{ print } $3 == "default" { d[$2] = $4 } $3 == "lotto" { l[$2] = $4 }
		END { printf "change cpu %.2f\n", 100 * (l["cpu"] / d["cpu"] - 1)
		      printf "change hackbench %.2f\n", 100 * (d["hackbench"] / l["hackbench"] - 1) }'
}

report() {
	awk -F, 'NR > 1 { print $1 "," ($2 == "lotto") "," $3 "," $4 }' "$(csv overhead)" >"$T/overhead-rounds.csv"
	dc=$(awk '$1 == "median" && $2 == "cpu" && $3 == "default" { print $4 }' "$S")
	dh=$(awk '$1 == "median" && $2 == "hackbench" && $3 == "default" { print $4 }' "$S")
	plot "$DIR/overhead.png" 1100,520 <<EOF
set multiplot layout 1,2 title "Overhead: throughput under lotto relative to the default scheduler (EEVDF), interleaved rounds\nThe paper found lottery scheduling within a few percent of Mach; 1.0 = the default scheduler's median"
set ylabel "throughput / default's median"
set xlabel "round"
set yrange [0:*]
set xrange [0.5:$(awk -F, 'NR > 1 { n = $1 } END { print n + 0.5 }' "$(csv overhead)")]
set xtics 1
set key bottom right
set title "CPU-bound: 4 tasks on 2 CPUs (frames/s)"
plot "$T/overhead-rounds.csv" using (\$2 == 0 ? \$1 - 0.1 : NaN):(\$3 / $dc) with points pt 7 ps 1.5 lc rgb "#7f7f7f" title "default", \
     "" using (\$2 == 1 ? \$1 + 0.1 : NaN):(\$3 / $dc) with points pt 7 ps 1.5 lc rgb "#1f77b4" title "lotto", \
     1 with lines dt 2 lc rgb "#444444" notitle
set title "hackbench (1 / time)"
plot "$T/overhead-rounds.csv" using (\$2 == 0 ? \$1 - 0.1 : NaN):($dh / \$4) with points pt 7 ps 1.5 lc rgb "#7f7f7f" title "default", \
     "" using (\$2 == 1 ? \$1 + 0.1 : NaN):($dh / \$4) with points pt 7 ps 1.5 lc rgb "#1f77b4" title "lotto", \
     1 with lines dt 2 lc rgb "#444444" notitle
unset multiplot
EOF
	row() { awk -v b="$1" -v u="$2" '$1 == "median" && $2 == b { printf "| %s | %.2f %s (%.2f .. %.2f) ", $3, $4, u, $5, $6 }' "$S"; }
	rounds=$(awk -F, 'NR > 1 { n = $1 } END { print n }' "$(csv overhead)")
	cc=$(awk '$1 == "change" && $2 == "cpu" { print $3 }' "$S")
	hc=$(awk '$1 == "change" && $2 == "hackbench" { print $3 }' "$S")
	digest 7 "Overhead" "-0.8% .. -2.7%, within noise" \
		"CPU-bound $(printf %+.1f "$cc")%, hackbench $(printf %+.1f "$hc")% (medians)"
	cat <<EOF
## 7. Overhead

**Paper (§5.6).** Throughput under the lottery scheduler against unmodified
Mach: between 0.8% and 2.7% lower, within the noise of the measurements.

**Run here.** In one boot, $rounds interleaved rounds (default then lotto, then
lotto then default, ...); in each, four CPU-bound \`lotto-paper frames\`
tasks on the two CPUs (frames per second of all four) and \`hackbench\`
(processes and sockets; seconds, lower is better). lotto-host at its
defaults. TCG emulates the CPU: only ratios within this boot mean anything.

![overhead](paper/overhead.png)

| scheduler | CPU-bound, median (min .. max) | hackbench, median (min .. max) |
| --- | --- | --- |
$(awk '$1 == "median" { v[$2, $3] = sprintf("%.2f (%.2f .. %.2f)", $4, $5, $6) }
	END { printf "| default (EEVDF) | %s frames/s | %s s |\n| lotto | %s frames/s | %s s |\n", v["cpu", "default"], v["hackbench", "default"], v["cpu", "lotto"], v["hackbench", "lotto"] }' "$S")

| throughput under lotto | lotto | paper |
| --- | --- | --- |
| CPU-bound | $(printf %+.1f "$cc")% | -0.8% .. -2.7% (Dhrystone and a database server) |
| hackbench | $(printf %+.1f "$hc")% | |

**Why.** For CPU-bound work a lottery costs a draw per quantum, a few
hundred nanoseconds of BPF against milliseconds of useful work, so its
throughput matches the default scheduler's within the spread of the rounds,
as on Mach. hackbench is a storm of wake-ups among 160 tasks: there the
question is who runs next after each message, and lotto's answer (a random
draw weighted by tickets, with compensation for the short bursts) keeps
more tasks waiting than the default scheduler, which always runs the woken
receiver soon; the paper had no such benchmark. docs/benchmarks.md follows
this gap over time.
EOF
}

check() {
	verdict "overhead: CPU-bound throughput under lotto / default" \
		"$(awk '$1 == "change" && $2 == "cpu" { print 1 + $3 / 100 }' "$S")" 0.6 1.5
	verdict "overhead: hackbench ran under both (lotto's median s > 0)" \
		"$(awk '$1 == "median" && $2 == "hackbench" && $3 == "lotto" { print $4 }' "$S")" 0.001 100000
}

paper_main "$@"
