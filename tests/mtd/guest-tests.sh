#!/bin/sh
# tests/mtd/guest-tests.sh — shell tests run inside the tests/mtd VM, once per
# device, as "sh /ekv/guest-tests.sh /dev/mtdN" (busybox ash; mtd-utils on PATH).
#
# Owns: device-level shell checks (the place for ekvctl end-to-end tests).
# Must never: assume a device is usable without looking at EKV_MTD_EXPECT, or
# leave a usable device in a state other tests cannot erase.
#
# Environment (see tests/mtd/guest.sh): EKV_MTD_DEV, EKV_MTD_LABEL,
# EKV_MTD_SIM, EKV_MTD_EXPECT (ok | geometry | refuse:TEXT), EKV_MTD_DEVICES,
# EKVCTL (path of the built ekvctl, or empty).  Report each case as a line
# "ok - NAME" or "not ok - NAME: why" (use ok/notok below); exit 77 to skip.
dev=$1
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
check() { # check NAME CMD...: one case from a command's exit status
	name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name"; else notok "$name: $(echo "$out" | tail -n 2 | tr '\n' ' ')"; fi
}

n=${dev#/dev/mtd}
sys=/sys/class/mtd/mtd$n

# mtd-utils and sysfs agree on the device (a sanity check of the VM itself)
es=$(cat "$sys/erasesize")
check "mtdinfo-agrees-with-sysfs" sh -c "mtdinfo '$dev' | grep -q 'Eraseblock size: *$es bytes'"

case "$EKV_MTD_EXPECT" in
refuse:*)
	# ekvctl passes the backend's refusal through (exit 2 = usage)
	if [ -n "$EKVCTL" ]; then
		out=$("$EKVCTL" --device "$dev" list 2>&1)
		rc=$?
		case "$rc:$out" in
		2:*"${EKV_MTD_EXPECT#refuse:}"*) ok "ekvctl-reports-refusal" ;;
		*) notok "ekvctl-reports-refusal: exit $rc: $out" ;;
		esac
	fi
	exit 0 ;;
ok) ;;
*) exit 0 ;; # "geometry": huge device, read-only checks only
esac

# the device can be erased by mtd-utils and then reads 0xFF everywhere
size=$(cat "$sys/size")
check "flash_erase-then-all-ff" sh -c "flash_erase -q '$dev' 0 0 &&
	tr '\\000' '\\377' </dev/zero | head -c $size | cmp - '$dev'"

# ekvctl end to end on the real device (through libekv.so in the guest)
if [ -n "$EKVCTL" ]; then
	E="$EKVCTL --device $dev"
	check "ekvctl-format" $E format
	check "ekvctl-put" $E put hello world
	check "ekvctl-get" sh -c "[ \"\$($E get -n hello)\" = world ]"
	check "ekvctl-by-name" sh -c "[ \"\$($EKVCTL --device 'mtd:$(cat "$sys/name")' get -n hello)\" = world ]"
	check "ekvctl-missing-key-exit-1" sh -c "$E get nope; [ \$? = 1 ]"
	flash_erase -q "$dev" 0 0 # leave it erased for whoever comes next
fi
exit 0
