#!/bin/sh
# scripts/paper/run-vm.sh — the part of scripts/paper.sh that runs on the
# sched_ext kernel (in the VM, or with --here): each experiment named on the
# command line in turn, each in its own shell, its data as CSV blocks on
# stdout. busybox sh compatible. Exit status: the number of experiments that
# failed (at most 100).
#
#   sh scripts/paper/run-vm.sh NAME...      e.g. fairness over_time
DIR=$(cd "$(dirname "$0")" && pwd)
failed=0
echo "@@paper-csv meta@@"
echo "key,value"
echo "kernel,$(uname -r)"
echo "cpus,$(nproc)"
echo "date,$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "quick,${PAPER_QUICK:-0}"
echo "@@paper-end@@"
for e in "$@"; do
	echo "# ==== $e"
	start=$(cut -d' ' -f1 /proc/uptime)
	if sh "$DIR/$e.sh" run; then
		echo "# ==== $e done in $(awk -v a="$start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%d", b - a }') s"
	else
		echo "# ==== $e FAILED"
		failed=$((failed + 1))
	fi
done
exit $failed
