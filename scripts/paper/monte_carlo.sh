#!/bin/sh
# scripts/paper/monte_carlo.sh — experiment 3, Monte-Carlo with dynamic
# tickets (W&W '94, section 5.2).
#
# Three identical Monte-Carlo integrations (`lotto-paper mc`) pinned to one
# CPU, started D seconds apart, under lotto-host policies/monte_carlo.lua,
# which funds each in proportion to the square of its relative error (the
# task names its thread after its error; see the policy). Each task reports
# its trials every 250 ms; plotted: cumulative trials against time.
#
#   sh scripts/paper/monte_carlo.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# Full: D = 40 s, 200 s in all. --quick: D = 3 s, 12 s.
# Paper: a task that starts late has a large error, gets most of the CPU and
# catches up; the curves of the late starters converge on the first one.
. "$(dirname "$0")/lib.sh"
DATA="monte_carlo monte_carlo-starts"

run() {
	paper_run_init
	d=$(pick 40 3)
	secs=$(pick 200 12)
	paper_lotto_start "$PAPER_ROOT/policies/monte_carlo.lua"
	T0=$(now)
	# all three at once, the later ones waiting (named "mc -": no estimate
	# yet) until their start; each prints "t 0 1.0" when it starts
	for k in 1 2 3; do
		bg_task pid "$WORK/mc.$k" 0 "$LOTTO_PAPER" mc --every-ms 250 --delay-ms $(((k - 1) * d * 1000)) --seconds $((secs - (k - 1) * d))
		eval "mc_$k=\$pid"
	done
	# how often the starvation guard ran each, near the end
	sleep_until $((secs - 1))
	for k in 1 2 3; do eval "echo \$k,\$(field \$mc_$k rescues),\$(field \$mc_$k wins)"; done >"$WORK/rescues"
	wait $mc_1 $mc_2 $mc_3
	lotto_stop
	for k in 1 2 3; do rel "$WORK/mc.$k" | sed "s/^/$k,/"; done >"$WORK/rows"
	emit monte_carlo "task,t,trials,rel_error" "$WORK/rows"
	awk -F, '$3 == 0 { print $1 "," $2 }' "$WORK/rows" | emit monte_carlo-starts "task,t"
	emit monte_carlo-guard "task,rescues,wins" "$WORK/rescues"
}

# final trials per task; the youngest task's share of all trials in the
# first D/2 after it started (an equal split would give it 1/3)
summary() {
	awk -F, '
	FNR == 1 { f++; next }
	f == 1 { k = $1; n[k]++; t[k, n[k]] = $2; c[k, n[k]] = $3 }
	f == 2 { s[$1] = $2 }
	function at(k, x,   i) {	# trials of task k at time x, interpolated
		if (x <= s[k] || !n[k]) return 0
		if (x <= t[k, 1]) return c[k, 1] * (x - s[k]) / (t[k, 1] - s[k])
		for (i = 2; i <= n[k]; i++)
			if (x <= t[k, i]) return c[k, i - 1] + (c[k, i] - c[k, i - 1]) * (x - t[k, i - 1]) / (t[k, i] - t[k, i - 1])
		return c[k, n[k]]
	}
	END {
		for (k = 1; k <= 3; k++) printf "final %d %.0f\n", k, c[k, n[k]]
		printf "final_ratio %.3f %.3f\n", c[2, n[2]] / c[1, n[1]], c[3, n[3]] / c[1, n[1]]
		h = (s[3] - s[2]) / 2
		for (k = 2; k <= 3; k++) {
			a = s[k]; b = s[k] + h; tot = 0
			for (j = 1; j <= 3; j++) tot += at(j, b) - at(j, a)
			printf "early_share %d %.3f %.1f\n", k, (at(k, b) - at(k, a)) / tot, h
		}
	}' "$(csv monte_carlo)" "$(csv monte_carlo-starts)"
}

