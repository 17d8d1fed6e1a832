# scripts/paper/lib.sh — shared by the experiments in scripts/paper/ (POSIX
# sh, sourced). Each experiment NAME.sh is one of Waldspurger & Weihl's
# (OSDI '94, section 5) and has three parts:
#
#   sh scripts/paper/NAME.sh run           on the sched_ext kernel (in the VM
#                                          or --here): runs it, prints its
#                                          data as CSV blocks on stdout
#   sh scripts/paper/NAME.sh report DIR    on the host: DIR/NAME*.csv ->
#                                          DIR/NAME.png (gnuplot) and its
#                                          section of paper.md on stdout
#   sh scripts/paper/NAME.sh check DIR     the smoke test's generous bands:
#                                          one line per quantity, exit 1 if
#                                          one lies outside
#
# scripts/paper.sh runs them all in one boot and assembles docs/paper.md; a
# reader can run one alone with `scripts/paper.sh --only NAME`.
#
# Settings reach the run part through the environment: PAPER_QUICK=1 for
# the short version (a few seconds per experiment); see each script for its
# own.
PAPER_LIB_DIR=$(cd "$(dirname "$0")" && pwd)
PAPER_ROOT=$(cd "$PAPER_LIB_DIR/../.." && pwd)
PAPER_QUICK=${PAPER_QUICK:-0}
PAPER_NAME=$(basename "$0" .sh)

