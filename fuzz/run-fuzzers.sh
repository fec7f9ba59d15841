#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# run-fuzzers.sh — build the libFuzzer targets with clang (ASan + UBSan) in
# build-fuzz/ and run each for a given time; report executions and findings.
#
#   fuzz/run-fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Targets run one after another (set FUZZ_PARALLEL=1 to run them at the same
# time).  Corpora live in build-fuzz/fuzz/work/<target>/corpus (seeded from
# fuzz/regressions and the generated seed corpus, and kept between runs);
# crashes, timeouts (> 1 s per input) and leaks go to
# build-fuzz/fuzz/work/<target>/artifacts/.  Exit status 1 if anything was
# found.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_image fuzz_ops fuzz_proto"}
src=$(cd "$(dirname "$0")/.." && pwd)
bld=$src/build-fuzz

if [ ! -f "$bld/build.ninja" ]; then
	CC=clang meson setup "$bld" "$src" --buildtype=debugoptimized -Dfuzzing=true >/dev/null
else
	meson configure "$bld" -Dfuzzing=true >/dev/null # a build dir set up before the option
fi
ninja -C "$bld" fuzz/corpus.stamp $(for t in $targets; do echo "fuzz/$t"; done) >/dev/null

run_one() {
	t=$1
	w=$bld/fuzz/work/$t
	mkdir -p "$w/corpus" "$w/artifacts"
	seeds="$bld/fuzz/corpus/$t"
	[ -d "$src/fuzz/regressions/$t" ] && seeds="$src/fuzz/regressions/$t $seeds"
	extra=
	[ "$t" = fuzz_image ] && extra=-max_len=4194305
	# shellcheck disable=SC2086
	"$bld/fuzz/$t" "$w/corpus" $seeds -max_total_time="$secs" -timeout=1 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$w/artifacts/" \
		$extra >"$w/log.txt" 2>&1 || true
}

if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
	for t in $targets; do run_one "$t" & done
	wait
else
	for t in $targets; do run_one "$t"; done
fi

status=0
for t in $targets; do
	w=$bld/fuzz/work/$t
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log.txt" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log.txt" | tail -1)
	findings=$(find "$w/artifacts" -type f | wc -l)
	corpus=$(find "$w/corpus" -type f | wc -l)
	echo "$t: ${execs:-?} executions in ${secs} s (${rate:-?}/s), corpus $corpus, findings $findings"
	if [ "$findings" -gt 0 ] || ! grep -q '^Done' "$w/log.txt"; then
		status=1
		find "$w/artifacts" -type f | sed 's/^/  /'
		grep -m1 -E 'ERROR|FUZZ FINDING|SUMMARY' "$w/log.txt" | sed 's/^/  /' || true
	fi
done
exit $status
