#!/bin/bash
# options_doc_test.sh — the documentation names every option and key the
# programs take: each long option of `ekvctl --help` is in ekvctl(1) and the
# bash completion, each of `ekvd --help` in ekvd(8), and each ekv.conf key
# (an ekvctl option the configuration file accepts) in ekv.conf(5).  The
# options are generated from lib/profile_fields.h and tools/settings.c, so a
# new profile field or setting fails here until it is documented.
# Usage: options_doc_test.sh EKVCTL EKVD SOURCE_DIR
set -u
EKVCTL=${1:?usage: options_doc_test.sh EKVCTL EKVD SOURCE_DIR}
EKVD=${2:?}
SRC=${3:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
has() { # name file pattern
	if grep -q -e "$3" "$2"; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: $1: '$3' not in ${2#"$SRC"/}"; fi
}
long_options() { sed -n 's/^ *\(-., \)\{0,1\}--\([a-z][a-z0-9-]*\).*/\2/p' | grep -v '^usage$' | sort -u; }

ctl=$("$EKVCTL" --help | long_options)
[ "$(echo "$ctl" | wc -l)" -gt 20 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: ekvctl --help lists too few options: $ctl"; }
for o in $ctl; do
	has "ekvctl --$o" "$SRC/man/ekvctl.1.scd" "--$o\b"
	has "ekvctl --$o" "$SRC/completion/ekvctl.bash" "--$o\b"
done

d=$("$EKVD" --help | long_options)
[ "$(echo "$d" | wc -l)" -gt 20 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: ekvd --help lists too few options: $d"; }
for o in $d; do
	has "ekvd --$o" "$SRC/man/ekvd.8.scd" "--$o\b"
done

# the keys: the options the configuration file does not call unknown
keys=0
for o in $ctl; do
	printf '[default]\n%s = 1\n' "$o" > "$T/k.conf"
	"$EKVCTL" -c "$T/k.conf" devices 2>&1 | grep -q "unknown key" && continue
	keys=$((keys + 1))
	has "ekv.conf key $o" "$SRC/man/ekv.conf.5.scd" "\*$o\*"
done
[ "$keys" -ge 15 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: only $keys ekv.conf keys found"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
