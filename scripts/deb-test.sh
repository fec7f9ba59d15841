#!/bin/bash
# deb-test.sh [SRCDIR] — build the Debian packages (debian/) the way a
# distribution does and check them without touching the system:
#   1. copy the tree (git's tracked and untracked-not-ignored files) to a
#      scratch directory and run `dpkg-buildpackage -us -uc -b` there;
#   2. the four packages hold what they should (dpkg-deb -c), and
#      debian/changelog's version is meson's project version;
#   3. lintian: no error (its warnings are printed);
#   4. the packages unpacked into a scratch root (dpkg-deb -x): ekvctl
#      --version and a put/get on an image with the packaged libekv.so, a
#      get through the packaged ekvd, the man pages render, and
#      `systemd-analyze verify --root` accepts the installed units; the
#      units are installed disabled (no enable/start in ekvd's postinst).
# Exit 0 ok, 1 failure, 77 (skipped) without dpkg-buildpackage, debhelper or
# lintian (scripts/install-deps.sh installs them).  Run by meson test
# (suite deb) and so by scripts/test.sh.  EKV_DEB_KEEP=1 keeps the scratch
# directory.
set -u
SRC=$(cd "${1:-$(dirname "$0")/..}" && pwd)
for tool in dpkg-buildpackage dh lintian systemd-analyze; do
	command -v "$tool" >/dev/null || {
		echo "SKIP: $tool not installed"
		exit 77
	}
done
T=$(mktemp -d)
if [ -z "${EKV_DEB_KEEP:-}" ]; then trap 'rm -rf "$T"' EXIT; else echo "scratch: $T"; fi
fail() {
	echo "FAIL: $*"
	exit 1
}

VERSION=$(sed -n "s/^  version : '\([^']*\)',$/\1/p" "$SRC/meson.build" | head -1)
DEBVERSION=$(cd "$SRC" && dpkg-parsechangelog -S Version)
[ -n "$VERSION" ] || fail "no version in meson.build"
[ "$VERSION" = "$DEBVERSION" ] || fail "debian/changelog has $DEBVERSION, meson.build $VERSION"

# ---- 1. build from a copy ----
S=$T/ekv-$VERSION
mkdir -p "$S"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$S" -xf - ||
		fail "copying the tree"
else
	(cd "$SRC" && tar --exclude='./build*' -cf - .) | tar -C "$S" -xf - || fail "copying the tree"
