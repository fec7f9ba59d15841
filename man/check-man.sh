#!/bin/bash
# check-man.sh — every man page renders with `man -l` without a warning.
# Usage: check-man.sh PAGE...
set -u
pass=0 fail=0
for page in "$@"; do
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null)
	lines=$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	if [ -z "$out" ] && [ "$lines" -gt 20 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $page ($lines lines): $out"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
