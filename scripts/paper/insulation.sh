#!/bin/sh
# scripts/paper/insulation.sh — experiment 6, load insulation with currencies
# (W&W '94, section 5.5).
#
# Two groups A and B funded equally; A1:A2 = 1:2, B1:B2 = 1:2; half-way
# through B3 with 3 joins B. All CPU hogs pinned to one CPU; their CPU times
# sampled from the other CPU. Measured: A:B before and after B3 joins, and
# how much each task slows down.
#
#   sh scripts/paper/insulation.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# Modes (PAPER_INS_MODES, each a separate run):
#   cgroup      the paper's experiment: A and B are cgroups, which lotto's
#               core makes currencies funded by their cpu.weight (100 each);
#               tickets 100, 200 / 100, 200, 300 set with lotto-ctl, no
#               policy: a two-level lottery, A against B, then within each
#   flat        the same tickets with every hog in the root cgroup (no
#               currencies): A:B goes from 1:1 to 1:2, the inflation that
#               currencies contain
#   fair_share  (not by default) groups are users (uid 1001 = A, 1002 = B)
#               under policies/fair_share.lua, which funds every user equally
#               and splits a user's funding by nice weight: nice 3, 0, -2 give
#               526:1024:1586 = 1:1.95:3.02 (the nearest to 1:2:3): the same
#               shares from a policy, before the core had groups
# Default "cgroup flat".
#
# Full: 60 s before B3, 60 s after. --quick: 4 s and 4 s.
# Paper: A:B 1.01:1 before B3 joins and 1.00:1 after; B1 and B2 slow to half
# their rate, A1 and A2 are unaffected.
. "$(dirname "$0")/lib.sh"
DATA="insulation insulation-phases"
CG=/sys/fs/cgroup

modes() { echo "${PAPER_INS_MODES:-cgroup flat}"; }

run() {
	paper_run_init
	half=$(pick 60 4)
	every=$(pick 1000 500)
	: >"$WORK/rows"
	: >"$WORK/phases"
	for m in $(modes); do
		one_mode "$m"
	done
	emit insulation "mode,t,a1_ns,a2_ns,b1_ns,b2_ns,b3_ns" "$WORK/rows"
	emit insulation-phases "mode,joined,end" "$WORK/phases"
}

# hog PIDVAR GROUP NICE TICKETS: a CPU hog in GROUP (a uid for fair_share,
# a cgroup directory for cgroup and flat), stopped until join() lets it run on CPU 0.
# lotto notes a task's uid, nice and cgroup when the task is created (and
# again each time it starts to run), so the hog is forked by a process that
# is already in the group, at its nice; that process exits at once.
hog() {
	if [ "$mode" = fair_share ]; then
		taskset -c 1 "$LOTTO_PAPER" as "$2" --nice "$3" sh -c "$LOTTO_BURN & kill -STOP \$!; echo \$!" >"$WORK/pid"
	else
		taskset -c 1 sh -c "echo \$\$ >$2/cgroup.procs && { $LOTTO_BURN & kill -STOP \$!; echo \$!; }" >"$WORK/pid"
	fi
	_p=$(cat "$WORK/pid")
	[ -n "$_p" ] || fail "a hog in $2 did not start"
	[ "$mode" = fair_share ] || tickets "$_p" "$4"
	eval "$1=$_p"
	SPIN_PIDS="$SPIN_PIDS $_p"
}

# join PIDS: let these hogs run, on CPU 0, once their tickets are in force.
# lotto draws a waiting task's place in the race when the task is enqueued,
# with the tickets it has then: a hog that waited on CPU 0 with the 100
# default tickets would keep that draw when fair_share raises it to 300,000,
# behind tasks funded 3,000 times better, until the starvation guard moved
# it (5 s). So the hogs stay stopped for two of fair_share's ticks (which
# fund a task that has not run yet as if it had joined its user's others).
join() {
	[ "$mode" != fair_share ] || sleep 1.2
	for _p in "$@"; do
		taskset -p 1 "$_p" >/dev/null && kill -CONT "$_p" || fail "cannot start $_p on CPU 0"
	done
}

