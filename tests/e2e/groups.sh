#!/usr/bin/env bash
# Groups (currencies) from the shell, on the sim backend: fair_share.lua puts
# each user in a group of its own; `groups` shows them with their shares;
# `fund` pins a group's funding, admin only, kept in the state file by name
# across a kill -9. (issue 11, section 1)
# usage: groups.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
. "$(dirname "$0")/lib.sh"

STATE=$T/state.json
WL=$T/users.wl
cat >"$WL" <<'WL'
cpus 1
task name=alice uid=1000 cpu=100%
task name=bob uid=1001 cpu=100% count=3
WL
start_with_state() {
	"$HOST_BIN" --backend sim --workload "$WL" --sim-speed 10 --socket "$SOCK" --state-file "$STATE" \
		"$SRC/policies/fair_share.lua" >>"$T/host.log" 2>&1 &
	HOST_PID=$!
	for _ in $(seq 50); do
		sh_ -c stats >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: lotto-host did not come up; log:"; cat "$T/host.log"; exit 1
}
group() {	# group NAME FIELD -> the field of that group in `groups --json`
	sh_ -c 'groups --json' >"$T/g.json" || return 1
	jq_ "$T/g.json" "[g for g in d['groups'] if g['name'] == '$1'][0]['$2']"
}

start_with_state
sleep 2.5	# two samples of the host, many simulated seconds
sh_ -c groups >"$T/out"
expect_in "$T/out" "uid:1000" "groups lists user 1000's group"
expect_in "$T/out" "uid:1001" "and user 1001's"
expect_in "$T/out" "policy fair_share" "funded by the policy"
[ "$(group uid:1001 tasks)" = 3 ] && ok "user 1001's group holds its 3 tasks" || fail "uid:1001 tasks: $(group uid:1001 tasks)"
share=$(group uid:1000 ticket_share)
python3 -c "import sys; sys.exit(0 if abs($share - 0.5) < 1e-9 else 1)" && ok "each user's ticket share is 1/2 ($share)" ||
	fail "uid:1000 ticket share $share, wanted 0.5"
cpu=$(group uid:1000 cpu_share)
python3 -c "import sys; sys.exit(0 if abs($cpu - 0.5) < 0.15 else 1)" && ok "user 1000's one task gets about half the CPU ($cpu)" ||
	fail "uid:1000 cpu share $cpu, wanted about 0.5"
sh_ -c 'tasks --comm bob --json' >"$T/t.json"
gid=$(group uid:1001 gid)
[ "$(jq_ "$T/t.json" "sorted(set(t['group'] for t in d['tasks']))")" = "[$gid]" ] && ok "tasks shows each of bob's tasks in group $gid" ||
	fail "tasks' groups: $(cat "$T/t.json" | head -c 300)"
PID=$(jq_ "$T/t.json" "d['tasks'][0]['pid']")
sh_ -c "show $PID" >"$T/show"
expect_in "$T/show" "group        $gid uid:1001" "show names the task's group"

# fund: admin only, saved first, by name
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	expect_rc 0 "read-only groups" -- $NOBODY "$SHELL_BIN" --socket "$SOCK" -c 'groups'
	expect_rc 1 "read-only fund is refused" -- $NOBODY "$SHELL_BIN" --socket "$SOCK" -c 'fund uid:1000 300'
	expect_in "$T/err" "permission denied" "with permission denied"
fi
expect_rc 0 "fund uid:1000 300" -- sh_ -c 'fund uid:1000 300'
expect_in "$STATE" '"uid:1000": 300' "the group pin is in the state file before the shell returns"
[ "$(group uid:1000 funding)" = 300 ] && ok "the group's funding is 300" || fail "funding $(group uid:1000 funding)"
[ "$(group uid:1000 source)" = pin ] && ok "pinned from the shell" || fail "source $(group uid:1000 source)"
expect_rc 1 "funding 0 is refused" -- sh_ -c 'fund uid:1000 0'
expect_rc 1 "a gid lotto-host did not name is refused" -- sh_ -c 'fund 1000 5'
expect_in "$T/err" "not a policy group in use" "with a clear error"

kill -9 "$HOST_PID"; wait "$HOST_PID" 2>/dev/null
HOST_PID=
rm -f "$SOCK"
start_with_state
sleep 1
[ "$(group uid:1000 funding)" = 300 ] && ok "the pin holds after kill -9, for the group the policy makes again" ||
	fail "after restart: funding $(group uid:1000 funding)"
expect_rc 0 "fund uid:1000 off" -- sh_ -c 'fund uid:1000 off'
expect_not_in "$STATE" "uid:1000" "the unpin is saved"
sleep 0.5
[ "$(group uid:1000 funding)" = 100 ] && ok "the policy funds it again" || fail "funding $(group uid:1000 funding)"
finish
