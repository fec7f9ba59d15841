#!/bin/sh
# tests/mtd/guest.sh — the test plan, run inside the tests/mtd VM (busybox ash).
#
# Owns: which simulators are loaded with which geometry (in phases, reloading
# modules between them, all in ONE boot), finding each device by its
# /proc/mtd name, and running every test program against every device.
# Must never: decide pass/fail itself (tests/mtd/run counts the TAP lines),
# or leave a phase's devices busy (the next phase rmmods their modules).
#
# For every device, each executable in /ekv/tests/ runs as
#     PROG /dev/mtdN
# with this environment:
#     EKV_MTD_DEV      /dev/mtdN
#     EKV_MTD_LABEL    short device label, e.g. mtdram-1m-4k
#     EKV_MTD_SIM      mtdram | block2mtd | nandsim
#     EKV_MTD_EXPECT   "ok"          usable: read/program/erase freely
#                      "geometry"    usable but huge: open and read only
#                      "refuse:TEXT" ekv_flash_mtd_open must fail with
#                                    EKV_ENOTSUP and a message containing TEXT
#     EKV_MTD_DEVICES  all devices of the current phase, one per line:
#                      "LABEL /dev/mtdN SIM EXPECT-KEYWORD"
#     EKVCTL           /ekv/bin/ekvctl if the build has it, else empty
#     CMOCKA_MESSAGE_OUTPUT=TAP
# then /ekv/guest-tests.sh (tests/mtd/guest-tests.sh) runs the same way as
# "sh /ekv/guest-tests.sh /dev/mtdN".  Programs print TAP-style lines
# ("ok - name", "not ok - name: why"); exit 77 = skipped for this device.
# Output is framed as "@@BEGIN LABEL DEV SIM PROG" ... "@@END LABEL PROG RC SECS";
# setup problems are reported as "@@ERROR text".

PER_PROG_TIMEOUT=300
: >/tmp/devices
export CMOCKA_MESSAGE_OUTPUT=TAP
EKVCTL=""
[ -x /ekv/bin/ekvctl ] && EKVCTL=/ekv/bin/ekvctl
export EKVCTL

err() { echo "@@ERROR $*"; }
now() { awk '{print $1}' /proc/uptime; }

load() {
	if ! out=$(modprobe "$@" 2>&1); then
		err "modprobe $*: $out / $(dmesg | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
}

unload() {
	for m; do
		rmmod "$m" 2>/dev/null || { err "rmmod $m: $(rmmod "$m" 2>&1)"; return 1; }
	done
}

# /dev/mtdN of the device whose /proc/mtd name is exactly $1 (highest N wins)
dev_by_name() {
	n=$(sed -n 's/^mtd\([0-9]*\): [0-9a-f]* [0-9a-f]* "\(.*\)"$/\1 \2/p' /proc/mtd |
		while read -r idx name; do [ "$name" = "$1" ] && echo "$idx"; done | tail -n 1)
	[ -n "$n" ] || return 1
	if [ ! -e "/dev/mtd$n" ]; then   # no udev: devtmpfs makes the nodes, mknod is a fallback
		IFS=: read -r ma mi <"/sys/class/mtd/mtd$n/dev" && mknod "/dev/mtd$n" c "$ma" "$mi"
		mknod "/dev/mtd${n}ro" c "$ma" $((mi + 1))
	fi
	echo "/dev/mtd$n"
}

# device LABEL "PROC NAME" SIM EXPECT — register a device of the current phase
device() {
	if dev=$(dev_by_name "$2"); then
		printf '%s\t%s\t%s\t%s\n' "$1" "$dev" "$3" "$4" >>/tmp/devices
	else
		err "$1: no MTD named \"$2\" in /proc/mtd: $(cat /proc/mtd | tr '\n' ' ')"
	fi
}

