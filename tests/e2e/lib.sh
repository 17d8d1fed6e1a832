# lib.sh — shared by the e2e scripts: a lotto-host on the sim backend with a
# temp control socket, and small assertions that say what failed.
# usage: . lib.sh LOTTO_HOST LOTTO_SHELL SOURCE_DIR
set -u
HOST_BIN=$1
SHELL_BIN=$2
SRC=$3
T=$(mktemp -d /tmp/lotto-e2e.XXXXXX)
chmod 755 "$T"			# the read-only user must reach the socket
SOCK=$T/lotto.sock
HOST_PID=
FAILS=0

cleanup() {
	[ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

start_host() {	# start_host WORKLOAD [POLICY...]
	local wl=$1
	shift
	"$HOST_BIN" --backend sim --workload "$wl" --socket "$SOCK" --no-state "$@" >"$T/host.log" 2>&1 &
	HOST_PID=$!
	for _ in $(seq 50); do
		[ -S "$SOCK" ] && "$SHELL_BIN" --socket "$SOCK" -c stats >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: lotto-host did not serve $SOCK within 5 s; its log:"
	cat "$T/host.log"
	exit 1
}

sh_() { "$SHELL_BIN" --socket "$SOCK" "$@"; }

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

expect_rc() {	# expect_rc RC DESCRIPTION -- CMD...
	local want=$1 what=$2
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$what (rc $rc)"; else
		fail "$what: exit status $rc, wanted $want; stdout: $(head -c 400 "$T/out"); stderr: $(head -c 400 "$T/err")"
	fi
}
expect_in() {	# expect_in FILE TEXT DESCRIPTION
	if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3: no '$2' in: $(head -c 600 "$1")"; fi
}
expect_not_in() {
	if grep -qF -- "$2" "$1"; then fail "$3: unexpected '$2' in: $(head -c 600 "$1")"; else ok "$3"; fi
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed; host log:"
		tail -20 "$T/host.log"
		exit 1
	fi
	echo "all checks passed"
}
