#!/usr/bin/env bash
# scripts/setup.sh — install what lotto needs, fetch the sched_ext test kernel,
# configure and build. Idempotent: re-running it does only what is missing.
#
#   scripts/setup.sh            packages + kernel + build
#   scripts/setup.sh --no-build packages + kernel only
#
# Versions are resolved now, from the archive, never hard-coded. The mirror is
# read from the machine's own apt sources: nothing here names a host.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOTTO_CACHE:-$ROOT/.cache}
BUILD=${LOTTO_BUILD:-$ROOT/build}
DO_BUILD=1
for a in "$@"; do
	case $a in
	--no-build) DO_BUILD=0 ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "setup.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
	esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- 1. apt sources: backports suites on the mirror this machine already uses
mirror_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
	done
}
MIRROR=$(mirror_uri | grep -E '/debian/?$' | head -n1 || true)
if [ -z "$MIRROR" ]; then
	echo "setup.sh: no Debian mirror found in /etc/apt/sources*; add one, then re-run" >&2
	exit 1
fi

LIST=/etc/apt/sources.list.d/lotto-backports.list
WANT_LIST="deb $MIRROR bookworm-backports main
deb $MIRROR trixie-backports main"
PIN=/etc/apt/preferences.d/lotto-backports
WANT_PIN="# lotto: take only what setup.sh names from these suites
Package: *
Pin: release n=trixie-backports
Pin-Priority: 50

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100"
stamp=$CACHE/apt-updated
mkdir -p "$CACHE"
if [ "$(cat $LIST 2>/dev/null)" != "$WANT_LIST" ] || [ "$(cat $PIN 2>/dev/null)" != "$WANT_PIN" ]; then
	say "adding bookworm-backports and trixie-backports (pinned) from $MIRROR"
	printf '%s\n' "$WANT_LIST" | as_root tee $LIST >/dev/null
	printf '%s\n' "$WANT_PIN" | as_root tee $PIN >/dev/null
	rm -f "$stamp"
fi
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
	say "apt-get update"
	as_root apt-get update -qq
	touch "$stamp"
fi

# ---- 2. packages
MAIN_PKGS="cmake make pkg-config g++ clang-19 libclang-rt-19-dev lld-19 llvm-19 libelf-dev zlib1g-dev
	libluajit-5.1-dev luajit libreadline-dev libspdlog-dev nlohmann-json3-dev busybox-static cpio zstd xz-utils
	stress-ng rt-tests tmux python3 util-linux gnuplot-nox"
BPO_PKGS="libbpf-dev qemu-system-x86 catch2"
missing=()
for p in $MAIN_PKGS $BPO_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# backports versions are required for these (libbpf >= 1.4, catch2 3.x, qemu >= 8)
ver_ge() { dpkg --compare-versions "$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo 0)" ge "$2"; }
ver_ge libbpf-dev 1:1.4 || missing+=(libbpf-dev)
ver_ge catch2 3 || missing+=(catch2)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing packages: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
	main=() bpo=()
	for p in $(printf '%s\n' "${missing[@]}" | sort -u); do
		case " $BPO_PKGS " in *" $p "*) bpo+=("$p") ;; *) main+=("$p") ;; esac
	done
	apt_install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
	[ ${#main[@]} -eq 0 ] || apt_install "${main[@]}"
	# -t: the backports' own dependencies (qemu's seabios, ...) come from there too
	[ ${#bpo[@]} -eq 0 ] || apt_install -t bookworm-backports "${bpo[@]}"
fi

# ---- 3. the sched_ext test kernel and vmlinux.h (trixie-backports, not installed)
KDIR=$CACHE/kernel
mkdir -p "$KDIR"
meta=linux-image-cloud-amd64
kimg=$(apt-cache depends "$meta/trixie-backports" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
if [ -z "$kimg" ]; then
	echo "setup.sh: cannot resolve $meta in trixie-backports (apt-get update failed?)" >&2
	exit 1
fi
kver=${kimg#linux-image-}
if [ ! -f "$KDIR/$kver/vmlinuz" ]; then
	say "fetching sched_ext kernel $kver"
	tmp=$(mktemp -d); chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "$kimg/trixie-backports" >/dev/null 2>&1 || true)
	# the image package may itself be a shell around linux-binary-X/linux-base-X
	for dep in $(apt-cache depends "$kimg/trixie-backports" | awk '/Depends: linux-(binary|base|modules)-/ { print $2 }'); do
		(cd "$tmp" && apt-get download -qq "$dep/trixie-backports" >/dev/null)
	done
	mkdir -p "$tmp/x"
	for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
	vmlinuz=$(find "$tmp/x" -path "*/$kver/vmlinuz" -o -name "vmlinuz-$kver" | head -n1)
	config=$(find "$tmp/x" -path "*/$kver/config" -o -name "config-$kver" | head -n1)
	if [ -z "$vmlinuz" ]; then
		echo "setup.sh: no vmlinuz in the $kimg packages" >&2
		exit 1
	fi
	if [ -n "$config" ] && ! grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$config"; then
		echo "setup.sh: $kver lacks CONFIG_SCHED_CLASS_EXT" >&2
		exit 1
	fi
	mkdir -p "$KDIR/$kver"
	[ -n "$config" ] && cp "$config" "$KDIR/$kver/config"
	moddir=$(dirname "$vmlinuz")
	if [ -d "$tmp/x/usr/lib/modules/$kver/kernel" ]; then
		cp -a "$tmp/x/usr/lib/modules/$kver" "$KDIR/$kver/modules"
	fi
	cp "$vmlinuz" "$KDIR/$kver/vmlinuz.tmp" && mv "$KDIR/$kver/vmlinuz.tmp" "$KDIR/$kver/vmlinuz"
	rm -rf "$tmp"; trap - EXIT
fi
ln -sfn "$kver" "$KDIR/current"

VMH=$CACHE/vmlinux/vmlinux.h
if [ ! -f "$VMH" ]; then
	say "fetching vmlinux.h (linux-bpf-dev, trixie-backports)"
	tmp=$(mktemp -d); chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq linux-bpf-dev/trixie-backports >/dev/null)
	dpkg-deb -x "$tmp"/linux-bpf-dev_*.deb "$tmp/x"
	src=$(find "$tmp/x" -name vmlinux.h | grep x86_64 | head -n1)
	if [ -z "$src" ] || ! grep -q 'struct sched_ext_ops {' "$src"; then
		echo "setup.sh: linux-bpf-dev has no vmlinux.h with struct sched_ext_ops" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$VMH")"
	cp "$src" "$VMH.tmp" && mv "$VMH.tmp" "$VMH"
	rm -rf "$tmp"
fi

# ---- 4. build
if [ $DO_BUILD = 1 ]; then
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		say "configuring ($BUILD)"
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	say "building"
	cmake --build "$BUILD" -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "setup.sh: build failed" >&2; exit 1; }
fi
say "ready (kernel $kver)"
