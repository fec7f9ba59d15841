#!/bin/bash
# demo.sh — install dependencies, build, and show the main job: a key-value
# database on a file-backed flash image, used the way init scripts use it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
EKVCTL=build/cli/ekvctl
IMG=$(mktemp -d)/flash.img
run() { echo "\$ $*"; "$@"; }
echo "== a 1 MiB NOR flash image (256 erase blocks of 4 KiB), formatted"
run $EKVCTL --image "$IMG" -v format
echo "== store device settings"
run $EKVCTL --image "$IMG" put hostname board-7
run $EKVCTL --image "$IMG" put motd "values with spaces stay one value"
run $EKVCTL --image "$IMG" put serial SN-000123
echo "== read them back (fw_printenv style)"
run $EKVCTL --image "$IMG" get hostname
run $EKVCTL --image "$IMG" get -n serial
echo "== a missing key exits 1"
$EKVCTL --image "$IMG" get nosuchkey || echo "(exit status $?)"
echo "== an atomic multi-key transaction (keys ascending), then the whole database"
printf 'begin\nw 6e65742e646e73 382e382e382e38\nw 6e65742e6970 31302e302e302e32\ncommit\n' |
	run $EKVCTL --image "$IMG" batch --hex -
run $EKVCTL --image "$IMG" delete motd
run $EKVCTL --image "$IMG" list
echo "== 2000 small writes: the flash wears evenly, the database stays small"
for i in $(seq 1 2000); do echo "w 636f756e746572 $(printf '%08x' "$i")"; done |
	$EKVCTL --image "$IMG" batch --hex -
run $EKVCTL --image "$IMG" get counter
echo "demo image: $IMG"
