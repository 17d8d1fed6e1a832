#!/usr/bin/env bash
# A restarted lotto-host — even after kill -9 — restores what the REPL set:
# pinned tickets and policies loaded with `policy load`. (issue 3, Operations)
# usage: state_restore.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
. "$(dirname "$0")/lib.sh"

STATE=$T/state.json
WL=$SRC/tests/sim/workloads/demo.wl
start_with_state() {
	"$HOST_BIN" --backend sim --workload "$WL" --socket "$SOCK" --state-file "$STATE" \
		"$SRC/policies/nice_weighted.lua" >>"$T/host.log" 2>&1 &
	HOST_PID=$!
	for _ in $(seq 50); do
		sh_ -c stats >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: lotto-host did not come up; log:"; cat "$T/host.log"; exit 1
}
tickets_of() {	# tickets_of PID -> "TICKETS SOURCE"
	sh_ -c "show $1" --json >"$T/show.json" || return 1
	jq_ "$T/show.json" "str(d['row']['tickets'] if 'row' in d else d['tickets']) + ' ' + (d['row']['source'] if 'row' in d else d['source'])"
}

start_with_state
PIDS=$(sh_ -c 'tasks --sort pid --json' | python3 -c 'import json,sys; print(" ".join(str(t["pid"]) for t in json.load(sys.stdin)["tasks"][:2]))')
set -- $PIDS
A=$1 B=$2
expect_rc 0 "pin two tasks" -- sh_ -c "tickets $A 777; tickets $B 31"
expect_rc 0 "load a second policy from the shell" -- sh_ -c "policy load $SRC/policies/interactive.lua"
expect_in "$STATE" "\"$A\": 777" "the pin is in the state file before the shell returns"

kill -9 "$HOST_PID"; wait "$HOST_PID" 2>/dev/null
HOST_PID=
rm -f "$SOCK"
start_with_state

got=$(tickets_of "$A")
[ "$got" = "777 pin" ] && ok "pin of $A restored after kill -9 ($got)" || fail "pin of $A after restart: '$got', wanted '777 pin'"
got=$(tickets_of "$B")
[ "$got" = "31 pin" ] && ok "pin of $B restored after kill -9 ($got)" || fail "pin of $B after restart: '$got', wanted '31 pin'"
sh_ -c 'policy list' >"$T/pl"
expect_in "$T/pl" "interactive" "the policy loaded from the shell is back"
expect_in "$T/pl" "nice_weighted" "the command-line policy is loaded once"
[ "$(grep -c nice_weighted "$T/pl")" = 1 ] && ok "no policy loaded twice" || fail "nice_weighted listed twice"

# unpin is persisted too: after another kill -9 the task follows the policy again
expect_rc 0 "unpin one task" -- sh_ -c "unpin $A"
kill -9 "$HOST_PID"; wait "$HOST_PID" 2>/dev/null
HOST_PID=
rm -f "$SOCK"
start_with_state
sleep 1	# one policy tick
got=$(tickets_of "$A")
case $got in *pin*) fail "unpinned $A came back pinned: $got" ;; *) ok "unpin survived the restart ($got)" ;; esac
finish
