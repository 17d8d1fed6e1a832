#!/usr/bin/env bash
# scripts/paper.sh — Waldspurger & Weihl's experiments ("Lottery Scheduling:
# Flexible Proportional-Share Resource Management", OSDI '94, section 5),
# rerun on the real kernel with lotto: data, figures and docs/paper.md.
#
#   scripts/paper.sh [--quick] [--only "NAME..."] [--out DIR] [--check]
#                    [--here] [--replot]
#
# Boots the sched_ext kernel once (scripts/vm.sh, 2 CPUs) and runs every
# experiment in it (scripts/paper/NAME.sh; each is also a reader's way in):
#   fairness       1. two tasks r:1, r = 1..10 three times 60 s, 20:1 180 s
#   over_time      2. 2:1 for 200 s, the ratio in 8 s and 1 s windows
#   monte_carlo    3. three Monte-Carlo tasks under policies/monte_carlo.lua
#   client_server  4. clients 8:3:1 and a server without tickets, with transfers
#   multimedia     5. three frame loops 3:2:1, changed to 3:1:2 from lotto-shell
#   insulation     6. cgroups A and B (currencies) funded equally, B3 joins B
#   overhead       7. CPU-bound throughput and hackbench against the default
# The data land as CSV in OUT/paper/, the figures as PNG (gnuplot) beside them,
# the console log as OUT/paper/run.log, and OUT/paper.md puts each experiment's
# figure and numbers next to the paper's. The full run takes about 45 minutes.
#
# Options:
#   --quick        every experiment shortened to a few seconds (the smoke
#                  test); OUT defaults to $LOTTO_BUILD/paper-quick
#   --only NAMES   run only these experiments (the report still shows the
#                  others from the CSVs already in OUT/paper)
#   --out DIR      where paper.md and paper/ go (default: docs)
#   --check        after the run, check that every experiment run produced
#                  its CSV and PNG and that the paper's quantities lie in
#                  generous bands; exit 1 if not
#   --here         run on this machine's kernel (root, sched_ext) instead of
#                  in the VM
#   --replot       do not run anything: redraw the figures and paper.md from
#                  the CSVs in OUT/paper
#   -h, --help     this text
#
# Settings passed on to the experiments (see each script): PAPER_CS_MODES,
# PAPER_INS_MODES (which runs each of those two makes).
#
# Environment: LOTTO_BUILD (build directory, default ./build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LOTTO_BUILD=${LOTTO_BUILD:-$ROOT/build}
ALL="fairness over_time monte_carlo client_server multimedia insulation overhead"
ONLY=$ALL QUICK=0 OUT= CHECK=0 HERE=0 REPLOT=0
die() { echo "paper.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1; shift ;;
	--only)
		[ $# -ge 2 ] || die "--only needs experiment names"
		for e in $2; do [[ " $ALL " == *" $e "* ]] || die "no experiment '$e' (one of: $ALL)"; done
		ONLY=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--check) CHECK=1; shift ;;
	--here) HERE=1; shift ;;
	--replot) REPLOT=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
done
if [ -z "$OUT" ]; then
	if [ $QUICK = 1 ]; then OUT=$LOTTO_BUILD/paper-quick; else OUT=$ROOT/docs; fi
fi
mkdir -p "$OUT/paper"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/paper
command -v gnuplot >/dev/null || die "gnuplot is not installed: run scripts/setup.sh (gnuplot-nox)"

