#!/usr/bin/env bash
# tests/vm/vm_harness_test.sh — scripts/vm.sh itself (runs on the host):
# the command's exit status comes back, the VM has what the tests rely on,
# a hung command hits --timeout (124) and a kernel that does not boot gives
# a clear error (125) instead of a hang.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VM=$ROOT/scripts/vm.sh
BUILD=$(realpath -m "${LOTTO_BUILD:-$ROOT/build}")
fail() { echo "FAIL: $*"; exit 1; }

# 1. what the in-VM scripts need, and the exit status passed through
rc=0
out=$("$VM" -- sh -c '
	for t in sh awk sed grep taskset renice timeout pidof dmesg stress-ng hackbench cyclictest; do
		command -v $t >/dev/null || { echo "missing: $t"; exit 1; }
	done
	for m in /proc /sys /dev /sys/fs/bpf /sys/fs/cgroup; do
		grep -q " $m " /proc/mounts || { echo "not mounted: $m"; exit 1; }
	done
	t=$(mktemp) && [ -w "$t" ] && rm -f "$t" || { echo "/tmp not writable"; exit 1; }
	[ -d /sys/kernel/sched_ext ] || { echo "no sched_ext"; exit 1; }
	[ "$(pwd)" = "$LOTTO_ROOT" ] || { echo "cwd $(pwd), not $LOTTO_ROOT"; exit 1; }
	[ -f "$LOTTO_ROOT/scripts/vm.sh" ] && [ -f "$LOTTO_ROOT/tests/vm/lib.sh" ] || { echo "checkout missing"; exit 1; }
	[ -x "$LOTTO_BUILD/bin/lotto-ctl" ] || { echo "build/bin missing"; exit 1; }
	"$LOTTO_BUILD/bin/lotto-ctl" --help >/dev/null || { echo "lotto-ctl does not run"; exit 1; }
	hackbench -g 1 -l 5 >/dev/null || { echo "hackbench does not run"; exit 1; }
	printf "no newline at the end"
	exit 7') || rc=$?
echo "$out"
[ $rc = 7 ] || fail "expected exit status 7 from the VM, got $rc"
[ "$(printf '%s\n' "$out" | tail -n 1)" = "no newline at the end" ] || fail "the command's last output line was lost"
[ "$(cd "$ROOT" && LOTTO_BUILD=$BUILD "$VM" -- sh -c 'echo $LOTTO_BUILD')" = "$BUILD" ] ||
	fail "LOTTO_BUILD inside the VM is not $BUILD"

# 2. a hung command is stopped by --timeout
rc=0
"$VM" --timeout 15 -- sleep 600 >/dev/null 2>&1 || rc=$?
[ $rc = 124 ] || fail "expected 124 from --timeout, got $rc"

# 3. something that is not a kernel: a clear one-line error, status 125
rc=0
err=$("$VM" --kernel "$ROOT/README.md" --boot-timeout 30 -- true 2>&1) || rc=$?
[ $rc = 125 ] || fail "expected 125 for a bad kernel, got $rc ($err)"
echo "$err" | grep -q '^vm.sh: ' || fail "no vm.sh: message for a bad kernel: $err"
echo "PASS: vm harness"
