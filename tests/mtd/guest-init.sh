#!/bin/sh
# tests/mtd/guest-init.sh — /init of the tests/mtd VM (busybox ash, PID 1).
#
# Owns: mounting the pseudo file systems, wiring the serial ports (ttyS1 =
# test output, ttyS2 = exit status), running /ekv/guest.sh and powering off.
# Must never: load modules or run tests itself (guest.sh does), or exit
# without powering off (PID 1 exiting panics the kernel).
export PATH=/ekv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
stty -F /dev/ttyS1 115200 raw -echo 2>/dev/null
stty -F /dev/ttyS2 115200 raw -echo 2>/dev/null
. /ekv/env
if [ -n "$EKV_LD_LIBRARY_PATH" ]; then export LD_LIBRARY_PATH=$EKV_LD_LIBRARY_PATH; fi
cd /tmp || cd /
sh /ekv/guest.sh </dev/null >/dev/ttyS1 2>&1
rc=$?
echo "$rc" >/dev/ttyS2
sync
poweroff -f