# ---- 1. run, in one boot
rc=0
if [ $REPLOT = 0 ]; then
	[ -x "$LOTTO_BUILD/bin/lotto-paper" ] || die "no $LOTTO_BUILD/bin/lotto-paper: build first (scripts/setup.sh)"
	envs=(PAPER_QUICK=$QUICK)
	for v in PAPER_CS_MODES PAPER_INS_MODES; do
		[ -z "${!v:-}" ] || envs+=("$v=${!v}")
	done
	if [ $HERE = 1 ]; then
		[ -d /sys/kernel/sched_ext ] || die "--here needs a kernel with sched_ext (/sys/kernel/sched_ext)"
		[ "$(id -u)" = 0 ] || die "--here needs root"
		cmd=(env "${envs[@]}" sh "$ROOT/scripts/paper/run-vm.sh" $ONLY)
	else
		if [ $QUICK = 1 ]; then timeout=900; else timeout=4800; fi
		cmd=("$ROOT/scripts/vm.sh" --cpus 2 --timeout $timeout -- env "${envs[@]}" sh "$ROOT/scripts/paper/run-vm.sh" $ONLY)
	fi
	commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
	echo "paper.sh: running $ONLY ($([ $QUICK = 1 ] && echo quick || echo full); log in $DATA/run.log)"
	# the host's load while it runs (TCG: a VM held up by other work shows
	# as time jumps in the guest): every 30 s, the 1-minute load average and
	# how many other VMs run
	echo "time,load1,other_vms" >"$DATA/host.csv"
	(
		own=$([ $HERE = 1 ] && echo 0 || echo 1)
		while :; do
			vms=$(ps -eo args | grep -c '^qemu-system' || true)
			echo "$(date -u +%H:%M:%S),$(cut -d' ' -f1 /proc/loadavg),$((vms > own ? vms - own : 0))"
			sleep 30
		done
	) >>"$DATA/host.csv" 2>/dev/null &
	sampler=$!
	set +e
	"${cmd[@]}" 2>&1 | tee "$DATA/run.log.tmp"
	rc=${PIPESTATUS[0]}
	set -e
	kill $sampler 2>/dev/null || true
	# the CSV blocks: "@@paper-csv NAME@@" ... "@@paper-end@@"
	awk -v dir="$DATA" '
		/^@@paper-csv [A-Za-z0-9_.-]+@@$/ { f = $2; sub(/@@$/, "", f); f = dir "/" f ".csv"; printf "" > f; next }
		/^@@paper-end@@$/ { if (f) close(f); f = ""; next }
		f { print > f }' "$DATA/run.log.tmp"
	mv "$DATA/run.log.tmp" "$DATA/run.log"
	echo "$commit" >"$DATA/commit"	# the code the run packed, not what is there at its end
	[ $rc = 0 ] || echo "paper.sh: the run ended with status $rc (experiments that failed: see above)" >&2
fi

# ---- 2. figures and paper.md
meta() { awk -F, -v k="$1" '$1 == k { print $2 }' "$DATA/meta.csv" 2>/dev/null; }
sections=$DATA/sections.md.tmp
: >"$sections"
: >"$DATA/digest.tmp"
n=0
for e in $ALL; do
	n=$((n + 1))
	if PAPER_DIGEST=$DATA/digest.tmp sh "$ROOT/scripts/paper/$e.sh" report "$DATA" >"$DATA/$e.md.tmp" 2>"$DATA/$e.err"; then
		cat "$DATA/$e.md.tmp" >>"$sections"
	else
		printf '## %d. %s\n\n*Not in this run: no data in paper/%s.csv (see \`scripts/paper/%s.sh\`).*\n' "$n" "$e" "$e" "$e" >>"$sections"
	fi
	printf '\n' >>"$sections"
	rm -f "$DATA/$e.md.tmp"
	[ -s "$DATA/$e.err" ] || rm -f "$DATA/$e.err"
