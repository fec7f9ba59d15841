#!/bin/bash
# cli_test.sh — ekvctl as scripts use it: the minimal interface (format, put,
# get, delete, list), then the full CLI (config file, several keys, scripts, export/import, fsck
# of damaged images, probe).  Outputs and exit codes.
# Usage: cli_test.sh PATH/TO/ekvctl
set -u
EKVCTL=${1:?usage: cli_test.sh EKVCTL}
DATA=${EKV_TESTDATA:-$(dirname "$0")/data}
T=$(mktemp -d)
[ -d "$T" ] || exit 1
trap 'rm -rf "$T"' EXIT
export EKV_CONF="$T/none.conf" # no host configuration leaks in (a missing $EKV_CONF is an error only with -d)
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

# ---- the full CLI ----------------------------------------------------------
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
flip() { # FILE OFFSET COUNT: invert COUNT bytes
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); o = int(sys.argv[2]); n = int(sys.argv[3])
f.seek(o); b = f.read(n); f.seek(o); f.write(bytes(x ^ 0xff for x in b))' "$@"
}
cat > "$T/ekv.conf" <<CONF
# a board's databases
[default]
image = $T/board.img

[small]
image = $T/small.img
page-size = 1024
page-count = 64
crc = yes
CONF
export EKV_CONF="$T/ekv.conf"
check "config: [default] is used without -d" 0 "" -- $EKVCTL format
check "config: put several pairs" 0 "" -- $EKVCTL put serial 0042 hostname board-7 serial 0043
check "config: last of a repeated key wins" 0 "serial=0043" -- $EKVCTL get serial
check "get several keys" 0 $'hostname=board-7\nserial=0043' -- $EKVCTL get hostname serial
check "get several keys, one missing: the others print, exit 1" 1 $'hostname=board-7\nserial=0043' -- $EKVCTL get hostname nope serial
check "get -n several keys" 0 $'board-7\n0043' -- $EKVCTL get -n hostname serial
check "get --hex" 0 "686f73746e616d65 626f6172642d37" -- $EKVCTL get --hex hostname
check "-d picks a section, -c a file" 0 "" -- $EKVCTL -c "$T/ekv.conf" -d small format
[ "$(stat -c %s "$T/small.img")" = 65536 ] && ok || bad "config profile: small image size"
check "the section's profile applies" 0 "" -- $EKVCTL -d small put k v
check "command-line options override the file" 4 "" -- $EKVCTL -d small --no-crc get k
check "-d of a missing section is a usage error" 2 "" -- $EKVCTL -d nosuch get k
grep -q "no database \[nosuch\]" "$T/err" && ok || bad "missing section message: $(cat "$T/err")"
printf '[default]\nimage = x\npage-size 4096\n' > "$T/bad.conf"
check "config syntax error names file and line" 2 "" -- $EKVCTL -c "$T/bad.conf" get k
grep -q "bad.conf:3:" "$T/err" && ok || bad "config error line: $(cat "$T/err")"
printf '[default]\nimage = x\nfrobnicate = 1\n' > "$T/bad2.conf"
check "config: unknown key" 2 "" -- $EKVCTL -c "$T/bad2.conf" get k
check "EKV_CONF names a missing file: usage error" 2 "" -- env EKV_CONF="$T/missing.conf" $EKVCTL get k
check "--image without -d does not read the config" 0 "board-7" -- $EKVCTL --image "$T/board.img" get -n hostname
# numbers: decimal or 0x-hex; a leading zero is refused, never read as octal
check "--page-count 064 is refused" 2 "" -- $EKVCTL --image "$T/oct.img" --page-count 064 format
grep -q "leading 0" "$T/err" && ok || bad "octal message: $(cat "$T/err")"
[ ! -e "$T/oct.img" ] && ok || bad "--page-count 064 made an image"
check "--page-count 0x40 is 64 pages" 0 "" -- $EKVCTL --image "$T/hex.img" --page-count 0x40 --page-size 1024 format
[ "$(stat -c %s "$T/hex.img")" = 65536 ] && ok || bad "0x40 pages: $(stat -c %s "$T/hex.img")"
printf '[default]\nimage = %s\npage-count = 064\n' "$T/oct.img" > "$T/oct.conf"
check "ekv.conf: page-count = 064 is refused with its line" 2 "" -- $EKVCTL -c "$T/oct.conf" format
grep -q "oct.conf:3:.*leading 0" "$T/err" && ok || bad "octal conf message: $(cat "$T/err")"
check "a value out of the field's range is refused" 2 "" -- $EKVCTL --image "$T/oct.img" --scratch-pages 4294967295 format
# binary-safe values
printf 'a\0b\377' > "$T/bin.val"
check "put --file" 0 "" -- $EKVCTL put --file "$T/bin.val" blob
check "get --raw writes the bytes exactly" 0 "" -- bash -c "$EKVCTL get --raw blob | cmp - '$T/bin.val'"
check "escaped output of binary bytes" 0 'blob=a\x00b\xff' -- $EKVCTL get blob
check "put - reads stdin" 0 "" -- bash -c "printf 'from stdin' | $EKVCTL put motd -"
check "value read from stdin" 0 "from stdin" -- $EKVCTL get -n motd
check "-- ends options" 0 "" -- $EKVCTL put -- -dash -5
check "a key starting with a dash" 0 "-5" -- $EKVCTL get -n -- -dash
check "--hex-args" 0 "" -- $EKVCTL put --hex-args 00ff 0102
check "--hex-args get" 0 '\x00\xff=\x01\x02' -- $EKVCTL get --hex-args 00ff
check "get --raw with two keys is a usage error" 2 "" -- $EKVCTL get --raw a b
check "value too large" 2 "" -- $EKVCTL put big "$(head -c 1025 /dev/zero | tr '\0' v)"
# delete
check "delete of a missing key exits 0" 0 "" -- $EKVCTL delete nosuchkey
check "delete --must-exist of a missing key exits 1" 1 "" -- $EKVCTL delete --must-exist motd nosuchkey
check "--must-exist deleted nothing" 0 "from stdin" -- $EKVCTL get -n motd
check "delete several keys" 0 "" -- $EKVCTL delete motd -- -dash
check "deleted" 1 "" -- $EKVCTL get motd
# list
check "list PREFIX" 0 "hostname=board-7" -- $EKVCTL list host
check "list --from --to" 0 $'blob=a\\x00b\\xff\nhostname=board-7' -- $EKVCTL list --from b --to i
check "list --keys" 0 $'\\x00\\xff\nblob\nhostname\nserial' -- $EKVCTL list --keys
check "list --json" 0 $'{\n  "hostname": "board-7"\n}' -- $EKVCTL list --json host
# scripts: one transaction, sorted, last wins, a bad line applies nothing
printf '# board setup\nz=26\na=1\n\nempty=""\nz=last\nhostname=\n' > "$T/ok.txt"
check "batch FILE" 0 "" -- $EKVCTL batch "$T/ok.txt"
check "batch: sorted, last wins, key= deletes, \"\" is empty" 0 $'\\x00\\xff=\\x01\\x02\na=1\nblob=a\\x00b\\xff\nempty=\nserial=0043\nz=last' -- $EKVCTL list
check "hostname deleted by the script" 1 "" -- $EKVCTL get hostname
printf 'p=1\nq=2\nthis line has no equals sign\nr=3\n' > "$T/bad.txt"
check "-s with a syntax error on line 3" 2 "" -- $EKVCTL -s "$T/bad.txt"
grep -q "bad.txt:3:" "$T/err" && ok || bad "script error line: $(cat "$T/err")"
check "nothing of the bad script applied" 1 "" -- $EKVCTL get p
printf 'p=1\nq=\\q\n' > "$T/bad3.txt"
check "a bad escape rejects the script" 2 "" -- $EKVCTL batch "$T/bad3.txt"
check "-s - reads the script from stdin" 0 "" -- bash -c "printf 'p=1\nq=2\n' | $EKVCTL -s -"
check "-s applied" 0 $'1\n2' -- $EKVCTL get -n p q
# input errors apply nothing: a read error (EIO half-way) or an input cut
# short exits non-zero before the first commit
eio() { # FILE COMMAND...: COMMAND reads FILE on stdin, then a read error (EIO)
	python3 - "$@" <<'PY'
import os, pty, subprocess, sys, threading, tty
data = open(sys.argv[1], "rb").read()
m, s = pty.openpty()
tty.setraw(s)  # the bytes as they are; once s is closed, reading m fails with EIO
p = subprocess.Popen(sys.argv[2:], stdin=m)
os.close(m)
def feed():
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(s, view):]
    except OSError:
        pass
    os.close(s)
