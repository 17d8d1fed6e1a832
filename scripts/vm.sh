#!/usr/bin/env bash
# scripts/vm.sh — run a command on the sched_ext test kernel, in qemu.
#
#   scripts/vm.sh [OPTIONS] -- CMD [ARGS...]
#
# Boots the Debian sched_ext kernel that scripts/setup.sh fetched (TCG; the
# machine this project runs on has no usable KVM), runs CMD inside as root,
# streams its output and exits with CMD's exit status.
#
# Inside the VM the checkout is at the same absolute path as here (sources,
# scripts, policies, tests, docs and $LOTTO_BUILD/bin; no .git, .cache or object
# files), the working directory is the current one when it lies in the
# checkout, and there are busybox applets (sh, awk, taskset, renice, timeout,
# ...), stress-ng, hackbench and cyclictest. Mounted: proc, sysfs, devtmpfs, devpts, bpf
# (/sys/fs/bpf), cgroup2 (/sys/fs/cgroup), debugfs; /tmp is the writable
# initramfs itself (a checkout under /tmp stays visible). PATH has
# $LOTTO_BUILD/bin; LOTTO_VM=1, LOTTO_ROOT and LOTTO_BUILD are set.
#
# Options:
#   --kernel PATH    kernel image (default .cache/kernel/current/vmlinuz)
#   --cpus N         virtual CPUs (default 2)
#   --mem M          memory in MiB (default 1024)
#   --timeout S      wall-clock bound for boot + CMD (default 600)
#   --boot-timeout S bound for reaching /init (default 180)
#   --kvm            try KVM first, fall back to TCG when it does not boot
#   --add PATH       also pack PATH (file or directory; repeatable)
#   --interactive    CMD's stdin is the serial console (e.g. -- sh)
#   --no-strip       pack the build's programs with their debug info
#   -v, --verbose    also show the kernel's boot output
#   -h, --help       this text
#
# Exit status: CMD's; 124 when --timeout expired; 125 when the VM failed
# (qemu error, kernel panic, /init never reached); 2 for bad usage. A kernel
# that panics before /init is booted once more (the command had not run).
#
# Environment: LOTTO_BUILD (default ROOT/build), LOTTO_CACHE (ROOT/.cache).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOTTO_CACHE:-$ROOT/.cache}
BUILD=${LOTTO_BUILD:-$ROOT/build}
KERNEL=$CACHE/kernel/current/vmlinuz
CPUS=2 MEM=1024 TIMEOUT=600 BOOT_TIMEOUT=180 KVM=0 INTERACTIVE=0 VERBOSE=0 STRIP=1
EXTRA=()

die() { echo "vm.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
num() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1: '$2' is not a positive integer"; }

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || die "--kernel needs a path"; KERNEL=$2; shift 2 ;;
	--cpus) [ $# -ge 2 ] || die "--cpus needs a value"; num --cpus "$2"; CPUS=$2; shift 2 ;;
	--mem) [ $# -ge 2 ] || die "--mem needs a value"; num --mem "$2"; MEM=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || die "--timeout needs a value"; num --timeout "$2"; TIMEOUT=$2; shift 2 ;;
	--boot-timeout) [ $# -ge 2 ] || die "--boot-timeout needs a value"; num --boot-timeout "$2"; BOOT_TIMEOUT=$2; shift 2 ;;
	--kvm) KVM=1; shift ;;
	--add) [ $# -ge 2 ] || die "--add needs a path"; EXTRA+=("$(realpath -m "$2")"); shift 2 ;;
	--interactive) INTERACTIVE=1; shift ;;
	--no-strip) STRIP=0; shift ;;
	-v|--verbose) VERBOSE=1; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (try --help; the command goes after --)" ;;
	esac
