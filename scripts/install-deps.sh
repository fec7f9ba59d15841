#!/bin/bash
# install-deps.sh — install what building and testing ekv needs on Debian 12.
set -eu
PKGS="meson ninja-build pkg-config gcc libcmocka-dev zlib1g-dev libsystemd-dev libmtd-dev scdoc man-db
      bash-completion systemd
      mtd-utils clang libclang-rt-14-dev python3 qemu-system-x86 busybox-static cpio kmod
      xz-utils zstd binutils
      dpkg-dev debhelper lintian
      qemu-user-static binfmt-support
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
      gcc-s390x-linux-gnu libc6-dev-s390x-cross"
# scripts/cross-test.sh fetches the target's libraries (apt-get download
# PKG:ARCH) into a private sysroot: apt needs those architectures' lists
CROSS_ARCHS="arm64 armhf s390x"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
update=""
for a in $CROSS_ARCHS; do
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		$SUDO dpkg --add-architecture "$a"
		update=1
	fi
done
if [ -n "$missing" ] || [ -n "$update" ]; then
	$SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
