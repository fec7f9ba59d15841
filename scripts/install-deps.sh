#!/bin/bash
# install-deps.sh — install what building and testing ekv needs on Debian 12.
set -eu
PKGS="meson ninja-build pkg-config gcc libcmocka-dev zlib1g-dev libsystemd-dev libmtd-dev scdoc man-db
      bash-completion systemd
      mtd-utils clang libclang-rt-14-dev python3 qemu-system-x86 busybox-static cpio kmod
      xz-utils zstd binutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
