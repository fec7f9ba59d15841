#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# run-all.sh — run every workload of the Rust reference table in
# bench/WORKLOADS.md with ekv-bench and print Markdown tables of
# our figures next to the crate's (the tables of bench/README.md).
#
# usage: bench/run-all.sh [BUILD_DIR]      (default: build; built if needed)
#   REPEAT=N   runs per row (default 5): flash counts must be identical in
#              every run (they are deterministic); ops/s (per second of wall
#              time, and per CPU second) are the best run's, the figures least
#              disturbed by other load on the machine.
#   Extra ekv-bench options can be passed in EKV_BENCH_OPTS (e.g. --seed 1).
#
# Needs only bash, awk, sort, meson and ninja.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
repeat=${REPEAT:-5}
opts=${EKV_BENCH_OPTS:-}

if [ ! -x "$build/bench/ekv-bench" ]; then
	[ -f "$build/build.ninja" ] || meson setup "$build" "$top" >&2
	ninja -C "$build" bench/ekv-bench >&2
fi
bench=$build/bench/ekv-bench

# value of KEY in a key=value line
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; exit }'; }

# measure ARGS...: run ekv-bench REPEAT times; print the last line of the
# first run with ops_per_s and ops_per_cpu_s replaced by the best runs';
# fail if the counts ever differ
measure() {
	local line counts ref="" first="" wall=() cpu=()
	for ((i = 0; i < repeat; i++)); do
		# shellcheck disable=SC2086 # EKV_BENCH_OPTS is a list of options
		if ! line=$("$bench" $opts "$@" | tail -n 1); then
			echo "run-all.sh: ekv-bench $opts $* failed" >&2
			exit 1
		fi
		counts=$(tr ' ' '\n' <<<"$line" | grep -v '^ops_per_')
		if [ -z "$first" ]; then
			first=$line
			ref=$counts
		elif [ "$counts" != "$ref" ]; then
			echo "run-all.sh: counts differ between runs of: $*" >&2
			exit 1
		fi
		wall+=("$(field ops_per_s "$line")")
		cpu+=("$(field ops_per_cpu_s "$line")")
	done
	local best_wall best_cpu
	best_wall=$(printf '%s\n' "${wall[@]}" | sort -n | tail -n 1)
	best_cpu=$(printf '%s\n' "${cpu[@]}" | sort -n | tail -n 1)
	tr ' ' '\n' <<<"$first" | awk -v w="$best_wall" -v c="$best_cpu" '
		/^ops_per_s=/ { $0 = "ops_per_s=" w }
		/^ops_per_cpu_s=/ { $0 = "ops_per_cpu_s=" c }
		{ printf "%s%s", sep, $0; sep = " " } END { print "" }'
}

# ops/s as "wall / CPU" (best runs)
rate() { echo "$(field ops_per_s "$1") / $(field ops_per_cpu_s "$1")"; }

# Rust reference figures (WORKLOADS.md, crate commit 86bb3ea)
declare -A rust_amp=(
	[4/10/10]=25.49 [4/10/50]=68.46 [4/10/100]=110.67 [4/10/200]=190.68
	[4/10/500]=411.51 [4/10/1000]=871.85 [4/10/2000]=1375.08
	[16/64/10]=9.54 [16/64/50]=37.49 [16/64/100]=70.45 [16/64/200]=128.39
	[16/64/500]=294.33 [16/64/1000]=464.47 [16/64/2000]=602.98
)
declare -A rust_rc=(
	[4/10/10]=196 [4/10/50]=1693 [4/10/100]=3934 [4/10/200]=8966
	[4/10/500]=30641 [4/10/1000]=67609 [4/10/2000]=143717
)
# write_count write_bytes erase_count write_amp erases/tx
declare -A rust_w=(
	[4/10/1]="69833 479872 2054 34.28 2.054"
	[4/10/10]="20783 110936 196 7.92 1.96"
	[4/10/100]="7806 38444 16 2.75 1.6"
	[16/64/1]="77994 1098440 2109 13.73 2.109"
	[16/64/10]="24960 459176 232 5.74 2.32"
	[16/64/100]="9567 184984 59 2.31 5.9"
)