threading.Thread(target=feed, daemon=True).start()
sys.exit(p.wait())
PY
}
for i in $(seq 400); do echo "eio$i=value-$i"; done | head -228 > "$T/eio.txt"
check "-s: a read error half-way exits 3" 3 "" -- eio "$T/eio.txt" $EKVCTL -s -
grep -q "read error" "$T/err" && ok || bad "read error message: $(cat "$T/err")"
check "-s: nothing of it applied" 1 "" -- $EKVCTL get eio1
check "batch -: a read error exits 3" 3 "" -- eio "$T/eio.txt" $EKVCTL batch -
check "import: a read error exits 3" 3 "" -- eio "$T/eio.txt" $EKVCTL import
check "batch, import: nothing applied" 1 "" -- $EKVCTL get eio1
printf '{"eio1": "1",\n "eio2": "2",\n' > "$T/eio.json"
check "import --json: a read error exits 3" 3 "" -- eio "$T/eio.json" $EKVCTL import --json
for i in $(seq 100); do printf 'w 6b%02x 76\n' $i; done > "$T/eio.hex"
check "batch --hex: a read error exits 3" 3 "" -- eio "$T/eio.hex" $EKVCTL batch --hex -
check "import --json, batch --hex: nothing applied" 1 "" -- $EKVCTL get --hex-args 6b01
printf 'cut1=1\ncut2=2\ncut3=val' > "$T/cut.txt"
check "a script cut short (no final newline) applies nothing" 2 "" -- $EKVCTL batch "$T/cut.txt"
grep -q "cut.txt:3: .*cut short" "$T/err" && ok || bad "cut short message: $(cat "$T/err")"
check "nothing of the cut script applied" 1 "" -- $EKVCTL get cut1
printf 'w 6b31 7631\nw 6b32 76' > "$T/cut.hex"
check "a hex script cut in the middle of a line applies nothing" 2 "" -- $EKVCTL batch --hex "$T/cut.hex"
check "nothing of the cut hex script applied" 1 "" -- $EKVCTL get k1
printf '{"cut1": "1",\n "cut2": "2",\n "cut3": "va' > "$T/cut.json"
check "a JSON import cut short applies nothing" 2 "" -- $EKVCTL import --json "$T/cut.json"
check "nothing of the cut JSON applied" 1 "" -- $EKVCTL get cut1
# a value from stdin or a file is read up to max-value-size + 1 bytes only
check "put k - < /dev/zero stops at max-value-size" 2 "" -- timeout 20 $EKVCTL put zero - < /dev/zero
grep -q "longer than max-value-size 1024" "$T/err" && ok || bad "endless stdin: $(cat "$T/err")"
check "put --file /dev/zero too" 2 "" -- timeout 20 $EKVCTL put --file /dev/zero zero
peak_kib() { # COMMAND...: its peak RSS in KiB while 256 MiB of zeros are offered on stdin
	python3 - "$@" <<'PY'
import resource, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
chunk = bytes(1 << 20)
try:
    for _ in range(256):
        p.stdin.write(chunk)
    p.stdin.close()
except BrokenPipeError:
    pass
p.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
kib=$(peak_kib $EKVCTL put zero -)
[ "$kib" -lt 131072 ] && ok || bad "put k - of 256 MiB peaked at $kib KiB"
check "nothing written for it" 1 "" -- $EKVCTL get zero
head -c 1024 /dev/zero > "$T/max.val"
check "a value of exactly max-value-size from stdin" 0 "" -- bash -c "$EKVCTL put max - < '$T/max.val'"
check "reads back whole" 0 "" -- bash -c "$EKVCTL get --raw max | cmp - '$T/max.val'"
# export / import round trip of every byte value
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' > "$T/all.val"
check "a value of all 256 bytes" 0 "" -- $EKVCTL put --file "$T/all.val" all
check "a key with = and #" 0 "" -- $EKVCTL put '#k=y ' ' v '
check "export" 0 "" -- bash -c "$EKVCTL export > '$T/export.txt'"
check "import into a fresh image" 0 "" -- bash -c "$EKVCTL --image '$T/copy.img' format && $EKVCTL --image '$T/copy.img' import '$T/export.txt'"
check "import of an export round-trips" 0 "" -- bash -c "$EKVCTL --image '$T/copy.img' export | cmp - '$T/export.txt'"
check "all bytes survive" 0 "" -- bash -c "$EKVCTL --image '$T/copy.img' get --raw all | cmp - '$T/all.val'"
check "JSON round trip" 0 "" -- bash -c "$EKVCTL export --json | $EKVCTL --image '$T/copy.img' import --json --replace && $EKVCTL --image '$T/copy.img' export | cmp - '$T/export.txt'"
check "import --replace deletes other keys" 0 "" -- bash -c "$EKVCTL --image '$T/copy.img' put extra 1 && $EKVCTL --image '$T/copy.img' import --replace < '$T/export.txt' && ! $EKVCTL --image '$T/copy.img' get extra 2>/dev/null"
printf '{"a": "1",\n "b": 2}\n' > "$T/bad.json"
check "bad JSON names its line" 2 "" -- $EKVCTL import --json "$T/bad.json"
grep -q "bad.json:2:" "$T/err" && ok || bad "json error line: $(cat "$T/err")"
# inspection
check "stat" 0 "" -- bash -c "$EKVCTL stat | grep -q '^pages: .* used, .* free'"
check "dump" 0 "" -- bash -c "$EKVCTL dump | grep -q 'put \"serial\" = \"0043\"'"
check "fsck of a clean image" 0 "" -- bash -c "$EKVCTL fsck | grep -q '0 errors.*clean'"
cp "$DATA/medium.bin" "$T/m.bin"; chmod u+w "$T/m.bin"
check "fsck of a Rust image" 0 "" -- bash -c "$EKVCTL --image '$T/m.bin' fsck | grep -q 'clean'"
default_opts="--page-size 4096 --max-page-count 256 --align 4 --erase-value 0xFF --max-chunk-size 4096 --branching-factor 2 --max-key-size 64 --max-value-size 1024"
check "probe recognises the Rust images as the default profile" 0 "$default_opts" -- $EKVCTL --image "$T/m.bin" probe
check "probe: small.bin too" 0 "$default_opts" -- $EKVCTL --image "$T/small.bin" probe
check "probe: a crc image with 1 KiB pages" 0 "--page-size 1024 --max-page-count 256 --align 4 --erase-value 0xFF --crc --max-chunk-size 4096 --branching-factor 2 --max-key-size 64 --max-value-size 1024" -- $EKVCTL --image "$T/small.img" probe
# the Rust crate's images under 13 profiles: clean with their options
# (tests/test_rust_profiles.c); probe finds what the image can tell
while read -r name opts; do
	[ -f "$DATA/profiles/$name.bin.gz" ] || continue
	zcat "$DATA/profiles/$name.bin.gz" > "$T/$name.bin"
	check "fsck of the Rust image $name" 0 "" -- bash -c "$EKVCTL --image '$T/$name.bin' $opts fsck | grep -q '0 errors, 0 warnings: clean'"
done <<'PROFILES'
default --page-size 4096
crc --crc
p128 --page-size 128 --max-page-count 32 --max-value-size 16 --scratch-pages 0
p128crc --page-size 128 --max-page-count 32 --max-value-size 16 --scratch-pages 0 --crc
p256a1 --page-size 256 --max-page-count 64 --align 1 --max-value-size 128
p256a2 --page-size 256 --align 2 --scratch-pages 8
p1024 --page-size 1024 --max-page-count 16 --max-value-size 16 --scratch-pages 0
e00 --erase-value 0x00
bf3 --max-page-count 1024 --branching-factor 3
bf4 --page-size 512 --max-page-count 128 --branching-factor 4
p65536 --page-size 65536 --max-page-count 32
c512crc --crc --max-chunk-size 512
a2e00crc --page-size 2048 --max-page-count 128 --align 2 --erase-value 0x00 --crc
PROFILES
if [ -f "$T/e00.bin" ]; then
	check "probe: erase value 0x00" 0 "${default_opts/0xFF/0x00}" -- $EKVCTL --image "$T/e00.bin" probe
	check "probe: max chunk size 512 with crc" 0 "--page-size 4096 --max-page-count 256 --align 4 --erase-value 0xFF --crc --max-chunk-size 512 --branching-factor 2 --max-key-size 64 --max-value-size 1024" -- $EKVCTL --image "$T/c512crc.bin" probe
	check "probe: 128-byte pages, 32 pages, values up to 16" 0 "--page-size 128 --max-page-count 32 --align 4 --erase-value 0xFF --max-chunk-size 4096 --branching-factor 2 --max-key-size 64 --max-value-size 16" -- $EKVCTL --image "$T/p128.bin" probe
	check "probe: given options are kept" 0 "--page-size 256 --max-page-count 64 --align 1 --erase-value 0xFF --max-chunk-size 4096 --branching-factor 2 --max-key-size 64 --max-value-size 128" -- $EKVCTL --image "$T/p256a1.bin" --align 1 probe
fi
head -c 65536 /dev/urandom > "$T/random.img"
check "probe of random bytes exits 1" 1 "" -- $EKVCTL --image "$T/random.img" probe
# fsck of damaged images: exit 1 with a summary
fsck_damaged() { # name image [options]
	local name=$1 img=$2; shift 2
	local out rc
	out=$($EKVCTL --image "$img" "$@" fsck 2>&1); rc=$?
	if [ $rc = 1 ] && echo "$out" | grep -q "errors.*DAMAGED"; then ok; else bad "fsck $name: rc=$rc $out"; fi
}
first_page() { $EKVCTL --image "$1" "${@:2}" dump --files | sed -n 's/.*pages: \([0-9]*\).*/\1/p' | head -1; }
last_page() { $EKVCTL --image "$1" "${@:2}" dump --files | sed -n 's/.*pages:.* \([0-9]*\)$/\1/p' | head -1; }
$EKVCTL --image "$T/e.img" --seed 7 format
for i in $(seq 100 400); do echo "key$i=value-$i"; done | $EKVCTL --image "$T/e.img" -s -
check "fsck of an image the engine wrote" 0 "" -- bash -c "$EKVCTL --image '$T/e.img' fsck | grep -q clean"
pg=$(first_page "$T/e.img")
cp "$T/e.img" "$T/d1.img"; flip "$T/d1.img" $((pg * 4096)) 4
fsck_damaged "page header flipped" "$T/d1.img"
cp "$T/e.img" "$T/d2.img"; flip "$T/d2.img" $((pg * 4096 + 30)) 16
fsck_damaged "records flipped" "$T/d2.img"
cp "$T/e.img" "$T/d3.img"; flip "$T/d3.img" $(($(last_page "$T/e.img") * 4096 + 12)) 2
fsck_damaged "broken chain" "$T/d3.img"
cp "$T/e.img" "$T/d4.img"; truncate -s 1000000 "$T/d4.img"
fsck_damaged "truncated image" "$T/d4.img"
cp "$T/e.img" "$T/d5.img"; truncate -s $((128 * 4096)) "$T/d5.img"
fsck_damaged "image cut to 128 pages" "$T/d5.img"
check "fsck of an unformatted image" 1 "" -- bash -c "$EKVCTL --image '$T/blank.img' fsck >/dev/null"
$EKVCTL --image "$T/c.img" --crc format && $EKVCTL --image "$T/c.img" --crc put k "a value that a CRC protects"
cp "$T/c.img" "$T/d6.img"; flip "$T/d6.img" $(($(first_page "$T/c.img" --crc) * 4096 + 40)) 1
fsck_damaged "one value byte with --crc" "$T/d6.img" --crc
check "the engine refuses the damaged chunk too" 4 "" -- $EKVCTL --image "$T/d6.img" --crc get k
# through ekvd: the same commands give the same output and exit status as direct ones
EKVD=$(dirname "$EKVCTL")/../daemon/ekvd
if [ -x "$EKVD" ]; then
	$EKVCTL --image "$T/direct.img" --seed 3 format
	$EKVCTL --image "$T/remote.img" --seed 3 format
	"$EKVD" --image "$T/remote.img" --socket "$T/ekvd.sock" 2>"$T/ekvd.log" &
	ekvd_pid=$!
	for _ in $(seq 50); do [ -S "$T/ekvd.sock" ] && break; sleep 0.1; done
	same() { # name, then a command line after the database options
		local name=$1; shift
		local d r drc rrc
		d=$($EKVCTL --image "$T/direct.img" "$@" 2>/dev/null); drc=$?
		r=$($EKVCTL --socket "$T/ekvd.sock" "$@" 2>/dev/null); rrc=$?
		if [ "$d" = "$r" ] && [ "$drc" = "$rrc" ]; then pass=$((pass + 1)); else
			fail=$((fail + 1)); echo "FAIL: via ekvd: $name: direct rc=$drc '$d', ekvd rc=$rrc '$r'"; fi
	}
	same "put" put hostname board-7
	same "put several pairs" put b 2 a 1 "k w" "v w"
	same "get" get hostname
	same "get -n" get -n "k w"
	same "get a missing key" get nosuch
	same "get two keys, one missing" get a nosuch
	same "delete" delete b
	same "delete --must-exist of a missing key" delete --must-exist nosuch
	same "binary value" put bin "$(printf 'x\001y')"
	same "list" list
	same "list --hex" list --hex
	same "list a prefix" list h
	same "list --json" list --json
	same "script" -s "$DATA/../cli_script_ok.txt"
	same "export" export
	same "get after the script" get net.ip hostname
	check "the auto mode uses ekvd for the image it serves" 0 "1" -- \
		env EKV_SOCKET="$T/ekvd.sock" $EKVCTL --image "$T/remote.img" get -n a
	check "the auto mode says it went through ekvd" 0 "" -- bash -c \
		"EKV_SOCKET='$T/ekvd.sock' $EKVCTL -v --image '$T/remote.img' get -n a 2>&1 >/dev/null | grep -q 'through ekvd'"
	check "--direct does not" 1 "" -- bash -c \
		"EKV_SOCKET='$T/ekvd.sock' $EKVCTL -v --direct --image '$T/remote.img' get -n a 2>&1 >/dev/null | grep -q 'through ekvd'"
	check "--socket to no daemon is an I/O error" 3 "" -- $EKVCTL --socket "$T/none.sock" get a
	kill "$ekvd_pid"; wait "$ekvd_pid" 2>/dev/null
	# ekvd reads a section of any length (it stopped, silently, after 32 keys)
	{ echo "[many]"; echo "image = $T/remote.img"
	  for _ in $(seq 40); do echo "page-size = 4096"; echo "crc = no"; done; } > "$T/many.conf"
	"$EKVD" -c "$T/many.conf" -d many --socket "$T/many.sock" 2>"$T/ekvd-many.log" &
	ekvd_pid=$!
	for _ in $(seq 50); do [ -S "$T/many.sock" ] && break; sleep 0.1; done
	check "ekvd serves a section of 82 keys" 0 "1" -- $EKVCTL --socket "$T/many.sock" get -n a
	kill "$ekvd_pid"; wait "$ekvd_pid" 2>/dev/null
	check "ekvd refuses 064 with file and line" 2 "" -- "$EKVD" -c "$T/oct.conf" --socket "$T/oct.sock"
	grep -q "oct.conf:3:.*leading 0" "$T/err" && ok || bad "ekvd octal message: $(cat "$T/err")"
	check "what ekvd wrote is on the image" 0 "10.0.0.2" -- $EKVCTL --image "$T/remote.img" get -n net.ip
else
	echo "note: $EKVD not built; ekvd comparisons skipped"
fi
# usage
check "each command has --help" 0 "" -- bash -c "for c in get put delete list batch export import format stat dump fsck probe devices; do $EKVCTL \$c --help | grep -q Usage || exit 1; done"
check "-V prints the version" 0 "" -- bash -c "$EKVCTL -V | grep -q '^ekvctl '"
check "-h prints help" 0 "" -- bash -c "$EKVCTL -h | grep -q 'Commands'"
check "unknown option of a command" 2 "" -- $EKVCTL get --frobnicate k
check "put with an odd number of arguments" 2 "" -- $EKVCTL put a
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
