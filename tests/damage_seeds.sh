#!/bin/bash
# damage_seeds.sh — the recipe of the silent-rollback report, exactly: with
# allocator seeds 160 and 247, format a 1 MiB image, put greeting, apply a
# script (hostname=board-7, serial=AB 12), delete hostname, put k1 v1 k2 v2;
# then set 4000 distinct bytes to 0x00 (Python's random.Random(5).sample).
# The damage hits the newest meta page inside its log.  Mount must not fall
# back in silence: list warns on stderr (and fails with --strict or
# --on-damage refuse), stat shows the recovery, fsck exits 1 and explains.
# Usage: damage_seeds.sh PATH/TO/ekvctl
set -u
E=${1:?usage: damage_seeds.sh EKVCTL}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
printf 'hostname=board-7\nserial=AB 12\n' > "$T/script"
for S in 160 247; do
	I=$T/s$S.img
	C="$E --direct --seed $S --image $I"
	$C --page-count 256 format -y > /dev/null &&
		$C put greeting "hello big world" &&
		$C -s "$T/script" &&
		$C delete hostname &&
		$C put k1 v1 k2 v2 || { bad "seed $S: the recipe failed"; continue; }
	[ "$($E --direct --image "$I" list | wc -l)" = 4 ] && ok || bad "seed $S: 4 keys before the damage"
	python3 - "$I" <<'PY'
import random, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for o in random.Random(5).sample(range(len(b)), 4000):
    b[o] = 0
open(p, 'wb').write(b)
PY
	out=$($E --direct --image "$I" list 2> "$T/err"); rc=$?
	[ $rc = 0 ] && [ "$(grep -c 'warning: .* is damaged: .* commits and the newest state of' "$T/err")" = 1 ] &&
		ok || bad "seed $S: list: rc=$rc, stderr: $(cat "$T/err")"
	$E --direct --image "$I" --strict list > /dev/null 2>&1; rc=$?
	[ $rc = 4 ] && ok || bad "seed $S: list --strict: rc=$rc (want 4)"
	$E --direct --image "$I" --strict get k1 > /dev/null 2>&1; rc=$?
	[ $rc != 0 ] && ok || bad "seed $S: get --strict: rc=$rc"
	$E --direct --image "$I" --on-damage refuse list > /dev/null 2>&1; rc=$?
	[ $rc = 4 ] && ok || bad "seed $S: list --on-damage refuse: rc=$rc (want 4)"
	out=$($E --direct --image "$I" stat 2>/dev/null)
	echo "$out" | grep -q '^recovery: damaged: fell back from meta page' && ok ||
		bad "seed $S: stat: $out"
	out=$($E --direct --image "$I" fsck 2>&1); rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q 'is damaged: the engine falls back' &&
		echo "$out" | grep -q 'DAMAGED' && ok || bad "seed $S: fsck: rc=$rc $out"
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
