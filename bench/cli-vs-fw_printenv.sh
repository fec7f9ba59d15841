#!/bin/bash
# cli-vs-fw_printenv.sh — `ekvctl get -n KEY` against `fw_printenv -n VAR`, each
# as a whole process (start, open, mount/read, print, exit), on equivalent
# data: 1000 variables in a 1 MiB ekv image and in a redundant 32 KiB U-Boot
# environment (two copies, made by mkenvimage -r).  The two commands run
# alternately, RUNS times each, and the medians are reported; hyperfine runs
# too when it is installed.
#
# Usage: bench/cli-vs-fw_printenv.sh [EKVCTL] [RUNS]
# Needs: fw_printenv (libubootenv-tool), mkenvimage (u-boot-tools), python3.
set -eu
EKVCTL=$(realpath "${1:-build/cli/ekvctl}")
RUNS=${2:-300}
for t in fw_printenv mkenvimage python3; do
	command -v $t >/dev/null || { echo "missing $t (apt-get install libubootenv-tool u-boot-tools python3)" >&2; exit 2; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# the same 1000 variables for both
for i in $(seq 0 999); do printf 'var%04d=val-%04d-abcdefghij\n' "$i" "$i"; done > "$W/env.txt"

# U-Boot: redundant environment, two 32 KiB copies
mkenvimage -r -s 32768 -o "$W/env1.bin" "$W/env.txt"
cp "$W/env1.bin" "$W/env2.bin"
printf '%s 0x0 0x8000 0x8000\n%s 0x0 0x8000 0x8000\n' "$W/env1.bin" "$W/env2.bin" > "$W/fw_env.config"

# ekv: a 1 MiB image (256 pages of 4 KiB), the variables in one transaction
export EKV_CONF=/dev/null
"$EKVCTL" --image "$W/ekv.img" -q format
"$EKVCTL" --image "$W/ekv.img" -q batch "$W/env.txt"

KEY=var0500
WANT=val-0500-abcdefghij
A=("$EKVCTL" --image "$W/ekv.img" get -n "$KEY")
B=(fw_printenv -c "$W/fw_env.config" -n "$KEY")
[ "$("${A[@]}")" = "$WANT" ] || { echo "ekvctl returned the wrong value" >&2; exit 1; }
[ "$("${B[@]}")" = "$WANT" ] || { echo "fw_printenv returned the wrong value" >&2; exit 1; }

echo "ekvctl:      ${A[*]}"
echo "fw_printenv: ${B[*]}"
python3 - "$RUNS" "${#A[@]}" "${A[@]}" "${B[@]}" <<'PY'
import statistics, subprocess, sys, time
runs = int(sys.argv[1]); na = int(sys.argv[2])
a = sys.argv[3:3 + na]; b = sys.argv[3 + na:]
times = {"ekvctl": [], "fw_printenv": []}
def once(name, cmd):
    t = time.perf_counter_ns()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times[name].append((time.perf_counter_ns() - t) / 1e6)
for _ in range(20):  # warm up the page cache and the dynamic loader
    once("ekvctl", a); once("fw_printenv", b)
times = {"ekvctl": [], "fw_printenv": []}
for i in range(runs):  # alternate, and alternate which goes first
    pair = [("ekvctl", a), ("fw_printenv", b)]
    for name, cmd in (pair if i % 2 == 0 else pair[::-1]):
        once(name, cmd)
me, mf = statistics.median(times["ekvctl"]), statistics.median(times["fw_printenv"])
print(f"alternating, {runs} runs each: median ekvctl get -n {me:.3f} ms, "
      f"fw_printenv -n {mf:.3f} ms, ratio {me / mf:.2f} "
      f"({'PASS' if me <= mf / 2 else 'FAIL'}: target <= 0.5)")
PY
if command -v hyperfine >/dev/null; then
	hyperfine -N --style basic -w 20 -r "$RUNS" "${A[*]}" "${B[*]}" 2>&1 |
		grep -E "Benchmark|Time|faster|ran" || true
fi
