#!/bin/bash
# End to end on the sim backend: lotto-shell -c and piped scripts through
# every command, checking both the output and the host's state.
# usage: shell_commands.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
. "$(dirname "$0")/lib.sh"
start_host "$SRC/tests/sim/workloads/nice_mix.wl" "$SRC/policies/nice_weighted.lua"
sleep 1.2	# one sampler interval, a few policy ticks

# tasks / show / stats / shares / draw
expect_rc 0 "tasks --json" -- sh_ -c 'tasks --json'
[ "$(jq_ "$T/out" 'len(d["tasks"])')" = 5 ] && ok "five simulated tasks" || fail "tasks: $(cat "$T/out")"
[ "$(jq_ "$T/out" '[t["tickets"] for t in d["tasks"] if t["comm"]=="n5"][0]')" = 335 ] &&
	ok "nice 5 has 335 tickets from nice_weighted" || fail "n5 tickets: $(cat "$T/out")"
PID=$(jq_ "$T/out" '[t["pid"] for t in d["tasks"] if t["comm"]=="n0"][0]')
expect_rc 0 "tasks table" -- sh_ -c 'tasks --sort tickets --top 2'
expect_in "$T/out" "policy nice_weighted" "tasks shows the policy as source"
[ "$(wc -l <"$T/out")" = 3 ] && ok "--top 2 prints two rows" || fail "--top 2: $(cat "$T/out")"
expect_rc 0 "show" -- sh_ -c "show $PID"
expect_in "$T/out" "history:" "show has the ticket history"
expect_in "$T/out" "policy nice_weighted" "history names the policy"
expect_rc 0 "stats" -- sh_ -c stats
expect_in "$T/out" "backend      sim" "stats names the backend"
expect_in "$T/out" "state        enabled" "stats shows the scheduler state"
expect_rc 0 "shares" -- sh_ -c shares
expect_in "$T/out" "T  44.4%" "shares shows n0's ticket share"
expect_rc 0 "draw" -- sh_ -c 'draw 20000 --seed 9'
expect_in "$T/out" "within the lottery's statistical band" "draw matches the theory"

# tickets change shows in tasks; unpin all restores the policy's tickets
expect_rc 0 "tickets PID N" -- sh_ -c "tickets $PID 5000; tasks --pid $PID --json"
expect_in "$T/out" '"tickets":5000' "the pin shows in tasks"
expect_in "$T/out" '"source":"pin"' "source is pin"
expect_rc 0 "tickets by comm pattern" -- sh_ -c "tickets 'n1*' 7"
expect_in "$T/out" "pinned 7 tickets on 2 tasks" "pattern pins n1 and n10"
expect_rc 0 "boost" -- sh_ -c "boost $PID x2 for 1s; show $PID"
expect_in "$T/out" "boost        x2 for" "show tells the boost"
sleep 1.5
expect_rc 0 "boost expires" -- sh_ -c "tasks --pid $PID --json"
expect_in "$T/out" '"tickets":5000' "boost gone after its duration"
expect_rc 0 "unpin all" -- sh_ -c 'unpin all; tasks --json'
[ "$(jq_ "$T/out" '[t["tickets"] for t in d["tasks"] if t["comm"]=="n0"][0]' 2>/dev/null ||
	python3 -c "import json,sys; l=open(sys.argv[1]).read().splitlines()[-1]; print([t['tickets'] for t in json.loads(l)['tasks'] if t['comm']=='n0'][0])" "$T/out")" = 1024 ] &&
	ok "unpin all restores 1024 tickets" || fail "after unpin all: $(cat "$T/out")"

# policies
expect_rc 0 "policy list" -- sh_ -c 'policy list --json'
expect_in "$T/out" '"name":"nice_weighted"' "policy list names the policy"
expect_rc 0 "policy reload" -- sh_ -c 'policy reload nice_weighted'
expect_rc 0 "policy load" -- sh_ -c "policy load $SRC/policies/interactive.lua; policy list"
expect_in "$T/out" "interactive" "loaded policy is listed"
expect_rc 0 "policy unload" -- sh_ -c 'policy unload interactive; policy list'
expect_not_in "$T/out" "interactive.lua" "unloaded policy is gone"
echo 'return { name = "broken", interval_ms = 100, tick = function( }' >"$T/broken.lua"
expect_rc 1 "a policy that does not compile is refused" -- sh_ -c "policy load $T/broken.lua"
expect_in "$T/err" "broken.lua:1:" "the load error has file:line"
expect_rc 0 "policy errors" -- sh_ -c 'policy errors'
expect_in "$T/out" "broken.lua:1:" "policy errors shows file:line"
expect_rc 0 "lua" -- sh_ -c 'lua 1 + 2'
expect_in "$T/out" "3" "lua evaluates"

