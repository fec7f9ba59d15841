#!/bin/bash
# test.sh — the whole test suite, as CI runs it: a normal build (every suite:
# unit, powercut, fuzz-smoke, mtd-vm, deb), an ASan+UBSan build (every suite
# but the VM and package ones) and cross builds run under qemu-user
# (scripts/cross-test.sh; EKV_CROSS lists the architectures, default
# "arm64 s390x"; EKV_CROSS= skips them). Prints "N passed, N failed" last.
set -u
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
summary() { # testlog.json → counts
	python3 - "$@" <<'PY'
import json, sys
p = f = s = 0
for path in sys.argv[1:]:
    try:
        for line in open(path):
            r = json.loads(line).get("result")
            if r == "OK": p += 1
            elif r in ("SKIP",): s += 1
            elif r in ("EXPECTEDFAIL",): p += 1
            else: f += 1
    except FileNotFoundError:
        f += 1
print(p, f, s)
PY
}
rc=0
# both builds check internal invariants (EKV_ASSERT)
if [ -d build ]; then meson setup --reconfigure build -Dasserts=true >/dev/null || exit 1
else meson setup build -Dwerror=true -Dasserts=true || exit 1; fi
ninja -C build || exit 1
meson test -C build --print-errorlogs ${EKV_TEST_ARGS:-} || rc=1
echo "install-deps and the normal build: ${SECONDS} s"
t0=$SECONDS
if [ -d build-asan ]; then meson setup --reconfigure build-asan -Dasserts=true >/dev/null || exit 1
else meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dwerror=true -Dasserts=true -Dpowercut_budget=${EKV_ASAN_POWERCUT_BUDGET:-60} || exit 1; fi
ninja -C build-asan || exit 1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
	meson test -C build-asan --no-suite mtd-vm --no-suite deb --print-errorlogs || rc=1
echo "build-asan: $((SECONDS - t0)) s"
logs="build/meson-logs/testlog.json build-asan/meson-logs/testlog.json"
cross=${EKV_CROSS-arm64 s390x}
for arch in $cross; do
	t0=$SECONDS
	scripts/cross-test.sh "$arch" || rc=1
	echo "cross-test.sh $arch: $((SECONDS - t0)) s"
	logs="$logs build-cross-$arch/meson-logs/testlog.json"
done
# shellcheck disable=SC2086 # one word per log
read -r p f s < <(summary $logs)
echo "test suites: build, build-asan${cross:+, cross-built }$cross ($s skipped)"
echo "$p passed, $f failed"
[ "$rc" = 0 ] && [ "$f" = 0 ]
