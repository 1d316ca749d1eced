#!/usr/bin/env bash
# The package test (called by scripts/test.sh): builds the .deb around BIN (a debug build: no release
# build here), checks its file list and control data, installs it with dpkg into a scratch root (the
# maintainer scripts run there through $DPKG_ROOT), checks the user, folders, manual pages, completions and
# unit it made, removes and purges it, and checks what goes and what stays. Nothing outside the scratch
# root is touched.
#   BIN=PATH      the sealbatch binary (default .build/debug/sealbatch)
#   SCRATCH=DIR   the SwiftPM build folder whose swift-argument-parser checkout builds generate-manual
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug/sealbatch}
export SCRATCH=${SCRATCH:-.build}
T=$(mktemp -d "${SEALBATCH_TEST_TMP:-${TMPDIR:-/tmp}}/deb-test.XXXXXX")
fail() { echo "test-deb: FAIL: $*" >&2; echo "test-deb: files kept in $T" >&2; exit 1; }
ok() { echo "test-deb: ok: $*"; }
for tool in dpkg dpkg-deb objdump systemd-sysusers systemd-tmpfiles gzip; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (run make deps)"
done

DEB=$(BIN="$BIN" OUT="$T" DEB_COMPRESS=gzip bash scripts/deb.sh 2>"$T/deb.err") || { cat "$T/deb.err" >&2; fail "deb.sh failed"; }
[ -f "$DEB" ] || fail "no package written"
ok "built $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB)"

# What the package holds.
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' > "$T/files"
for f in /usr/bin/sealbatch /usr/share/man/man1/sealbatch.1.gz /usr/share/man/man1/sealbatch.stamp.1.gz \
         /usr/share/man/man1/sealbatch.audit.tail.1.gz /usr/share/bash-completion/completions/sealbatch \
         /usr/share/zsh/site-functions/_sealbatch /usr/share/fish/vendor_completions.d/sealbatch.fish \
         /usr/lib/systemd/system/sealbatch@.service /usr/lib/sysusers.d/sealbatch.conf /usr/lib/tmpfiles.d/sealbatch.conf \
         /usr/share/doc/sealbatch/cli.md /usr/share/doc/sealbatch/guide/README.md; do
  grep -qx "$f" "$T/files" || fail "the package lacks $f"
done
if grep -q '^/usr/local' "$T/files"; then fail "the package installs under /usr/local"; fi
[ "$(dpkg-deb -f "$DEB" Package)" = sealbatch ] || fail "Package field"
[ "$(dpkg-deb -f "$DEB" Version)" = "$("$BIN" --version)" ] || fail "Version field is not the program's version"
dpkg-deb -f "$DEB" Depends | grep -q 'libpoppler-glib' || fail "Depends does not name poppler: $(dpkg-deb -f "$DEB" Depends)"
dpkg-deb --ctrl-tarfile "$DEB" | tar -t | grep -q postinst || fail "no postinst"
ok "file list ($(wc -l < "$T/files") entries) and control fields"

# Install into a scratch root.
R="$T/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc" "$R/usr/sbin"
: > "$R/var/lib/dpkg/status"; : > "$R/var/lib/dpkg/available"
DPKG=(dpkg --root="$R" --force-script-chrootless --force-depends --force-bad-path --log=/dev/null)
"${DPKG[@]}" -i "$DEB" > "$T/install.out" 2>&1 || { cat "$T/install.out" >&2; fail "dpkg -i"; }
"${DPKG[@]}" -s sealbatch | grep -q '^Status: install ok installed' || fail "dpkg does not list sealbatch as installed"
[ -x "$R/usr/bin/sealbatch" ] || fail "no /usr/bin/sealbatch"
"$R/usr/bin/sealbatch" --version >/dev/null || fail "the installed binary does not run"
grep -q '^ExecStart=/usr/bin/sealbatch run ' "$R/usr/lib/systemd/system/sealbatch@.service" || fail "the unit does not run /usr/bin/sealbatch"
zcat "$R/usr/share/man/man1/sealbatch.1.gz" | grep -q '^\.Dt SEALBATCH 1\|^\.TH' || fail "sealbatch.1 is not a manual page"
zcat "$R/usr/share/man/man1/sealbatch.stamp.1.gz" | grep -q 'token-config' || fail "sealbatch.stamp.1 does not describe stamp's options"
if zcat "$R"/usr/share/man/man1/*.gz | grep -q -- '--json'; then fail "a manual page shows --json"; fi
bash -n "$R/usr/share/bash-completion/completions/sealbatch" || fail "the bash completion is not valid bash"
grep -q 'complete .*sealbatch' "$R/usr/share/bash-completion/completions/sealbatch" || fail "the bash completion does not complete sealbatch"
grep -q '#compdef sealbatch' "$R/usr/share/zsh/site-functions/_sealbatch" || fail "the zsh completion"
grep -q "complete -c 'sealbatch'" "$R/usr/share/fish/vendor_completions.d/sealbatch.fish" || fail "the fish completion"
# the maintainer script made the user and the folders, inside the root only
grep -q '^sealbatch:' "$R/etc/passwd" || fail "postinst did not create the sealbatch user in the root"
uid=$(awk -F: '$1 == "sealbatch" { print $3 }' "$R/etc/passwd")
for d in /var/lib/sealbatch /srv/sealbatch; do
  [ -d "$R$d" ] || fail "postinst did not create $d"
  [ "$(stat -c '%u %a' "$R$d")" = "$uid 750" ] || fail "$d is $(stat -c '%u %a' "$R$d"), not owned by sealbatch ($uid) with mode 750"
done
[ "$(stat -c '%u %a' "$R/etc/sealbatch")" = "0 750" ] || fail "/etc/sealbatch is $(stat -c '%u %a' "$R/etc/sealbatch")"
ok "installed into a scratch root: binary runs, unit, manual pages, completions, user sealbatch ($uid), folders"

# Removal keeps the data; purge removes only empty folders.
echo "journal" > "$R/var/lib/sealbatch/journal.sqlite"
"${DPKG[@]}" -r sealbatch > "$T/remove.out" 2>&1 || { cat "$T/remove.out" >&2; fail "dpkg -r"; }
for f in /usr/bin/sealbatch /usr/share/man/man1/sealbatch.1.gz /usr/lib/systemd/system/sealbatch@.service \
         /usr/share/bash-completion/completions/sealbatch /usr/lib/sysusers.d/sealbatch.conf; do
  [ ! -e "$R$f" ] || fail "$f is still there after removal"
done
[ -f "$R/var/lib/sealbatch/journal.sqlite" ] || fail "removal deleted the journal"
"${DPKG[@]}" --purge sealbatch > "$T/purge.out" 2>&1 || { cat "$T/purge.out" >&2; fail "dpkg --purge"; }
if "${DPKG[@]}" -s sealbatch >/dev/null 2>&1; then fail "dpkg still knows sealbatch after purge"; fi
[ ! -e "$R/srv/sealbatch" ] || fail "purge left the empty /srv/sealbatch"
[ -f "$R/var/lib/sealbatch/journal.sqlite" ] || fail "purge deleted the journal"
left=$(cd "$R" && find usr -type f | head -5)
[ -z "$left" ] || fail "files left under /usr after purge: $left"
ok "removed and purged: program files gone, journal kept, empty folders removed"
rm -rf "$T"
