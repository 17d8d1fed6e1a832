# scripts/bench/settings.sh — sourced by the benchmark scripts before
# tests/vm/lib.sh (which needs the VM), so that a bad setting fails at once.
#
#   positive_ints SCRIPT NAME=VALUE...   each VALUE must be a positive
#       integer (no sign, no leading zero), else one line on stderr and exit 2
positive_ints() {
	_script=$1
	shift
	for _v in "$@"; do
		case ${_v#*=} in
		'' | *[!0-9]* | 0*) echo "$_script: ${_v%%=*} must be a positive integer, not '${_v#*=}'" >&2; exit 2 ;;
		esac
	done
}