fi
echo "dpkg-buildpackage -us -uc -b (log: build.log)"
if ! (cd "$S" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
	tail -60 "$T/build.log"
	fail "dpkg-buildpackage"
fi
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in libekv0 libekv-dev ekv-tools ekvd; do
	[ -f "$T/${p}_${VERSION}_$ARCH.deb" ] || fail "no package $p"
done

# ---- 2. contents ----
has() { # package path-regex...
	local deb=$T/$1_${VERSION}_$ARCH.deb list
	list=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
	shift
	for re in "$@"; do
		grep -qx "$re" <<<"$list" || fail "$(basename "$deb") lacks $re"
	done
}
has libekv0 "/usr/lib/$MA/libekv\.so\.0" "/usr/lib/$MA/libekv\.so\.$VERSION"
has libekv-dev /usr/include/ekv\.h "/usr/lib/$MA/libekv\.so" "/usr/lib/$MA/pkgconfig/ekv\.pc" \
	/usr/share/man/man3/libekv\.3\.gz
has ekv-tools /usr/bin/ekvctl /usr/share/man/man1/ekvctl\.1\.gz \
	/usr/share/man/man5/ekv\.conf\.5\.gz /usr/share/bash-completion/completions/ekvctl
has ekvd /usr/sbin/ekvd /usr/share/man/man8/ekvd\.8\.gz /lib/systemd/system/ekv\.service \
	/lib/systemd/system/ekv\.socket /usr/lib/sysusers\.d/ekv\.conf
if dpkg-deb -c "$T/ekv-tools_${VERSION}_$ARCH.deb" | grep -q "libekv\|ekv\.h"; then
	fail "ekv-tools carries the library"
fi
echo "packages: libekv0 libekv-dev ekv-tools ekvd ($VERSION, $ARCH): contents ok"

# ---- 3. lintian ----
lintian --fail-on error --tag-display-limit 0 "$T"/ekv_"${VERSION}"_"$ARCH".changes \
	>"$T/lintian.log" 2>&1
lrc=$?
grep -v "^N: \|running with root privileges" "$T/lintian.log"
[ $lrc = 0 ] || fail "lintian found errors"
echo "lintian: $(grep -c '^E: ' "$T/lintian.log") errors, $(grep -c '^W: ' "$T/lintian.log") warnings"

# ---- 4. the packages in a scratch root ----
R=$T/root
mkdir -p "$R/lib/systemd/system"
# systemd's own units, so that verify finds sysinit.target and friends
cp -a /lib/systemd/system/. "$R/lib/systemd/system/"
for p in libekv0 libekv-dev ekv-tools ekvd; do dpkg-deb -x "$T/${p}_${VERSION}_$ARCH.deb" "$R"; done
export LD_LIBRARY_PATH=$R/usr/lib/$MA
EKVCTL=$R/usr/bin/ekvctl
ldd "$EKVCTL" | grep -q "libekv\.so\.0 => $R/usr/lib/$MA/libekv\.so\.0" ||
	fail "ekvctl does not load the packaged libekv.so.0: $(ldd "$EKVCTL" | grep ekv)"
out=$("$EKVCTL" --version) || fail "ekvctl --version"
[ "$out" = "ekvctl $VERSION" ] || fail "ekvctl --version printed '$out'"
IMG=$T/test.img
"$EKVCTL" --image "$IMG" format >/dev/null || fail "ekvctl format"
"$EKVCTL" --image "$IMG" put hostname board-7 serial 42 || fail "ekvctl put"
out=$("$EKVCTL" --image "$IMG" get -n hostname) || fail "ekvctl get"
[ "$out" = board-7 ] || fail "ekvctl get printed '$out'"
echo "ekvctl --version: $("$EKVCTL" --version); put/get on an image: ok"

"$R/usr/sbin/ekvd" --image "$IMG" --socket "$T/ekv.sock" >"$T/ekvd.log" 2>&1 &
EKVD_PID=$!
for _ in $(seq 100); do [ -S "$T/ekv.sock" ] && break; sleep 0.1; done
out=$("$EKVCTL" --image "$IMG" --socket "$T/ekv.sock" get -n serial)
rc=$?
kill "$EKVD_PID" && wait "$EKVD_PID"
[ $rc = 0 ] && [ "$out" = 42 ] || fail "get through ekvd: exit $rc, '$out'; $(cat "$T/ekvd.log")"
echo "ekvd: get through the packaged daemon: ok"

for m in man1/ekvctl.1 man3/libekv.3 man5/ekv.conf.5 man8/ekvd.8; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$R/usr/share/man/$m.gz" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man $m: $w"
done
echo "man pages: render without warnings"

out=$(MANPATH=$R/usr/share/man systemd-analyze verify --root="$R" --man=yes \
	ekv.service ekv.socket 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (exit $rc): $out"
dpkg-deb -e "$T/ekvd_${VERSION}_$ARCH.deb" "$T/ekvd.control"
if grep -Eq "deb-systemd-invoke (start|restart)|systemctl (start|enable)" \
	"$T/ekvd.control/postinst"; then
	fail "ekvd's postinst starts or enables a unit"
fi
grep -q "systemd-sysusers .*ekv\.conf" "$T/ekvd.control/postinst" ||
	fail "ekvd's postinst does not create the ekv group"
echo "systemd-analyze verify --root: ekv.service ekv.socket clean; installed disabled"
echo "deb-test: ok"
