#!/usr/bin/env bash
# scripts/test.sh — set up, build and run every test.
#
#   scripts/test.sh [--no-vm] [--no-setup] [CTEST ARGS...]
#   scripts/test.sh --asan [--no-setup] [CTEST ARGS...]
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
#   --asan       AddressSanitizer + UndefinedBehaviorSanitizer: build lotto-host
#                (and so its policy workers), lotto-shell and the policy,
#                control and security tests with -fsanitize=address,undefined
#                in their own directory (./build-asan; the first build takes
#                a few minutes) and run those tests (ctest -L
#                'policy|control|security'). Freed memory is filled with 0xbe,
#                so that reads of it by uninstrumented code (LuaJIT) crash
#                with a sanitizer report instead of passing unnoticed.
#   -h, --help   this text
#
# Environment: LOTTO_BUILD (build directory, default ./build, or ./build-asan
#              with --asan), LOTTO_TEST_JOBS (tests run in parallel, default:
#              CPUs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SETUP=1
ASAN=0
ARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--no-vm) ARGS+=(-LE vm); shift ;;
	--no-setup) SETUP=0; shift ;;
	--asan) ASAN=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) ARGS+=("$1"); shift ;;
	esac
done

if [ $ASAN = 1 ]; then
	BUILD=${LOTTO_BUILD:-$ROOT/build-asan}
	[ $SETUP = 0 ] || "$ROOT/scripts/setup.sh" --no-build
	[ -f "$BUILD/CMakeCache.txt" ] ||
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOTTO_SANITIZE=ON >/dev/null
	cmake --build "$BUILD" -j"$(nproc)" --target lotto-host lotto-shell policy_tests control_tests security_tests
	ARGS=(-L 'policy|control|security' ${ARGS[@]+"${ARGS[@]}"})
	# fill freed memory (max_free_fill_size) so that a use after free by
	# uninstrumented code shows as a fault; halt on any report; no symbolizing
	# (slower than a tick's budget: a worker would be killed mid-report)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:max_free_fill_size=1048576:free_fill_byte=190:abort_on_error=1:symbolize=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ $SETUP = 1 ]; then
	BUILD=${LOTTO_BUILD:-$ROOT/build}
	LOTTO_BUILD=$BUILD "$ROOT/scripts/setup.sh"
else
	BUILD=${LOTTO_BUILD:-$ROOT/build}
	[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" -j"$(nproc)"
fi
export LOTTO_BUILD=$BUILD

echo "[test] ctest in $BUILD"
start=$(date +%s)
rc=0
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error \
	-j"${LOTTO_TEST_JOBS:-$(nproc)}" ${ARGS[@]+"${ARGS[@]}"} || rc=$?
echo "[test] $([ $rc = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
exit $rc