done
if [ "$(meta quick)" = 1 ]; then how="scripts/paper.sh --quick"; else how="scripts/paper.sh"; fi
# the host's load during the run, if it was sampled
host=
if [ "$(wc -l <"$DATA/host.csv" 2>/dev/null || echo 0)" -ge 2 ]; then
	host=$(awk -F, 'NR > 1 { n++; l[n] = $2; if ($2 > mx) mx = $2; if ($3 > 0) o++; if ($3 > mo) mo = $3; if (n == 1) a = $1; b = $1 }
		END {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (l[j] < l[i]) { x = l[i]; l[i] = l[j]; l[j] = x }
			printf "The host (2 cores) was sampled every 30 s from %s to %s UTC: load average median %.1f, at most %.1f", a, b, l[int((n + 1) / 2)], mx
			if (o) printf "; other VMs ran alongside in %d of %d samples (up to %d at once), so the VM was at times held up by the host and its timings are noisier than on a quiet machine.", o, n, mo
			else printf "; no other VM ran alongside."
		}' "$DATA/host.csv")
fi
{
	cat <<EOF
# The lottery scheduling paper, reproduced with lotto

Carl A. Waldspurger and William E. Weihl, "Lottery Scheduling: Flexible
Proportional-Share Resource Management", OSDI '94, section 5, measured their
lottery scheduler for Mach 3.0 with seven experiments. This page reruns
each of them on Linux with lotto and puts lotto's figures next to theirs.
Everything on it, the figures and the numbers, was made by one command:

\`\`\`
$how
\`\`\`

run on $(meta date) at commit $(cat "$DATA/commit" 2>/dev/null || echo unknown) in one boot of
the sched_ext kernel $(meta kernel) under qemu (TCG, $(meta cpus) virtual CPUs):
\`scripts/vm.sh\`. With \`--here\` it runs on a machine whose own kernel has
sched_ext; \`--only NAME\` runs one experiment, \`--replot\` redraws from the
CSVs. Each experiment is one script in \`scripts/paper/\` (what it runs, how
it is plotted, what it checks), with its workloads in \`lotto-paper\`
(\`tests/paper/\`); the raw data are the CSV files in \`docs/paper/\` and the
console log \`docs/paper/run.log\`.
${host:+
$host
}
How to read the numbers. TCG emulates the CPU, so times and rates are only
compared within one boot; the CPU time each task got (\`/proc/PID/schedstat\`)
and lotto's own count of draws are exact. Like the paper's machine, the
experiments run their tasks on one CPU (\`taskset\`; the measuring shell sits
on the other), except the overhead benchmarks, which use both. lotto-host runs
at its defaults (quanta of 10 ms latency / (waiting tasks + 1), at most 20 ms,
compensation and wake-up preemption on) except where an experiment loads a
policy or turns on transfers. Where a figure shows a band, it is what an
ideal lottery gives 95% of the time for the number of draws actually made: a
correct lottery scatters inside it, about one point in twenty outside.

| experiment | paper (Mach, 100 ms quanta) | lotto |
| --- | --- | --- |
EOF
	cat "$DATA/digest.tmp"
	echo
	cat "$sections"
} >"$OUT/paper.md"
rm -f "$sections" "$DATA/digest.tmp"
echo "paper.sh: wrote $OUT/paper.md and the figures in $DATA"

# ---- 3. the smoke test's checks
if [ $CHECK = 1 ]; then
	bad=0
	verdicts=$(mktemp)
	for e in $ONLY; do
		for f in "$DATA/$e.csv" "$DATA/$e.png"; do
			if [ -s "$f" ]; then echo "ok    $e produced ${f##*/}"; else echo "FAIL  $e produced no ${f##*/}"; bad=1; fi
		done
		[ -s "$DATA/$e.csv" ] || continue
		sh "$ROOT/scripts/paper/$e.sh" check "$DATA" || echo "FAIL  $e: its check failed (status $?)"
	done | tee "$verdicts"	# a subshell: what failed is read back from the verdicts
	grep -q '^FAIL' "$verdicts" && bad=1
	[ $rc = 0 ] || { echo "FAIL  the run itself failed (status $rc)" | tee -a "$verdicts"; bad=1; }
	if [ $bad != 0 ]; then
		# the failures again, last: a log cut to its ends still shows them
		echo "paper.sh: checks failed:"
		grep '^FAIL' "$verdicts" || true
		rm -f "$verdicts"
		exit 1
	fi
	rm -f "$verdicts"
	echo "paper.sh: every check passed"
fi
exit $rc
