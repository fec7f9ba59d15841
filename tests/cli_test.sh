#!/bin/bash
# cli_test.sh — ekvctl's minimal interface as scripts use it: outputs and
# exit codes. Usage: cli_test.sh PATH/TO/ekvctl
set -u
EKVCTL=${1:?usage: cli_test.sh EKVCTL}
DATA=${EKV_TESTDATA:-$(dirname "$0")/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { # name expected-exit expected-stdout -- command...
	local name=$1 want_rc=$2 want_out=$3; shift 4
	local out rc
	out=$("$@" 2>"$T/err"); rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name: rc=$rc (want $want_rc) out='$out' (want '$want_out') err='$(cat "$T/err")'"
	fi
}
E="$EKVCTL --image $T/db.img"
check "format creates the image" 0 "" -- $E format
[ "$(stat -c %s "$T/db.img")" = 1048576 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: image size"; }
check "put" 0 "" -- $E put hostname board-7
check "get prints key=value" 0 "hostname=board-7" -- $E get hostname
check "get -n prints the value" 0 "board-7" -- $E get -n hostname
check "value with spaces is one value" 0 "" -- $E put motd "hello big world"
check "get value with spaces" 0 "hello big world" -- $E get -n motd
check "missing key exits 1" 1 "" -- $E get nosuchkey
check "delete" 0 "" -- $E delete motd
check "deleted key exits 1" 1 "" -- $E get motd
check "binary bytes are escaped" 0 "" -- $E put bin "$(printf 'a\tb\\c')"
check "escaped output" 0 'bin=a\x09b\\c' -- $E get bin
check "list" 0 $'bin=a\\x09b\\\\c\nhostname=board-7' -- $E list
check "list --hex" 0 $'62696e 6109625c63\n686f73746e616d65 626f6172642d37' -- $E list --hex
check "unknown command is a usage error" 2 "" -- $E frobnicate
check "no image is a usage error" 2 "" -- $EKVCTL get x
check "missing image file is an I/O error" 3 "" -- $EKVCTL --image $T/none.img get x
check "unformatted image is corrupted/not formatted" 4 "" -- bash -c "head -c 1048576 /dev/zero | tr '\\0' '\\377' > $T/blank.img && $EKVCTL --image $T/blank.img get x"
check "too few pages is refused" 2 "" -- $EKVCTL --image $T/tiny.img --page-count 8 format
check "key too large" 2 "" -- $E put "$(head -c 65 /dev/zero | tr '\0' k)" v
# batch --hex: the Rust workload replays to the expected contents
cp "$DATA/small.bin" "$T/small.bin"
check "Rust image lists as expected" 0 "$(cat "$DATA/small.bin.expected")" -- $EKVCTL --image "$T/small.bin" list --hex
check "format for replay" 0 "" -- $EKVCTL --image "$T/r.img" --seed 0x12345678 format
check "batch --hex replays a workload" 0 "" -- $EKVCTL --image "$T/r.img" batch --hex "$DATA/small.script"
check "replay gives the expected contents" 0 "$(cat "$DATA/small.bin.expected")" -- $EKVCTL --image "$T/r.img" list --hex
printf 'begin\nw 62 01\nw 61 02\ncommit\n' > "$T/bad.script"
check "out-of-order keys in a batch transaction are refused" 2 "" -- $E batch --hex "$T/bad.script"
printf 'w 7a7a 01\nbegin\nw 61 01\n' > "$T/bad2.script"
check "batch checks the whole file first" 2 "" -- $E batch --hex "$T/bad2.script"
check "nothing of a refused batch is applied" 1 "" -- $E get zz
check "-v reports the options in effect" 0 "board-7" -- $E -v get -n hostname
grep -q "page-size 4096 page-count 256 max-page-count 256 align 4" "$T/err" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: -v output: $(cat "$T/err")"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