report() {
	for k in 1 2 3; do
		awk -F, -v k=$k 'NR > 1 && $1 == k { print $2 "," $3 / 1e6 }' "$(csv monte_carlo)" >"$T/monte_carlo-$k.csv"
	done
	starts=$(awk -F, 'NR > 1 { printf "%s%.1f", sep, $2; sep = " " }' "$(csv monte_carlo-starts)")
	{
		mark $starts
		cat <<EOF
set title "Monte-Carlo tasks funded by the square of their relative error (policies/monte_carlo.lua)\nEach late starter gets most of the CPU until it has caught up: the curves converge"
set xlabel "time (s); dotted lines: a task starts"
set ylabel "cumulative trials (millions)"
plot "$T/monte_carlo-1.csv" using 1:2 with lines lw 2 lc rgb "#1f77b4" title "task 1", \
     "$T/monte_carlo-2.csv" using 1:2 with lines lw 2 lc rgb "#ff7f0e" title "task 2", \
     "$T/monte_carlo-3.csv" using 1:2 with lines lw 2 lc rgb "#2ca02c" title "task 3"
EOF
	} | plot "$DIR/monte_carlo.png"
	set -- $(awk '$1 == "final_ratio" { print $2, $3 }' "$S")
	f2=$1 f3=$2
	set -- $(awk '$1 == "early_share" { printf "%s %s ", $3, $4 }' "$S")
	e2=$1 h=$2 e3=$3
	secs=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { printf "%d", m }' "$(csv monte_carlo)")
	digest 3 "Monte-Carlo, funding by error²" "late starters catch up and converge" \
		"task 3 got $e3 of the CPU in its first ${h} s; trials at the end 1 : $f2 : $f3"
	cat <<EOF
## 3. Monte-Carlo with dynamic tickets

**Paper (§5.2).** Three identical Monte-Carlo integrations, started at
different times, each setting its own tickets in proportion to the square of
its relative error. A new task has a large error and so gets most of the CPU
at first; it catches up and the three converge on the same rate (the paper's
figure of cumulative trials against time).

**Run here.** Three \`lotto-paper mc\` tasks (estimating the integral of
4/(1+x²) over [0,1], i.e. π) pinned to one CPU, started at $(echo "$starts" | sed 's/ /, /g') s, ${secs} s
in all, under \`lotto-host policies/monte_carlo.lua\`. Each task names its
thread after its relative error (\`mc 1.234e-03\`); the policy reads the name
from lotto's task table every 100 ms and divides one fund of 10^6 tickets
among the tasks in proportion to error². The tasks themselves do not touch
their tickets.

![Monte-Carlo](paper/monte_carlo.png)

| | lotto | paper |
| --- | --- | --- |
| task 2's share of the CPU in its first ${h} s (even split: 0.50 with 2 tasks) | $e2 | most of it |
| task 3's share of the CPU in its first ${h} s (even split: 0.33) | $e3 | most of it |
| trials at the end, task 2 / task 1 | $f2 | converging on 1 |
| trials at the end, task 3 / task 1 | $f3 | converging on 1 |

**Why they agree.** Funding by error² is funding by 1/trials, so a task's
share is large exactly while it is behind, and the lottery turns the funding
into CPU within a few quanta. The convergence is not exponential: once two
tasks are close, their funding is close too, and the remaining gap closes
only as fast as the total grows (the relative gap falls with the square of
the total number of trials). One detail differs from Mach, where each task
set its own tickets: here the error travels through the thread's name, which
lotto copies into its statistics when the task starts to run, so a task on a
long winning streak is funded by the error it had when the streak began; at
the start that lets a new task run a little longer before the others get a
turn.
EOF
}

check() {
	verdict "monte_carlo: task 3's CPU share just after it started" "$(awk '$1 == "early_share" && $2 == 3 { print $3 }' "$S")" 0.5 1
	verdict "monte_carlo: trials at the end, task 3 / task 1" "$(awk '$1 == "final_ratio" { print $3 }' "$S")" 0.5 1.5
}

paper_main "$@"
