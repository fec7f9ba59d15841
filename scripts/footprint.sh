#!/bin/bash
# footprint.sh [ARCH...] — stripped sizes of the static ekvctl and of
# libekv.so, default build and -Dtiny=true, for amd64 (native) and the cross
# targets (arm64, armhf, s390x; their sysroot comes from scripts/cross-test.sh).
# Prints a markdown table (the README's "Footprint"): file sizes, and the
# text segment (code and read-only data) of libekv.so, since the files are
# padded to the target's page alignment (64 KiB on arm64).  Builds only the
# two targets, in build-size-ARCH and build-size-ARCH-tiny.
set -eu
cd "$(dirname "$0")/.."
ARCHS=${*:-amd64 armhf arm64 s390x}
row() { # arch build-dir-suffix strip-prefix
	local b=build-size-$1$2 out
	out=$(mktemp -d)
	meson compile -C "$b" cli/ekvctl:executable lib/ekv:shared_library >/dev/null
	"$3strip" -o "$out/ekvctl" "$b/cli/ekvctl"
	"$3strip" -o "$out/libekv.so" "$(readlink -f "$b/lib/libekv.so")"
	file "$out/ekvctl" | grep -q "statically linked" || echo "warning: $b/cli/ekvctl is not static" >&2
	echo "$(stat -c %s "$out/ekvctl") $(stat -c %s "$out/libekv.so")" \
		"$("$3size" "$out/libekv.so" | awk 'NR == 2 {print $1}')"
	rm -rf "$out"
}
kb() { echo "$(( ($1 + 512) / 1024 )) KB"; }
echo "| arch | ekvctl (static) | ekvctl, tiny | libekv.so | libekv.so, tiny | libekv text | libekv text, tiny |"
echo "|---|---|---|---|---|---|---|"
for arch in $ARCHS; do
	cross=() prefix=""
	if [ "$arch" != amd64 ]; then
		scripts/cross-test.sh --sysroot-only "$arch" >/dev/null
		cross=(--cross-file "cross/$arch.txt" --cross-file "build-cross-$arch-sysroot/sysroot.txt")
		prefix=$(sed -n "s/^c = '\(.*\)gcc'$/\1/p" "cross/$arch.txt")
	fi
	for t in "" -tiny; do
		b=build-size-$arch$t
		[ -f "$b/build.ninja" ] || meson setup "$b" "${cross[@]}" -Db_ndebug=true \
			-Dtiny=$([ -n "$t" ] && echo true || echo false) >/dev/null
	done
	read -r e l x < <(row "$arch" "" "$prefix")
	read -r et lt xt < <(row "$arch" -tiny "$prefix")
	echo "| $arch | $(kb "$e") | $(kb "$et") | $(kb "$l") | $(kb "$lt") | $(kb "$x") | $(kb "$xt") |"
done
