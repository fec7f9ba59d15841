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
echo "== an atomic multi-key transaction, then the whole database"
run $EKVCTL --image "$IMG" put net.ip 10.0.0.2 net.dns 8.8.8.8
run $EKVCTL --image "$IMG" delete motd
run $EKVCTL --image "$IMG" list
echo "== 2000 small transactions (one key each): wear spreads over all pages"
for i in $(seq 1 2000); do
	echo "w 636f756e746572 $(printf '%s' "$i" | od -An -tx1 | tr -d ' \n')"
done | $EKVCTL --image "$IMG" batch --hex -
run $EKVCTL --image "$IMG" get counter
run $EKVCTL --image "$IMG" stat
run $EKVCTL --image "$IMG" fsck
echo "demo image: $IMG"