echo "ekv-bench ${opts:-(default options)}, ops/s: best of $repeat runs, $(uname -m), $(date -u +%Y-%m-%d)"
echo
echo "### read (one read transaction per get)"
echo
echo "| KEYLEN/VALLEN | N | read amp (ours) | read amp (Rust) | read_count (ours) | read_count (Rust) | read_bytes (ours) | gets/s, wall / CPU (ours) |"
echo "|---|---|---|---|---|---|---|---|"
for kv in 4/10 16/64; do
	for n in 10 50 100 200 500 1000 2000; do
		l=$(measure read "$n" "${kv%/*}" "${kv#*/}")
		echo "| $kv | $n | $(field read_amp "$l") | ${rust_amp[$kv/$n]} | $(field read_count "$l") |" \
			"${rust_rc[$kv/$n]:--} | $(field read_bytes "$l") | $(rate "$l") |"
	done
done

echo
echo "### write, N=1000 (ours / Rust)"
echo
echo "| KEYLEN/VALLEN | TXSIZE | write_count | write_bytes | erase_count | write amp | erases/tx | erase min/max/mean (ours) | keys/s, wall / CPU (ours) |"
echo "|---|---|---|---|---|---|---|---|---|"
for kv in 4/10 16/64; do
	for tx in 1 10 100; do
		l=$(measure write 1000 "${kv%/*}" "${kv#*/}" "$tx")
		read -r wc wb ec wa et <<<"${rust_w[$kv/$tx]}"
		echo "| $kv | $tx | $(field write_count "$l") / $wc | $(field write_bytes "$l") / $wb |" \
			"$(field erase_count "$l") / $ec | $(field write_amp "$l") / $wa |" \
			"$(field erases_per_tx "$l") / $et |" \
			"$(field erase_min "$l")/$(field erase_max "$l")/$(field erase_mean "$l") |" \
			"$(rate "$l") |"
	done
done

echo
echo "### overwrite N=100 ROUNDS=50 KEYLEN=8 VALLEN=32, rounds 1..50 (5000 tx)"
echo
l=$(measure overwrite 100 50 8 32)
echo "| figure | ours | Rust |"
echo "|---|---|---|"
echo "| write_count | $(field write_count "$l") | 386542 |"
echo "| write_bytes (write amp) | $(field write_bytes "$l") ($(field write_amp "$l")) | 3547124 (17.74) |"
echo "| erase_count (erases/tx) | $(field erase_count "$l") ($(field erases_per_tx "$l")) | 10410 (2.082) |"
echo "| read_count | $(field read_count "$l") | 374695 |"
echo "| read_bytes | $(field read_bytes "$l") | 23053592 |"
echo "| erases per page, whole run: min/max/mean | $(field erase_min "$l")/$(field erase_max "$l")/$(field erase_mean "$l") | 40/43/41.42 |"
echo "| single-key commits/s, wall / CPU | $(rate "$l") | - |"

echo
echo "### same write workloads with --rust-meta-log (the crate's meta log, byte-identical writes)"
echo
echo "| workload | write_count (ours / Rust) | write_bytes (ours / Rust) | erase_count (ours / Rust) |"
echo "|---|---|---|---|"
for kv in 4/10 16/64; do
	for tx in 1 10 100; do
		l=$(repeat=1 opts="$opts --rust-meta-log" measure write 1000 "${kv%/*}" "${kv#*/}" "$tx")
		read -r wc wb ec _ <<<"${rust_w[$kv/$tx]}"
		echo "| write 1000 $kv tx $tx | $(field write_count "$l") / $wc | $(field write_bytes "$l") / $wb |" \
			"$(field erase_count "$l") / $ec |"
	done
done
l=$(repeat=1 opts="$opts --rust-meta-log" measure overwrite 100 50 8 32)
echo "| overwrite 100 50 8/32 | $(field write_count "$l") / 386542 | $(field write_bytes "$l") / 3547124 |" \
	"$(field erase_count "$l") / 10410 |"