run_one() { # run_one LABEL DEV SIM NAME CMD...
	label=$1 dev=$2 sim=$3 name=$4
	shift 4
	echo "@@BEGIN $label $dev $sim $name"
	t0=$(now)
	timeout -s KILL "$PER_PROG_TIMEOUT" "$@" 2>&1
	rc=$?
	echo "@@END $label $name $rc $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", b - a}')"
}

# run every test program against every device registered since the last call
run_phase() {
	echo "# phase $1: $(cat /proc/mtd | sed 1d | tr '\n' ';')"
	EKV_MTD_DEVICES=$(awk -F'\t' '{e = $4; sub(/:.*/, "", e); print $1, $2, $3, e}' /tmp/devices)
	export EKV_MTD_DEVICES
	while IFS="$(printf '\t')" read -r label dev sim expect; do
		export EKV_MTD_DEV="$dev" EKV_MTD_LABEL="$label" EKV_MTD_SIM="$sim" EKV_MTD_EXPECT="$expect"
		for p in /ekv/tests/*; do
			[ -f "$p" ] && [ -x "$p" ] || continue
			run_one "$label" "$dev" "$sim" "${p##*/}" "$p" "$dev" </dev/null
		done
		if [ -f /ekv/guest-tests.sh ]; then
			run_one "$label" "$dev" "$sim" guest-tests.sh sh /ekv/guest-tests.sh "$dev" </dev/null
		fi
	done </tmp/devices
	: >/tmp/devices
}

NAND_MSG="has bad-block support (NAND): not supported by this layout"

# ---- phase 1: mtdram 1 MiB / 4 KiB, nandsim 512 B pages, block2mtd on brd 4 MiB / 64 KiB
load mtdram total_size=1024 erase_size=4
load nandsim                       # default id 0x98,0x39: 128 MiB, 512 B page, 16 KiB block
load brd rd_nr=1 rd_size=4096 max_part=0
load block2mtd block2mtd=/dev/ram0,65536
device mtdram-1m-4k "mtdram test device" mtdram ok
device nandsim-512b "NAND simulator partition 0" nandsim "refuse:$NAND_MSG"
device block2mtd-4m-64k "block2mtd: /dev/ram0" block2mtd ok
run_phase 1

# ---- phase 2: mtdram 4 MiB / 64 KiB, nandsim 2 KiB pages
unload mtdram nandsim
load mtdram total_size=4096 erase_size=64
load nandsim id_bytes=0x20,0xa2,0x00,0x15   # 64 MiB, 2 KiB page, 128 KiB block
device mtdram-4m-64k "mtdram test device" mtdram ok
device nandsim-2k "NAND simulator partition 0" nandsim "refuse:$NAND_MSG"
run_phase 2

# ---- phase 3: refusals of big erase blocks and too many pages; the largest accepted count
unload mtdram
load mtdram total_size=1024 erase_size=128
device mtdram-1m-128k "mtdram test device" mtdram \
	"refuse:erasesize 131072 makes the page payload exceed the format's 16-bit limits (> 64 KiB)"
load loop
truncate -s $((65535 * 4096)) /tmp/max.img && truncate -s $((65536 * 4096)) /tmp/over.img &&
	losetup /dev/loop0 /tmp/max.img && losetup /dev/loop1 /tmp/over.img &&
	echo /dev/loop0,4096 >/sys/module/block2mtd/parameters/block2mtd &&
	echo /dev/loop1,4096 >/sys/module/block2mtd/parameters/block2mtd ||
	err "loop/block2mtd setup failed: $(dmesg | tail -n 3 | tr '\n' ' ')"
device block2mtd-65535p "block2mtd: /dev/loop0" block2mtd geometry
device block2mtd-65536p "block2mtd: /dev/loop1" block2mtd \
	"refuse:65536 erase blocks (size 268435456 / erasesize 4096) exceed the format's maximum of 65535 pages"
run_phase 3

echo "# guest done after $(now) s of uptime"
exit 0
