#!/usr/bin/env bash
# lotto-host refuses to start, with one line naming what is wrong, when a
# policy on its command line or its state file is bad — and leaves the state
# file as it was. usage: startup_errors.sh LOTTO_HOST SOURCE_DIR
set -u
HOST=$1
SRC=$2
T=$(mktemp -d /tmp/lotto-start.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0
expect() {	# expect WHAT TEXT -- ARGS...: exit status 1 and TEXT in one error line
	local what=$1 text=$2
	shift 3
	timeout 20 "$HOST" --backend sim --workload "$SRC/tests/sim/workloads/demo.wl" --socket "$T/s" "$@" >"$T/out" 2>&1
	local rc=$?
	if [ $rc = 1 ] && grep -E '^(error|.*ERROR|.*error)' "$T/out" | grep -qF -- "$text"; then
		echo "ok: $what"
	else
		echo "FAIL: $what: exit $rc, wanted 1 and an error line with '$text':"; sed 's/^/  | /' "$T/out"
		FAILS=$((FAILS + 1))
	fi
}
printf 'return {\n  name = "broken",\n  tick = function(tasks, ctx)\n    for i = 1, #tasks do\n  end,\n}\n' >"$T/broken.lua"
expect "a missing policy file" "$T/none.lua: cannot open" -- --no-state "$T/none.lua"
expect "a policy that does not compile names file:line" "$T/broken.lua:" -- --no-state "$T/broken.lua"
printf '{not json' >"$T/state.json"
expect "a corrupt state file is named" "$T/state.json" -- --state-file "$T/state.json"
[ "$(cat "$T/state.json")" = '{not json' ] && echo "ok: the corrupt state file is left as it was" ||
	{ echo "FAIL: the state file was changed"; FAILS=$((FAILS + 1)); }
[ $FAILS = 0 ] || exit 1
echo "all checks passed"