# pick FULL QUICK: the value for the full run or for --quick
pick() { if [ "$PAPER_QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# ---------------------------------------------------------------- run side
# paper_run_init: the VM helpers (tests/vm/lib.sh: lotto_start, spin, cpu_ns,
# field, ...), a scratch directory, and this shell off CPU 0, where the
# experiments' tasks run (the paper's machine had one CPU).
paper_run_init() {
	LOTTO_ROOT=$PAPER_ROOT
	. "$PAPER_ROOT/tests/vm/lib.sh"
	LOTTO_PAPER=$LOTTO_BUILD/bin/lotto-paper
	LOTTO_SHELL=$LOTTO_BUILD/bin/lotto-shell
	[ -x "$LOTTO_PAPER" ] || fail "$LOTTO_PAPER is missing: build first"
	WORK=/tmp/paper-$PAPER_NAME
	rm -rf "$WORK"
	mkdir -p "$WORK"
	[ "$(nproc)" -ge 2 ] || fail "the experiments need 2 CPUs (tasks on CPU 0, the measuring shell on CPU 1)"
	taskset -p 2 $$ >/dev/null
	T0=$(now)
	say "$PAPER_NAME: $(pick full quick) run"
}

now() { "$LOTTO_PAPER" now; }

# paper_lotto_start [ARGS]: lotto-host ARGS, without a state file: each
# experiment starts from nothing (no pins or policies of an earlier one)
paper_lotto_start() { lotto_start --no-state "$@"; }

# since: seconds since the experiment began (T0), 3 decimals
since() { awk -v a="$(now)" -v b="$T0" 'BEGIN { printf "%.3f\n", a - b }'; }

# sleep_until S: sleep until S seconds after T0
sleep_until() {
	_d=$(awk -v s="$1" -v a="$(now)" -v b="$T0" 'BEGIN { d = s - (a - b); printf "%.3f\n", (d > 0 ? d : 0) }')
	sleep "$_d"
}

# bg_task PIDVAR OUTFILE CPU CMD...: start CMD pinned to CPU with its output
# in OUTFILE; its pid in PIDVAR, killed at exit with the others
bg_task() {
	_var=$1 _out=$2 _cpu=$3
	shift 3
	taskset -c "$_cpu" "$@" >"$_out" 2>&1 &
	eval "$_var=\$!"
	SPIN_PIDS="$SPIN_PIDS $!"
}

# tickets PID N [PID N...]: set tickets in the core's table (lotto-ctl)
tickets() { "$LOTTO_CTL" set "$@" >/dev/null || fail "lotto-ctl set $* failed"; }

# shell CMDS: a lotto-shell command line against the running lotto-host
shell() { "$LOTTO_SHELL" -c "$1" >/dev/null || fail "lotto-shell -c '$1' failed"; }

# emit NAME HEADER [FILE...]: a CSV block (HEADER, then the files, or stdin)
# that scripts/paper.sh stores as NAME.csv
emit() {
	_n=$1 _h=$2
	shift 2
	echo "@@paper-csv $_n@@"
	echo "$_h"
	if [ $# -gt 0 ]; then cat "$@"; else cat; fi
	echo "@@paper-end@@"
}

# rel FILE: report lines "t ..." with t made relative to T0, as CSV
rel() { awk -v t0="$T0" 'NF && $1 ~ /^[0-9.]+$/ { $1 = sprintf("%.3f", $1 - t0); gsub(/ /, ","); print }' "$@"; }

# ---------------------------------------------------------------- host side
# csv NAME: the path of this experiment's data file NAME.csv in $DIR
csv() { echo "$DIR/$1.csv"; }

# need NAME...: fail unless these CSVs exist with data
need() {
	for _c in "$@"; do
		[ "$(wc -l <"$(csv "$_c")" 2>/dev/null || echo 0)" -ge 2 ] || {
			echo "$PAPER_NAME: no data in $(csv "$_c")" >&2
			return 1
		}
	done
}

# plot PNG [W,H] <<EOF ... EOF: gnuplot with the common look, drawing PNG
plot() {
	{
		cat <<EOF
set terminal pngcairo size ${2:-960,600} font "DejaVu Sans,11" noenhanced
set output "$1"
set datafile separator ","
set grid lc rgb "#dddddd"
set key top left box opaque
set border lc rgb "#444444"
EOF
		cat
	} | gnuplot || { echo "$PAPER_NAME: gnuplot failed for $1" >&2; return 1; }
}

# modes CSV: the runs (first column) a phases CSV lists, one per line
modes_of() { awk -F, 'NR > 1 { print $1 }' "$1"; }

# phase_of CSV MODE N: column N of MODE's row of a phases CSV
phase_of() { awk -F, -v m="$2" -v n="$3" '$1 == m { print $n }' "$1"; }

# mark X...: gnuplot commands for dotted vertical lines at these x (only)
mark() {
	echo "unset arrow"
	for _x in "$@"; do echo "set arrow from $_x, graph 0 to $_x, graph 1 nohead dt 3 lc rgb '#888888'"; done
}

# band P N K: an ideal lottery's share p over n draws, p +- K sd, as the
# ratio lo/(1-lo) .. hi/(1-hi) (awk function text, for awk programs)
AWK_BAND='
function sd(p, n) { return sqrt(p * (1 - p) / n) }
function ratio(s) { return s >= 1 ? 1e9 : s / (1 - s) }
'

# digest NUMBER TITLE PAPER LOTTO: this experiment's row of the table at
# the top of paper.md (scripts/paper.sh sets $PAPER_DIGEST)
digest() {
	[ -z "${PAPER_DIGEST:-}" ] || printf '| %s. %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"$PAPER_DIGEST"
}

# verdict LABEL VALUE LO HI: one line of a check, "ok" or "FAIL"; sets BAD=1
BAD=0
verdict() {
	if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; then
		printf 'ok    %-52s %s in [%s, %s]\n' "$1" "$2" "$3" "$4"
	else
		printf 'FAIL  %-52s %s not in [%s, %s]\n' "$1" "${2:-(none)}" "$3" "$4"
		BAD=1
	fi
}

# value FILE KEY: a value from a summary file of "key value" lines
value() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# paper_main: dispatch to run / report DIR / check DIR
paper_main() {
	case ${1:-} in
	run) run ;;
	report | check)
		[ $# -ge 2 ] || { echo "usage: $0 $1 DIR" >&2; exit 2; }
		DIR=$2
		need $DATA || exit 1
		# $T: the summary ($S) and the data the plots are drawn from
		T=$(mktemp -d)
		trap 'rm -rf "$T"' EXIT
		S=$T/summary
		summary >"$S" || exit 1
		if [ "$1" = report ]; then report; else check; exit $BAD; fi ;;
	*) sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
}
