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

# ---- round trip between an image file and the device -----------------------
# 1. the image built on the host by tests/mtd/run (/ekv/images/rt-ES-COUNT.img,
#    ekvctl --image, default profile with --page-size = erasesize and
#    --page-count = block count) is written with flashcp and listed through
#    --device; 2. the same workload built in the guest into an image is written
#    with flash_erase + dd; 3. the reverse: the database is changed on the
#    device through ekvctl, dumped with dd and listed through --image.
#    Lists are "ekvctl list --hex" output; the workload is /ekv/rt-keys.awk.
[ -n "$EKVCTL" ] || exit 0
E="$EKVCTL --device $dev"
count=$((size / es))
t=/tmp/rt-mtd$n
himg=/ekv/images/rt-$es-$count.img
img=$t.img
I="$EKVCTL --image $img --page-size $es"
if [ -f "$himg" ]; then
	check "roundtrip-host-image-flashcp-to-device" flashcp "$himg" "$dev"
	check "roundtrip-host-image-lists-identically-on-device" sh -c "$E list --hex >'$t.dev.list' && cmp '${himg%.img}.list' '$t.dev.list'"
else
	notok "roundtrip-host-image: tests/mtd/run built no image for ${es} x $count (add the geometry to its list)"
fi
awk -f /ekv/rt-keys.awk </dev/null >"$t.hex"
rm -f "$img"
check "roundtrip-guest-image-build" sh -c "$I --page-count $count format && $I batch --hex '$t.hex' && $I list --hex >'$t.img.list'"
check "roundtrip-guest-image-has-206-keys" sh -c "[ \$(wc -l <'$t.img.list') = 206 ] && [ \$(wc -c <'$img') = $size ]"
[ -f "$himg" ] && check "roundtrip-guest-and-host-images-list-identically" cmp "${himg%.img}.list" "$t.img.list"
check "roundtrip-guest-image-dd-to-device" sh -c "flash_erase -q '$dev' 0 0 && dd if='$img' of='$dev' bs=$es 2>/dev/null"
check "roundtrip-guest-image-lists-identically-on-device" sh -c "$E list --hex >'$t.dev.list' && cmp '$t.img.list' '$t.dev.list'"
# the reverse: change the database on the device, dump it, list the dump
check "roundtrip-device-writes" sh -c "$E put rt-device-key rt-device-value && printf 'w 72742d62696e 00ff00\\nd 6b000000ff00\\n' | $E batch --hex -"
rm -f "$t.dump"
check "roundtrip-dd-dump-device" sh -c "dd if='$dev' of='$t.dump' bs=$es 2>/dev/null && [ \$(wc -c <'$t.dump') = $size ]"
check "roundtrip-dump-lists-identically-to-device" sh -c "$E list --hex >'$t.dev.list' && $EKVCTL --image '$t.dump' --page-size $es list --hex >'$t.dump.list' && cmp '$t.dev.list' '$t.dump.list'"
check "roundtrip-dump-has-the-device-changes" sh -c "grep -qx '72742d6465766963652d6b6579 72742d6465766963652d76616c7565' '$t.dump.list' && grep -qx '72742d62696e 00ff00' '$t.dump.list' && ! grep -q '^6b000000ff00 ' '$t.dump.list' && [ \$(wc -l <'$t.dump.list') = 207 ]"
rm -f "$t".*
flash_erase -q "$dev" 0 0
exit 0