one_mode() {
	mode=$1
	case $mode in
	fair_share)
		paper_lotto_start "$PAPER_ROOT/policies/fair_share.lua"
		ga=1001 gb=1002 ;;
	cgroup)
		paper_lotto_start
		grep -q cpu $CG/cgroup.subtree_control || echo +cpu >$CG/cgroup.subtree_control ||
			fail "cannot enable the cpu controller"
		for g in paperA paperB; do
			mkdir -p $CG/$g && echo 100 >$CG/$g/cpu.weight || fail "cannot make cgroup $g"
		done
		ga=$CG/paperA gb=$CG/paperB ;;
	flat)
		paper_lotto_start
		ga=$CG gb=$CG ;;
	*) fail "insulation: unknown mode '$mode' (cgroup, flat, fair_share)" ;;
	esac
	T0=$(now)
	# nice 3, 0, -2: weights 526, 1024, 1586 (fair_share); tickets 100, 200, 300 (cgroup)
	hog a1 $ga 3 100
	hog a2 $ga 0 200
	hog b1 $gb 3 100
	hog b2 $gb 0 200
	join $a1 $a2 $b1 $b2
	"$LOTTO_PAPER" sample --every-ms $every --count $((half * 1000 / every)) $a1 $a2 $b1 $b2 >"$WORK/before"
	hog b3 $gb -2 300
	join $b3
	joined=$(since)
	"$LOTTO_PAPER" sample --every-ms $every --count $((half * 1000 / every)) $a1 $a2 $b1 $b2 $b3 >"$WORK/after"
	end=$(since)
	[ "$mode" != cgroup ] || "$LOTTO_CTL" groups | sed 's/^/# /'
	spin_stop $a1 $a2 $b1 $b2 $b3
	lotto_stop
	[ "$mode" != cgroup ] || rmdir $CG/paperA $CG/paperB
	{ rel "$WORK/before" | sed 's/$/,0/'; rel "$WORK/after"; } | sed "s/^/$mode,/" >>"$WORK/rows"
	echo "$mode,$joined,$end" >>"$WORK/phases"
}

# per mode and phase (from 1 s after it began): each task's share of the CPU
# the five got, A:B, and each task's rate after over before
summary() {
	awk -F, '
	FNR == 1 { f++; next }
	f == 1 { m = $1; k = ++n[m]; t[m, k] = $2; for (i = 1; i <= 5; i++) c[m, k, i] = $(i + 2) }
	f == 2 { mode[++nm] = $1; j[$1] = $2 }
	function rate(m, a, b, i,   k, ka, kb) {	# ns of CPU per s of task i over [a, b]
		for (k = 1; k <= n[m]; k++) { if (!ka && t[m, k] >= a) ka = k; if (t[m, k] <= b) kb = k }
		if (i == 5 && c[m, ka, 5] == 0) return 0
		return (c[m, kb, i] - c[m, ka, i]) / (t[m, kb] - t[m, ka])
	}
	END {
		for (q = 1; q <= nm; q++) {
			m = mode[q]
			for (p = 1; p <= 2; p++) {
				a = p == 1 ? t[m, 1] + 1 : j[m] + 1; b = p == 1 ? j[m] - 0.01 : t[m, n[m]]
				tot = 0
				for (i = 1; i <= 5; i++) { r[p, i] = rate(m, a, b, i); tot += r[p, i] }
				printf "share %s %d", m, p
				for (i = 1; i <= 5; i++) printf " %.4f", r[p, i] / tot
				printf " %.3f\n", (r[p, 1] + r[p, 2]) / (r[p, 3] + r[p, 4] + r[p, 5])
			}
			printf "slowdown %s %.3f %.3f %.3f %.3f\n", m, r[2, 1] / r[1, 1], r[2, 2] / r[1, 2], r[2, 3] / r[1, 3], r[2, 4] / r[1, 4]
		}
	}' "$(csv insulation)" "$(csv insulation-phases)"
}

