#!/usr/bin/env bash
# scripts/test.sh — set up, build and run every test.
#
#   scripts/test.sh [--no-vm] [--no-setup] [CTEST ARGS...]
#
# Runs scripts/setup.sh (installs what is missing, fetches the sched_ext test
# kernel, configures and builds), then ctest over everything: unit tests, the
# end-to-end tests on the sim backend and the VM tests (label "vm"; each boots
# the sched_ext kernel in qemu, and runs alone). Exits non-zero when any test
# fails. Further arguments go to ctest (e.g. -R accuracy, -L vm, -V).
#
# Options:
#   --no-vm      skip the VM tests (ctest -LE vm)
#   --no-setup   skip scripts/setup.sh; just build and test
#   -h, --help   this text
#
# Environment: LOTTO_BUILD (build directory, default ./build),
#              LOTTO_TEST_JOBS (tests run in parallel, default: CPUs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LOTTO_BUILD:-$ROOT/build}
export LOTTO_BUILD=$BUILD
SETUP=1
ARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--no-vm) ARGS+=(-LE vm); shift ;;
	--no-setup) SETUP=0; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) ARGS+=("$1"); shift ;;
	esac
done

if [ $SETUP = 1 ]; then
	"$ROOT/scripts/setup.sh"
else
	[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" -j"$(nproc)"
fi

echo "[test] ctest in $BUILD"
start=$(date +%s)
rc=0
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error \
	-j"${LOTTO_TEST_JOBS:-$(nproc)}" ${ARGS[@]+"${ARGS[@]}"} || rc=$?
echo "[test] $([ $rc = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
exit $rc
