#!/bin/bash
# units_test.sh — ekv.service and ekv.socket (at the top of the source tree)
# pass `systemd-analyze verify` without a word.  ExecStart points at the built
# ekvd, since verify checks that the program exists.
# Usage: units_test.sh PATH/TO/ekvd SRCDIR
set -u
EKVD=${1:?usage: units_test.sh EKVD SRCDIR}
SRC=${2:?usage: units_test.sh EKVD SRCDIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
sed "s|^ExecStart=/usr/sbin/ekvd |ExecStart=$EKVD |" "$SRC/ekv.service" > "$T/ekv.service"
cp "$SRC/ekv.socket" "$T/ekv.socket"
grep -q "^ExecStart=$EKVD " "$T/ekv.service" || { echo "FAIL: ExecStart not substituted"; exit 1; }
# Documentation=man:ekvd(8) must resolve: use the page from the source
man=--man=no
if command -v scdoc >/dev/null && command -v man >/dev/null; then
	mkdir -p "$T/man/man8"
	scdoc < "$SRC/man/ekvd.8.scd" > "$T/man/man8/ekvd.8" || { echo "FAIL: scdoc"; exit 1; }
	export MANPATH="$T/man"
	man=--man=yes
fi
out=$(cd "$T" && systemd-analyze verify $man ./ekv.service ./ekv.socket 2>&1)
rc=$?
if [ $rc != 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc):"
	echo "$out"
	exit 1
fi
echo "systemd-analyze verify ekv.service ekv.socket: clean"
