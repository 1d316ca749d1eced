#!/usr/bin/env bash
# Installs sealbatch like a system tool (called by `make install`; docs/guide/01-install.md):
#   $PREFIX/bin/sealbatch                                   the program
#   $PREFIX/share/man/man1/sealbatch*.1.gz                  one manual page per command
#   $PREFIX/share/bash-completion/completions/sealbatch     shell completion for bash,
#   $PREFIX/share/zsh/site-functions/_sealbatch             zsh
#   $PREFIX/share/fish/vendor_completions.d/sealbatch.fish  and fish
#   $UNITDIR/sealbatch@.service                             the systemd unit (one pipeline per instance)
#   $LIBDIR/sysusers.d/sealbatch.conf                       creates the sealbatch user
#   $LIBDIR/tmpfiles.d/sealbatch.conf                       creates /etc/sealbatch, /var/lib/sealbatch, /srv/sealbatch
#   $PREFIX/share/doc/sealbatch/                            README and the user docs
# Everything goes under $DESTDIR (staging, e.g. for a package). BIN names the binary to install (default:
# the release build, which `make install` builds first). MANPAGES names a folder of ready manual pages
# (default: generated from BIN by scripts/manpages.sh).
# With DESTDIR empty and run as root, the user and folders are created at once (systemd-sysusers,
# systemd-tmpfiles); with a DESTDIR that is the package's job (scripts/deb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
if [ "$PREFIX" = /usr ]; then LIBDIR_DEFAULT=/usr/lib; UNITDIR_DEFAULT=/usr/lib/systemd/system
else LIBDIR_DEFAULT=$PREFIX/lib; UNITDIR_DEFAULT=/etc/systemd/system; fi
LIBDIR=${LIBDIR:-$LIBDIR_DEFAULT}
UNITDIR=${UNITDIR:-$UNITDIR_DEFAULT}
BIN=${BIN:-$(swift build -c release --show-bin-path)/sealbatch}
[ -x "$BIN" ] || { echo "install: no sealbatch binary at $BIN (make release, or BIN=PATH)" >&2; exit 2; }

d() { install -d -m 0755 "$DESTDIR$1"; }
d "$PREFIX/bin"; d "$PREFIX/share/man/man1"; d "$PREFIX/share/bash-completion/completions"
d "$PREFIX/share/zsh/site-functions"; d "$PREFIX/share/fish/vendor_completions.d"
d "$UNITDIR"; d "$LIBDIR/sysusers.d"; d "$LIBDIR/tmpfiles.d"; d "$PREFIX/share/doc/sealbatch"

install -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/sealbatch"

# Manual pages: one per command, from the program's own description of its commands.
MAN_TMP=
if [ -z "${MANPAGES:-}" ]; then
  MAN_TMP=$(mktemp -d); MANPAGES=$MAN_TMP
  bash scripts/manpages.sh "$BIN" "$MANPAGES"
fi
for m in "$MANPAGES"/*.1; do
  gzip -9nc "$m" > "$DESTDIR$PREFIX/share/man/man1/$(basename "$m").gz"
  chmod 0644 "$DESTDIR$PREFIX/share/man/man1/$(basename "$m").gz"
done
[ -n "$MAN_TMP" ] && rm -rf "$MAN_TMP"

# Completions (ArgumentParser writes them; English texts whatever the locale of the build).
LC_ALL=C.UTF-8 "$BIN" --generate-completion-script bash > "$DESTDIR$PREFIX/share/bash-completion/completions/sealbatch"
LC_ALL=C.UTF-8 "$BIN" --generate-completion-script zsh > "$DESTDIR$PREFIX/share/zsh/site-functions/_sealbatch"
LC_ALL=C.UTF-8 "$BIN" --generate-completion-script fish > "$DESTDIR$PREFIX/share/fish/vendor_completions.d/sealbatch.fish"
chmod 0644 "$DESTDIR$PREFIX/share/bash-completion/completions/sealbatch" "$DESTDIR$PREFIX/share/zsh/site-functions/_sealbatch" \
  "$DESTDIR$PREFIX/share/fish/vendor_completions.d/sealbatch.fish"

# The systemd unit runs the installed binary.
sed "s|/usr/local/bin/sealbatch|$PREFIX/bin/sealbatch|g" contrib/sealbatch.service > "$DESTDIR$UNITDIR/sealbatch@.service"
install -m 0644 contrib/sealbatch.sysusers "$DESTDIR$LIBDIR/sysusers.d/sealbatch.conf"
install -m 0644 contrib/sealbatch.tmpfiles "$DESTDIR$LIBDIR/tmpfiles.d/sealbatch.conf"
chmod 0644 "$DESTDIR$UNITDIR/sealbatch@.service"

install -m 0644 README.md "$DESTDIR$PREFIX/share/doc/sealbatch/README.md"
for f in docs/*.md; do install -m 0644 "$f" "$DESTDIR$PREFIX/share/doc/sealbatch/$(basename "$f")"; done
d "$PREFIX/share/doc/sealbatch/guide"
for f in docs/guide/*.md; do install -m 0644 "$f" "$DESTDIR$PREFIX/share/doc/sealbatch/guide/$(basename "$f")"; done

if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
  command -v systemd-sysusers >/dev/null && systemd-sysusers "$LIBDIR/sysusers.d/sealbatch.conf"
  command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create "$LIBDIR/tmpfiles.d/sealbatch.conf"
  command -v systemctl >/dev/null && [ -d /run/systemd/system ] && systemctl daemon-reload || true
fi
echo "installed sealbatch under ${DESTDIR}${PREFIX} (unit: $UNITDIR/sealbatch@.service)"
