#!/usr/bin/env bash
# Builds sealbatch_<version>_<arch>.deb with dpkg-deb (called by `make deb`).
#   BIN=PATH   the binary to package (default: the release build `make deb` makes, with the Swift runtime
#              linked in statically so the package needs no Swift toolchain)
#   OUT=DIR    where the .deb goes (default: the current folder)
#   WORK=DIR   staging folder (default: a temporary one, removed afterwards)
#   DEB_COMPRESS=xz|gzip|none   compression of the package (default xz; the test uses gzip for speed)
# The package installs what `make install PREFIX=/usr` installs; its maintainer scripts create the
# sealbatch user and folders (systemd-sysusers / systemd-tmpfiles, honouring $DPKG_ROOT) and reload systemd.
# Removal leaves /etc/sealbatch, /var/lib/sealbatch and /srv/sealbatch (journals, registry, documents) and the
# user in place; `dpkg --purge` removes only empty folders among them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${BIN:-$(swift build -c release --show-bin-path)/sealbatch}
OUT=${OUT:-.}
[ -x "$BIN" ] || { echo "deb: no sealbatch binary at $BIN (make deb builds it; or BIN=PATH)" >&2; exit 2; }
VERSION=$(LC_ALL=C.UTF-8 "$BIN" --version)
ARCH=$(dpkg --print-architecture)
OWN_WORK=
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); OWN_WORK=1; fi
ROOT="$WORK/root"
rm -rf "$ROOT"; mkdir -p "$ROOT/DEBIAN"

PREFIX=/usr DESTDIR="$ROOT" BIN="$BIN" bash scripts/install.sh >/dev/null

# Depends: the Debian package of every shared library the binary needs directly. A library outside the
# package system (the Swift runtime of a debug build) cannot be depended on: named on stderr.
deps=()
LDCACHE=$(ldconfig -p)
while read -r lib; do
  path=$(awk -v l="$lib" '$1 == l && /x86-64|x86_64|aarch64|AArch64/ { print $NF; exit }' <<<"$LDCACHE")
  if [ -z "$path" ]; then echo "deb: warning: $lib is not a system library: the package does not depend on it" >&2; continue; fi
  # dpkg knows a file by the path its package ships (with a merged /usr, /lib and /usr/lib are the same)
  pkg=
  for p in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
    pkg=$(dpkg -S "$p" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') || true
    [ -n "$pkg" ] && break
  done
  if [ -z "$pkg" ]; then echo "deb: warning: no package owns $path: the package does not depend on it" >&2; continue; fi
  deps+=("$pkg")
done < <(objdump -p "$BIN" | awk '/NEEDED/ { print $2 }')
DEPENDS=$(printf '%s\n' "${deps[@]}" | sort -u | paste -sd, | sed 's/,/, /g')
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)

cat > "$ROOT/DEBIAN/control" <<EOF
Package: sealbatch
Version: $VERSION
Architecture: $ARCH
Maintainer: sealbatch maintainers <maintainers@users.noreply.example>
Installed-Size: $SIZE
Depends: ${DEPENDS}${DEPENDS:+, }systemd | systemd-standalone-sysusers
Recommends: pcscd, opensc
Section: utils
Priority: optional
Homepage: https://example.invalid/sealbatch
Description: apply an organisation's electronic official seal to PDFs in bulk
 sealbatch seals PDF documents with an organisation's electronic seal (PAdES),
 from approval to archive: hot folders, a PKCS#11 seal token, approval manifests,
 an audit log, a web console and a verifier (man sealbatch).
EOF

cat > "$ROOT/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# Creates the sealbatch user and its folders (also into a dpkg --root, through $DPKG_ROOT).
set -e
if [ "$1" = configure ]; then
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} sealbatch.conf
  fi
  if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create ${DPKG_ROOT:+--root="$DPKG_ROOT"} sealbatch.conf
  fi
  if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
exit 0
EOF

cat > "$ROOT/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops running pipelines before the program goes away (their journals resolve anything in flight).
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop 'sealbatch@*.service' || true
fi
exit 0
EOF

cat > "$ROOT/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# Journals, registry, audit key and documents stay; purge removes only the folders that are empty.
set -e
if [ "$1" = purge ]; then
  for d in /srv/sealbatch /var/lib/sealbatch /etc/sealbatch; do rmdir "${DPKG_ROOT}$d" 2>/dev/null || true; done
fi
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
EOF
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/sealbatch_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$ROOT" "$DEB" >/dev/null
[ -n "$OWN_WORK" ] && rm -rf "$WORK"
echo "$DEB"
