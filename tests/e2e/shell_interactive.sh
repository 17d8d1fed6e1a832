#!/bin/bash
# A real terminal (tmux): tab completion from the command table and the host,
# history across sessions, Ctrl-C cancelling a line and a full-screen watch
# without leaving the shell, Ctrl-D leaving it.
# usage: shell_interactive.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "FAIL: tmux is needed for this test"; exit 1; }
start_host "$SRC/tests/sim/workloads/nice_mix.wl" "$SRC/policies/nice_weighted.lua"

export TMUX_TMPDIR=$T		# a private tmux server
SESSION=lotto
HIST=$T/history
start_shell() {
	tmux new-session -d -s $SESSION -x 120 -y 40 \
		"env LOTTO_HISTORY=$HIST TERM=xterm $SHELL_BIN --socket $SOCK; echo SHELL-EXITED-\$?; sleep 30"
	wait_for "lotto> " "the prompt"
}
screen() { tmux capture-pane -p -t $SESSION; }
keys() { tmux send-keys -t $SESSION "$@"; }
wait_for() {	# wait_for TEXT WHAT: poll the screen up to 5 s
	for _ in $(seq 50); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
check_screen() {	# check_screen TEXT WHAT
	if wait_for "$1"; then ok "$2"; else fail "$2: no '$1' on screen:"; screen | sed 's/^/  | /'; fi
}
last_line() { screen | grep -v '^$' | tail -1; }
trap 'tmux kill-server 2>/dev/null; cleanup' EXIT

start_shell
# completion of a command, a subcommand, a flag value and a live comm name
keys "sta" Tab "|"
check_screen "lotto> stats |" "Tab completes a command and adds a space"
keys BSpace
keys C-u "policy rel" Tab
check_screen "lotto> policy reload" "Tab completes a subcommand"
keys Tab
check_screen "lotto> policy reload nice_weighted" "Tab completes a loaded policy's name"
keys C-u "tasks --sort ti" Tab
check_screen "lotto> tasks --sort tickets" "Tab completes a flag value"
keys C-u "tickets n" Tab Tab
check_screen "n10" "Tab Tab lists the live comm names"
keys C-u "show 1000" Tab Tab
check_screen "10004" "Tab Tab lists live pids"

# Ctrl-C cancels the line, the shell stays
keys C-u "tasks --bogus-option" C-c
sleep 0.3
keys "stats" Enter
check_screen "backend      sim" "after Ctrl-C on a line the shell runs the next command"
if screen | grep -q "unknown option '--bogus-option'"; then fail "Ctrl-C ran the cancelled line"; else ok "the cancelled line did not run"; fi

# watch is full screen until Ctrl-C, then back at the prompt
keys C-l "watch stats 0.3" Enter
check_screen "every 0.3s: stats" "watch shows its header"
sleep 1
keys C-c
check_screen "lotto> " "Ctrl-C leaves watch for the prompt"
keys "help draw" Enter
check_screen "usage: draw [N] [--seed S]" "the shell still runs commands after watch"

# Ctrl-D leaves; history survives into the next session
keys C-d
check_screen "SHELL-EXITED-0" "Ctrl-D leaves with status 0"
grep -qx "help draw" "$HIST" && ok "history file has the last command" || fail "history file: $(cat "$HIST" 2>&1)"
# a second session next to the first: killing the only session would make
# the tmux server exit while the next new-session connects to it (a race)
SESSION=lotto2
start_shell
keys Up
check_screen "lotto> help draw" "Up recalls the previous session's command"
keys C-u "quit" Enter
check_screen "SHELL-EXITED-0" "quit leaves with status 0"
finish
