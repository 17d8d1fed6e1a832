#!/usr/bin/env bash
# scripts/run.sh — set up, build and run lotto.
#
#   scripts/run.sh [--vm] [--seconds S] [--no-setup] [LOTTO-HOST ARGS...]
#
# First runs scripts/setup.sh (installs what is missing, fetches the sched_ext
# test kernel, builds). Then:
#   - on a kernel with sched_ext (/sys/kernel/sched_ext exists): runs
#     build/bin/lotto-host ARGS for real (through sudo when not root) until
#     Ctrl-C; the default scheduler takes over again when it exits;
#   - elsewhere (or with --vm): boots the sched_ext kernel in qemu
#     (scripts/vm.sh) and runs the demo there (scripts/demo.sh): lotto-host
#     ARGS and four CPU-bound tasks pinned to one CPU with 100/200/300/400
#     tickets, then a table of their ticket shares against measured CPU shares.
#
# Options (before any lotto-host argument; `--` ends them):
#   --vm          run the VM demo even on a sched_ext kernel
#   --seconds S   how long the demo measures (default 15)
#   --no-setup    skip scripts/setup.sh (use the existing build)
#   -h, --help    this text (lotto-host's own: build/bin/lotto-host --help)
#
# Environment: LOTTO_BUILD (build directory, default ./build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LOTTO_BUILD:-$ROOT/build}
export LOTTO_BUILD=$BUILD
VM=0 SETUP=1 SECS=15
die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--vm) VM=1; shift ;;
	--seconds)
		[ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive integer"
		SECS=$2; shift 2 ;;
	--no-setup) SETUP=0; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) break ;;
	esac
done

if [ $SETUP = 1 ]; then
	"$ROOT/scripts/setup.sh"
fi
[ -x "$BUILD/bin/lotto-host" ] || die "no $BUILD/bin/lotto-host: the build failed or was skipped (run scripts/setup.sh)"

if [ $VM = 0 ] && [ -d /sys/kernel/sched_ext ]; then
	echo "run.sh: this kernel has sched_ext: starting lotto-host (Ctrl-C to stop)"
	if [ "$(id -u)" = 0 ]; then
		exec "$BUILD/bin/lotto-host" "$@"
	fi
	exec sudo "$BUILD/bin/lotto-host" "$@"
fi

[ $VM = 1 ] || echo "run.sh: this kernel ($(uname -r)) has no sched_ext: running the demo in a VM on the sched_ext test kernel (qemu, about $((SECS + 15)) s)"
exec "$ROOT/scripts/vm.sh" --cpus 2 --timeout $((SECS + 600)) -- env DEMO_SECONDS="$SECS" "$ROOT/scripts/demo.sh" "$@"