label() {
	case $1 in
	fair_share) echo "users under fair_share.lua" ;;
	cgroup) echo "cgroups as currencies (cpu.weight 100 each)" ;;
	flat) echo "no currencies: the same tickets, one flat lottery" ;;
	*) echo "$1" ;;
	esac
}

report() {
	ms=$(modes_of "$(csv insulation-phases)")
	nm=$(echo $ms | wc -w)
	{
		printf '%s\n' "set multiplot layout 1,$nm title \"Load insulation: groups A and B funded equally, A1:A2 = B1:B2 = 1:2, then B3 (3) joins B\nWith currencies A keeps its half and only B's tasks slow down\""
		echo 'set xlabel "time (s); dotted: B3 joins"'
		echo 'set ylabel "cumulative CPU time (s)"'
		echo 'set key top left'
		for m in $ms; do
			# columns 7..11: each task's ideal, its share of the CPU the five
			# got (with currencies A1 1/6, A2 1/3, B1 1/6 -> 1/12, B2 1/3 ->
			# 1/6, B3 1/4; flat: tickets / 600, then / 900)
			awk -F, -v m="$m" -v j="$(phase_of "$(csv insulation-phases)" "$m" 2)" '
			BEGIN {
				split("1 2 1 2 0", w1, " "); s1 = 6
				if (m == "flat") { split("1 2 1 2 3", w2, " "); s2 = 9 } else { split("2 4 1 2 3", w2, " "); s2 = 12 }
			}
			$1 == m {
				tot = 0; for (i = 3; i <= 7; i++) tot += $i / 1e9
				if (n++) for (i = 1; i <= 5; i++) id[i] += (tot - prev) * ($2 < j ? w1[i] / s1 : w2[i] / s2)
				else for (i = 1; i <= 5; i++) id[i] = $(i + 2) / 1e9
				prev = tot
				printf "%s,%.3f,%.3f,%.3f,%.3f,%s", $2, $3 / 1e9, $4 / 1e9, $5 / 1e9, $6 / 1e9, ($7 > 0 ? sprintf("%.3f", $7 / 1e9) : "NaN")
				for (i = 1; i <= 5; i++) printf ",%s", (i == 5 && $2 < j ? "NaN" : sprintf("%.3f", id[i]))
				printf "\n"
			}' "$(csv insulation)" >"$T/insulation-$m.csv"
			mark "$(phase_of "$(csv insulation-phases)" "$m" 2)"
			echo "set title \"$(label "$m")\""
			echo "plot \"$T/insulation-$m.csv\" using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'A1', \\"
			echo "  '' using 1:3 with lines lw 2 lc rgb '#aec7e8' title 'A2', \\"
			echo "  '' using 1:4 with lines lw 2 lc rgb '#d62728' title 'B1', \\"
			echo "  '' using 1:5 with lines lw 2 lc rgb '#ff9896' title 'B2', \\"
			echo "  '' using 1:6 with lines lw 2 lc rgb '#9467bd' title 'B3', \\"
			echo "  '' using 1:7 with lines lw 1 dt 2 lc rgb '#555555' title 'ideal share', \\"
			for c in 8 9 10 11; do echo "  '' using 1:$c with lines lw 1 dt 2 lc rgb '#555555' notitle, \\"; done
			echo "  1/0 notitle"
		done
		echo 'unset multiplot'
	} | plot "$DIR/insulation.png" 1200,560
	half=$(awk -F, 'NR > 1 { printf "%d", $2; exit }' "$(csv insulation-phases)")
	dg=$(for m in $ms; do
		awk -v m="$m" '$1 == "share" && $2 == m { ab[$3] = $9 } $1 == "slowdown" && $2 == m { b1 = $5 }
			END { printf "%s: A:B %.2f:1, then %.2f:1, B1 x%.2f; ", m, ab[1], ab[2], b1 }' "$S"
	done)
	digest 6 "Load insulation" "A:B 1.01:1, then 1.00:1; B1, B2 halve" "${dg%; }"
	cat <<EOF
## 6. Load insulation with currencies

**Paper (§5.5).** Currencies A and B funded equally; A1 and A2 hold 100
and 200 A tickets, B1 and B2 100 and 200 B tickets; half-way through, B3
starts with 300 B tickets. The inflation of B is contained in B: A:B was
1.01:1 before and 1.00:1 after, A1 and A2 kept their rates, B1 and B2 slowed
to half.

**Run here.** Five CPU hogs pinned to one CPU, their CPU times sampled every
second from the other CPU, ${half} s before B3 joins and ${half} s after.
lotto's core has groups (currencies): every cgroup with the cpu controller
is one, funded by its \`cpu.weight\`, and a draw is a two-level lottery, first
among the groups, then among the winning group's tasks by their tickets.
So the paper's experiment is, with no policy loaded:

* **cgroups as currencies**: cgroups A and B, \`cpu.weight\` 100 each (funded
  equally); tickets 100, 200 / 100, 200, then 300 for B3, set with
  \`lotto-ctl\`. A task's tickets count only against the other tasks of its
  group.
* **no currencies**, for contrast: the same five hogs with the same tickets
  in the root cgroup, one flat lottery, where B3's 300 tickets inflate the
  whole system's.
EOF
	if echo " $ms " | grep -q ' fair_share '; then
		cat <<EOF
* **users under \`fair_share.lua\`**: A's tasks run as uid 1001, B's as uid
  1002; the policy funds every user equally and splits a user's funding by
  nice weight (nice 3, 0 and -2: 526, 1024 and 1586, i.e. 1 : 1.95 : 3.02),
  recomputed every 500 ms: the same shares made by a policy in user space.
EOF
	fi
	cat <<EOF

![insulation](paper/insulation.png)

| run | A:B before | A:B after | A1, A2 after / before | B1, B2 after / before |
| --- | --- | --- | --- | --- |
EOF
	for m in $ms; do
		ab1=$(awk -v m="$m" '$1 == "share" && $2 == m && $3 == 1 { print $9 }' "$S")
		ab2=$(awk -v m="$m" '$1 == "share" && $2 == m && $3 == 2 { print $9 }' "$S")
		sl=$(awk -v m="$m" '$1 == "slowdown" && $2 == m { printf "%.2f, %.2f | %.2f, %.2f", $3, $4, $5, $6 }' "$S")
		echo "| $(label "$m") | $(printf %.2f "$ab1"):1 | $(printf %.2f "$ab2"):1 | $sl |"
	done
	cat <<EOF
| Mach currencies (paper) | 1.01:1 | 1.00:1 | unchanged | about 0.5 |

**Why.** With the groups funded equally, B3's tickets are B's tickets: they
dilute B1 and B2 (each keeps 1/6 instead of 1/3 of B, half its rate) and
leave A alone: A1 keeps 1/6 of the CPU, A2 1/3, and B1 falls from 1/6 to
1/12. lotto's currencies are exact in the same sense as its tickets: the
first-level draw gives A and B one half each whatever B's tickets add up
to, so A:B stays at 1:1 up to the lottery's own scatter. Without
currencies the same ticket numbers give B two thirds of the CPU once B3 has
joined (600 of 900 tickets), and A1 and A2 lose a third of their rate to a
task in another group: the inflation that currencies contain.
EOF
}

check() {
	for m in $(modes_of "$(csv insulation-phases)"); do
		ab1=$(awk -v m="$m" '$1 == "share" && $2 == m && $3 == 1 { print $9 }' "$S")
		ab2=$(awk -v m="$m" '$1 == "share" && $2 == m && $3 == 2 { print $9 }' "$S")
		set -- $(awk -v m="$m" '$1 == "slowdown" && $2 == m { print $3, $5 }' "$S")
		verdict "insulation $m: A:B before B3 (1)" "$ab1" 0.7 1.4
		if [ "$m" = flat ]; then
			verdict "insulation $m (no currencies): A:B after B3 (0.5)" "$ab2" 0.35 0.7
		else
			verdict "insulation $m: A:B after B3 (1)" "$ab2" 0.7 1.4
			verdict "insulation $m: A1 after / before (1)" "$1" 0.75 1.35
			verdict "insulation $m: B1 after / before (0.5)" "$2" 0.25 0.75
		fi
	done
}

paper_main "$@"