# export csv, watch
expect_rc 0 "export csv" -- sh_ -c "export csv $T/x.csv --interval 0.2 --count 3"
expect_in "$T/out" "exported 3 samples" "export reports its samples"
[ "$(head -1 "$T/x.csv")" = "iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,wins,nice,tickets,ticket_share,cpu_share" ] &&
	ok "csv header" || fail "csv header: $(head -1 "$T/x.csv")"
[ "$(grep -c '^3,' "$T/x.csv")" -ge 5 ] && ok "csv has the third sample" || fail "csv: $(cat "$T/x.csv")"
timeout --preserve-status -s INT 2 "$SHELL_BIN" --socket "$SOCK" -c 'watch stats 0.5; stats --json' >"$T/out" 2>&1
rc=$?
[ "$(grep -c 'backend' "$T/out")" -ge 2 ] && ok "watch repeats" || fail "watch: $(cat "$T/out")"
[ $rc = 130 ] && ok "Ctrl-C ends a -c script in watch with 130" || fail "watch after SIGINT: rc $rc"
expect_not_in "$T/out" '"backend":' "the command after the interrupted watch did not run"

# piped scripts go through the same dispatcher
printf 'stats\n# a comment\ntasks --top 1\n' | sh_ >"$T/out" 2>&1
[ $? = 0 ] && ok "piped script" || fail "piped script: $(cat "$T/out")"
expect_in "$T/out" "PID" "piped script ran tasks"
printf 'stats\nfrobnicate\nstats\n' | sh_ >"$T/out" 2>"$T/err"
[ $? = 1 ] && ok "piped script stops at the error" || fail "piped error rc"
expect_in "$T/err" "unknown command 'frobnicate'" "piped error message"
[ "$(grep -c backend "$T/out")" = 1 ] && ok "nothing ran after the error" || fail "ran after error"
printf 'stats\nfrobnicate\nstats\n' | sh_ --keep-going >"$T/out" 2>/dev/null
[ "$(grep -c backend "$T/out")" = 2 ] && ok "--keep-going goes on" || fail "--keep-going"

# errors: one line, with what to do
expect_rc 1 "unknown command" -- sh_ -c 'taks'
expect_in "$T/err" "did you mean 'tasks'?" "did you mean"
expect_rc 1 "no such pid" -- sh_ -c 'show 4000000'
expect_in "$T/err" "no such pid" "no such pid message"
expect_rc 1 "tickets out of range" -- sh_ -c "tickets $PID 0"
expect_in "$T/err" "tickets out of range: 0 (use 1..1000000)" "range message"
expect_rc 1 "host not running" -- "$SHELL_BIN" --socket "$T/nothing.sock" -c stats
expect_in "$T/err" "is lotto-host running? start it with: sudo lotto-host --socket $T/nothing.sock" "start hint"
expect_rc 2 "bad option" -- "$SHELL_BIN" --frob

# read-only users: reads work, writes are refused, state unchanged
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	expect_rc 0 "read-only tasks" -- $NOBODY "$SHELL_BIN" --socket "$SOCK" -c 'tasks'
	expect_rc 1 "read-only tickets" -- $NOBODY "$SHELL_BIN" --socket "$SOCK" -c "tickets $PID 9"
	expect_in "$T/err" "error: permission denied: pinning tickets is for root" "permission denied message"
	expect_rc 1 "read-only policy unload" -- $NOBODY "$SHELL_BIN" --socket "$SOCK" -c 'policy unload nice_weighted'
	expect_rc 0 "state unchanged" -- sh_ -c "tasks --pid $PID --json; policy list --json"
	expect_in "$T/out" '"tickets":1024' "refused pin did not land"
	expect_in "$T/out" '"name":"nice_weighted"' "refused unload did not land"
else
	fail "read-only checks need root and setpriv (util-linux)"
fi
finish
