#!/usr/bin/env bash
# package_test.sh WINDLASS: the Debian package and the systemd unit, for real.
#   packaging/build-deb builds windlass_<version>_amd64.deb (lintian: no error or warning);
#   dpkg installs it (needs root: CI runs as root); `windlass version` runs from /usr/bin; the
#   man page, the conffile and the unit are where they belong; `systemd-analyze verify` accepts
#   the installed unit and `systemd-analyze security --offline` rates it; dpkg removes it (the
#   conffile stays until purge) and purges it.
# Refuses to run when a windlass package is already installed (it would replace it).
# Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: package_test.sh WINDLASS}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
give_up() { echo "package_test: $*"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
[[ $(id -u) == 0 ]] || give_up "must run as root (dpkg -i); CI does"
if dpkg-query -W -f='${Status}' windlass 2>/dev/null | grep -q 'installed'; then
  give_up "a windlass package is already installed on this machine; not replacing it"
fi
for tool in dpkg dpkg-deb systemd-analyze man; do
  command -v "$tool" >/dev/null || give_up "$tool missing (packaging/install-deps)"
done
VERSION=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" "$ROOT/meson.build" | head -n 1)
W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-deb.XXXXXX")
installed=0
cleanup() { ((installed)) && dpkg -P windlass >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

WINDLASS_BIN=$WINDLASS "$ROOT/packaging/build-deb" "$W" >"$W/build.log" 2>&1; rc=$?
sed 's/^/  | /' "$W/build.log"
DEB=$W/windlass_${VERSION}_amd64.deb
check "build-deb builds windlass_${VERSION}_amd64.deb, lintian-clean (no error or warning)" \
  bash -c "[[ $rc == 0 && -s '$DEB' ]] && grep -q 'lintian: no errors or warnings' '$W/build.log'"
check "the package's control fields" \
  bash -c "dpkg-deb -f '$DEB' Package Version Architecture | tr '\n' ' ' |
           grep -qx 'Package: windlass Version: $VERSION Architecture: amd64 ' &&
           dpkg-deb -f '$DEB' Depends | grep -q 'libgit2-1.5'"
check "the package's files" bash -c "dpkg-deb -c '$DEB' | awk '{print \$6}' | sort > '$W/files' &&
  grep -qx './usr/bin/windlass' '$W/files' && grep -qx './lib/systemd/system/windlass.service' '$W/files' &&
  grep -qx './etc/windlass/windlass.yaml' '$W/files' && grep -qx './usr/share/man/man1/windlass.1.gz' '$W/files' &&
  grep -qx './usr/share/doc/windlass/copyright' '$W/files' && grep -qx './usr/share/doc/windlass/changelog.gz' '$W/files'"

dpkg -i "$DEB" >"$W/install.log" 2>&1; rc=$?
((rc == 0)) && installed=1
cat "$W/install.log"
check "dpkg -i installs it" test "$rc" = 0
check "windlass version runs from the package ($(/usr/bin/windlass version 2>&1))" \
  test "$(/usr/bin/windlass version 2>&1)" = "windlass $VERSION"
check "/etc/windlass/windlass.yaml is a conffile" \
  bash -c "dpkg-query -W -f='\${Conffiles}' windlass | grep -q '/etc/windlass/windlass.yaml'"
check "man windlass shows the generated page" \
  bash -c "MANPAGER=cat man windlass 2>/dev/null | grep -q 'kustomize build DIR'"
systemd-analyze verify /lib/systemd/system/windlass.service >"$W/verify.log" 2>&1; rc=$?
cat "$W/verify.log"
check "systemd-analyze verify accepts the installed unit" \
  bash -c "[[ $rc == 0 && ! -s '$W/verify.log' ]]"
systemd-analyze security --offline=yes /lib/systemd/system/windlass.service >"$W/security.log" 2>&1
score=$(sed -n 's/.*Overall exposure level for windlass.service: \([0-9.]*\).*/\1/p' "$W/security.log")
check "systemd-analyze security rates the unit's exposure below 2.0 (got ${score:-nothing})" \
  python3 -c "import sys; sys.exit(0 if '$score' and float('$score') < 2.0 else 1)"
for directive in DynamicUser=yes StateDirectory=windlass ProtectSystem=strict NoNewPrivileges=yes \
                 PrivateTmp=yes Restart=on-failure KillSignal=SIGTERM; do
  grep -qx "$directive" /lib/systemd/system/windlass.service || bad "the unit sets $directive"
done

dpkg -r windlass >"$W/remove.log" 2>&1; rc=$?
check "dpkg -r removes it; the conffile stays until purge" \
  bash -c "[[ $rc == 0 && ! -e /usr/bin/windlass && -e /etc/windlass/windlass.yaml ]]"
dpkg -P windlass >"$W/purge.log" 2>&1; rc=$?
check "dpkg -P purges it" bash -c "[[ $rc == 0 && ! -e /etc/windlass/windlass.yaml ]]"
installed=0

echo "$passed passed, $failed failed"
((failed == 0))