done
[ $# -gt 0 ] || die "no command given (usage: scripts/vm.sh [OPTIONS] -- CMD [ARGS...])"
[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run scripts/setup.sh (it fetches the sched_ext kernel)"
BUILD=$(realpath -m "$BUILD")
for t in qemu-system-x86_64 cpio busybox objcopy; do
	command -v $t >/dev/null || die "$t is not installed: run scripts/setup.sh"
done
command -v stress-ng >/dev/null && command -v hackbench >/dev/null && command -v cyclictest >/dev/null ||
	die "stress-ng/hackbench/cyclictest are not installed: run scripts/setup.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lotto-vm.XXXXXX")
QPID=
cleanup() {
	[ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- ELF helpers: the shared libraries a program needs, as paths in the VM
is_elf() { [ -f "$1" ] && [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
elf_libs() { # program... -> absolute library paths (symlink names as ldd shows them)
	local f
	for f in "$@"; do
		is_elf "$f" || continue
		LC_ALL=C ldd "$f" 2>/dev/null | awk '
			$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }' || true
	done | sort -u
}
# the VM uses a merged /usr like Debian: lib -> usr/lib, ...
usr_path() { # /lib/x -> usr/lib/x (no leading slash)
	local p=${1#/}
	case $p in bin/*|sbin/*|lib/*|lib64/*) p=usr/$p ;; esac
	printf '%s\n' "$p"
}
with_parents() { # relative paths on stdin -> the same plus every ancestor dir, sorted
	awk '{ n = split($0, a, "/"); p = ""; for (i = 1; i < n; i++) { p = p (i > 1 ? "/" : "") a[i]; print p } print }' |
		LC_ALL=C sort -u
}

# ---- base initramfs (busybox, stress-ng, hackbench, cyclictest, their libraries): cached
BASE_VERSION=4
BASE_TOOLS="$(command -v busybox) $(command -v stress-ng) $(command -v hackbench) $(command -v cyclictest)"
base_key() {
	{
		echo "$BASE_VERSION"
		# shellcheck disable=SC2086
		stat -L -c '%n %s %Y' $BASE_TOOLS $(elf_libs $BASE_TOOLS)
	} | sha256sum | cut -c1-16
}
build_base() { # -> $1 (cpio) and $1.libs (library paths it holds)
	local out=$1 st=$TMP/base t lib dst a
	mkdir -p "$st"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,dev,proc,sys,tmp,run,root,mnt,var/tmp}
	ln -s usr/bin "$st/bin"; ln -s usr/sbin "$st/sbin"
	ln -s usr/lib "$st/lib"; ln -s usr/lib64 "$st/lib64"
	cp "$(command -v busybox)" "$st/usr/bin/busybox"
	for a in $(busybox --list-full); do
		a=$(usr_path "/$a")
		[ "$a" = usr/bin/busybox ] || [ -e "$st/$a" ] || ln -s /usr/bin/busybox "$st/$a"
	done
	for t in $BASE_TOOLS; do
		[ "$(basename "$t")" = busybox ] || cp "$t" "$st/usr/bin/"
	done
	for lib in $(elf_libs $BASE_TOOLS); do
		dst=$st/$(usr_path "$lib")
		mkdir -p "$(dirname "$dst")"
		cp -L "$lib" "$dst"
		echo "$lib" >>"$TMP/base.libs"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$st/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$st/etc/group"
	echo lotto-vm >"$st/etc/hostname"
	# unique names, then rename: several vm.sh may build the same base at once
	(cd "$st" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet >"$out.tmp.$$")
	mv "$TMP/base.libs" "$out.libs.tmp.$$"
	mv "$out.libs.tmp.$$" "$out.libs"
	mv "$out.tmp.$$" "$out"
	rm -rf "$st"
}
mkdir -p "$CACHE/vm"
BASE=$CACHE/vm/base-$(base_key).cpio
if [ ! -f "$BASE" ] || [ ! -f "$BASE.libs" ]; then
	echo "vm.sh: building the base initramfs (cached in $CACHE/vm)" >&2
	build_base "$BASE"
	# bases of older tool versions
	find "$CACHE/vm" -maxdepth 1 -name 'base-*.cpio' ! -name "${BASE##*/}" -mmin +60 -delete
	find "$CACHE/vm" -maxdepth 1 -name 'base-*.cpio.libs' ! -name "${BASE##*/}.libs" -mmin +60 -delete
fi

# ---- the project part, packed per run
TOKEN=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
CWD=$PWD
# the current directory if the VM has it (the checkout, not the build tree)
case $CWD/ in "$BUILD"/*) CWD=$ROOT ;; "$ROOT"/*) ;; *) CWD=$ROOT ;; esac

list_project() { # absolute paths to pack
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -f "$ROOT/$f" ] && printf '%s\n' "$ROOT/$f"; done
	else
		find "$ROOT" \( -name .git -o -name .cache -o -name 'build' -o -name 'build-*' \) -prune -o \
			-type f ! -name '*.o' -print
	fi
	[ ! -d "$BUILD/bin" ] || find "$BUILD/bin" -type f
	local e
	for e in ${EXTRA[@]+"${EXTRA[@]}"}; do
		[ -e "$e" ] || die "--add: no such file or directory: $e"
		find "$e" -type f
	done
}
list_project >"$TMP/files"
# libraries of packed programs that the base does not hold
mapfile -t progs < <(grep -F "$BUILD/" "$TMP/files" || true)
for e in ${EXTRA[@]+"${EXTRA[@]}"}; do [ -d "$e" ] || progs+=("$e"); done
elf_libs ${progs[@]+"${progs[@]}"} | grep -vxF -f "$BASE.libs" >"$TMP/libs" || true

stage=$TMP/stage
mkdir -p "$stage"
if [ $INTERACTIVE = 1 ]; then CMD_STDIN=/dev/console; else CMD_STDIN=/dev/null; fi
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
cmdline=
for a in "$@"; do cmdline+="$(q "$a") "; done
cat >"$stage/init" <<EOF
#!/bin/sh
# generated by scripts/vm.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:$(q "$BUILD/bin")
export HOME=/root TERM=${TERM:-dumb} LOTTO_VM=1 LOTTO_ROOT=$(q "$ROOT") LOTTO_BUILD=$(q "$BUILD")
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# /tmp and /run stay on the (writable) initramfs: the checkout may live
# under either (CI clones into /tmp), and a tmpfs mounted on top would hide it
chmod 1777 /tmp
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec </dev/console >/dev/console 2>&1
hostname lotto-vm
ip link set lo up 2>/dev/null
echo "@@LOTTO-VM-INIT:$TOKEN@@"
cd $(q "$CWD") 2>/dev/null || cd $(q "$ROOT")
( $cmdline ) <$CMD_STDIN
rc=\$?
echo "@@LOTTO-VM-EXIT:$TOKEN:\$rc@@"
sync
poweroff -f
EOF
chmod 755 "$stage/init"
{
	(cd "$stage" && echo init | cpio -o -H newc -R 0:0 --quiet)
	# checkout + build/bin, read in place; programs of the build without
	# their debug info (a tenth of the size: the boot copies all of it)
	: >"$TMP/plain"
	while IFS= read -r f; do
		if [ $STRIP = 1 ] && [ "${f#"$BUILD"/}" != "$f" ] && is_elf "$f"; then
			mkdir -p "$TMP/strip$(dirname "$f")"
			objcopy -p --strip-debug "$f" "$TMP/strip$f" 2>/dev/null || cp "$f" "$TMP/strip$f"
		else
			printf '%s\n' "$f" >>"$TMP/plain"
		fi
	done <"$TMP/files"
	sed 's|^/||' "$TMP/plain" | with_parents | (cd / && cpio -o -H newc -R 0:0 -L --quiet)
	if [ -d "$TMP/strip" ]; then
		(cd "$TMP/strip" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --quiet)
	fi
	# libraries under a merged /usr
	if [ -s "$TMP/libs" ]; then
		mkdir -p "$TMP/l"
		while read -r lib; do
			d=$TMP/l/$(usr_path "$lib"); mkdir -p "$(dirname "$d")"; cp -L "$lib" "$d"
		done <"$TMP/libs"
		(cd "$TMP/l" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --quiet)
	fi
} >"$TMP/project.cpio"
cat "$BASE" "$TMP/project.cpio" >"$TMP/initramfs.cpio"
rm -f "$TMP/project.cpio"

# ---- boot
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 oops=panic mitigations=off 8250.nr_uarts=1"
[ $VERBOSE = 0 ] || APPEND+=" earlyprintk=serial,ttyS0"
# run_vm ACCEL BOOT_TIMEOUT -> sets VM_RC (CMD's status) or VM_FAIL (why not)
run_vm() {
	local accel=$1 boot_to=$2 cpu=max
	[ "$accel" = kvm ] && cpu=host
	rm -f "$TMP"/{console.log,init-seen,rc,fail,out}
	mkfifo "$TMP/out"
	local stdin=/dev/null
	[ $INTERACTIVE = 1 ] && stdin=/dev/stdin
	qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$CPUS" -m "$MEM" \
		-display none -monitor none -serial stdio -no-reboot -nodefaults \
		-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" -append "$APPEND" \
		<$stdin >"$TMP/out" 2>&1 &
	QPID=$!
	# watchdog: wall-clock and boot bounds
	(
		start=$(date +%s)
		while kill -0 "$QPID" 2>/dev/null; do
			sleep 1
			now=$(( $(date +%s) - start ))
			if [ $now -ge "$TIMEOUT" ]; then
				echo "timeout" >"$TMP/fail"; kill "$QPID" 2>/dev/null; break
			fi
			if [ ! -f "$TMP/init-seen" ] && [ $now -ge "$boot_to" ]; then
				echo "noinit" >"$TMP/fail"; kill "$QPID" 2>/dev/null; break
			fi
		done
	) &
	local wpid=$!
	"${AWK[@]}" -v tok="$TOKEN" -v dir="$TMP" -v verbose=$VERBOSE '
		BEGIN { init = 0 }
		{
			sub(/\r+$/, ""); gsub(/\r/, "")
			print > (dir "/console.log"); fflush(dir "/console.log")
			if (index($0, "@@LOTTO-VM-INIT:" tok "@@")) {
				init = 1; print "" > (dir "/init-seen"); close(dir "/init-seen"); next
			}
			if ((i = index($0, "@@LOTTO-VM-EXIT:" tok ":"))) {
				s = substr($0, i + length("@@LOTTO-VM-EXIT:" tok ":"))
				sub(/@@.*/, "", s)
				if (i > 1 && init == 1) { printf "%s\n", substr($0, 1, i - 1); fflush() }
				print s > (dir "/rc"); close(dir "/rc"); init = 2; next
			}
			if (/Kernel panic - not syncing/ && !seen_panic) {
				seen_panic = 1; print "panic" > (dir "/fail"); close(dir "/fail")
			}
			if (/^qemu-system-x86_64: terminating on signal/) next
			if ((init == 1 || verbose) && init != 2) { print; fflush() }
		}' <"$TMP/out"
	local qrc=0
	wait "$QPID" || qrc=$?
	QPID=
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	VM_RC= VM_FAIL=
	if [ -f "$TMP/rc" ]; then
		VM_RC=$(cat "$TMP/rc")
	elif [ -f "$TMP/fail" ]; then
		VM_FAIL=$(cat "$TMP/fail")
	elif [ -f "$TMP/init-seen" ]; then
		VM_FAIL=died
	else
		VM_FAIL="qemu:$qrc"
	fi
}
# mawk (Debian's awk) reads a pipe in blocks unless told otherwise: the
# output would come in bursts and the markers late
AWK=(awk)
if awk -W version 2>&1 | grep -q mawk; then AWK=(awk -W interactive); fi
tail_log() {
	echo "vm.sh: last lines of the console:" >&2
	tail -n 25 "$TMP/console.log" 2>/dev/null | sed 's/^/  | /' >&2 || true
}

VM_START=$(date +%s)
if [ $KVM = 1 ]; then
	if [ -w /dev/kvm ]; then
		run_vm kvm $(( BOOT_TIMEOUT < 20 ? BOOT_TIMEOUT : 20 ))
		case ${VM_FAIL:-} in
		noinit|panic|qemu:*)
			echo "vm.sh: KVM did not boot ($VM_FAIL); falling back to TCG" >&2
			[ $VERBOSE = 1 ] && tail_log
			run_vm tcg "$BOOT_TIMEOUT" ;;
		esac
	else
		echo "vm.sh: /dev/kvm is not usable; using TCG" >&2
		run_vm tcg "$BOOT_TIMEOUT"
	fi
else
	run_vm tcg "$BOOT_TIMEOUT"
fi
# A panic before /init is the emulated machine's, not the command's: nothing
# of the checkout has run yet (seen once in a full test run: a timer-list BUG
# in the RCU thread 1.3 s into a 4-vCPU TCG boot). One more boot; a panic
# after /init is reported as it is.
if [ "${VM_FAIL:-}" = panic ] && [ ! -f "$TMP/init-seen" ]; then
	echo "vm.sh: the kernel panicked before /init, before the command ran; booting once more" >&2
	tail_log
	# within what is left of --timeout (a caller's own bound counts on it)
	TIMEOUT=$(( TIMEOUT - ($(date +%s) - VM_START) ))
	if [ $TIMEOUT -gt 0 ]; then
		run_vm tcg "$BOOT_TIMEOUT"
	else
		VM_FAIL=timeout
	fi
fi

if [ -n "$VM_RC" ]; then
	[[ $VM_RC =~ ^[0-9]+$ ]] || { echo "vm.sh: garbled exit marker '$VM_RC'" >&2; exit 125; }
	exit "$VM_RC"
fi
case $VM_FAIL in
timeout) echo "vm.sh: timed out after ${TIMEOUT}s (raise --timeout)" >&2; tail_log; exit 124 ;;
noinit) echo "vm.sh: the kernel did not reach /init within ${BOOT_TIMEOUT}s (check --kernel, --mem)" >&2; tail_log; exit 125 ;;
panic) echo "vm.sh: the kernel panicked" >&2; tail_log; exit 125 ;;
died) echo "vm.sh: the VM stopped before the command finished (no exit marker)" >&2; tail_log; exit 125 ;;
qemu:*)
	if [ -s "$TMP/console.log" ]; then
		echo "vm.sh: the VM stopped before the kernel reached /init (qemu exit ${VM_FAIL#qemu:})" >&2; tail_log
	else
		echo "vm.sh: the VM stopped with no kernel output (qemu exit ${VM_FAIL#qemu:}): bad --kernel, too little --mem? retry with -v" >&2
	fi
	exit 125 ;;
esac
