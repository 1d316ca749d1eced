#!/usr/bin/env bash
# Installs every system package and Python tool that sealbatch's build, demo, tests and benchmarks need.
# Idempotent: installs only what is missing. Works as root or through sudo. Pins nothing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install system packages" >&2; exit 2; fi
fi

APT_PACKAGES=(
  pkg-config zlib1g-dev libsqlite3-dev sqlite3
  libpoppler-glib-dev libcairo2-dev libssl-dev libpcsclite-dev libp11-kit-dev
  softhsm2 opensc pcscd pcsc-tools vsmartcard-vpcd python3-virtualsmartcard
  poppler-utils qpdf libnss3-tools fonts-noto-cjk fontconfig openssl
  ghostscript libreoffice-writer-nogui procps psmisc coreutils gdb
  binutils systemd   # make deb and its test: objdump (Depends), systemd-sysusers / systemd-tmpfiles (dpkg --root)
  libcurl4-openssl-dev   # --static-swift-stdlib (make deb, release-static): the static FoundationNetworking links -lcurl
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The console's browser tests: Debian's chromium and its driver, without recommends (they would pull avahi,
# samba and CUPS helpers).
BROWSER_PACKAGES=(chromium chromium-driver)
missing=()
for p in "${BROWSER_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools: independent validators (pyHanko), PDF producers (reportlab), vicc's crypto (pycryptodome).
PY=${PYTHON:-python3}
need_py=()
$PY -c "import pyhanko.cli" 2>/dev/null || need_py+=(pyhanko pyhanko-cli pyhanko-certvalidator)
$PY -c "import pkcs11" 2>/dev/null || need_py+=(python-pkcs11)
$PY -c "import reportlab" 2>/dev/null || need_py+=(reportlab)
$PY -c "import Crypto" 2>/dev/null || need_py+=(pycryptodome)
$PY -c "import selenium" 2>/dev/null || need_py+=(selenium)   # drives chromium in the console's browser tests
if [ ${#need_py[@]} -gt 0 ]; then
  echo "install-deps: pip installing ${need_py[*]}"
  if ! $PY -m pip --version >/dev/null 2>&1; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  fi
  # Debian's own python3 is "externally managed" (PEP 668); pyenv/venv Pythons are not.
  if ! $PY -m pip install -q "${need_py[@]}" 2>/tmp/sealbatch-pip.err; then
    if grep -q externally-managed /tmp/sealbatch-pip.err; then
      $SUDO $PY -m pip install -q --break-system-packages "${need_py[@]}"
    else
      cat /tmp/sealbatch-pip.err >&2; exit 1
    fi
  fi
fi
command -v pyhanko >/dev/null 2>&1 || { echo "install-deps: pyhanko CLI not on PATH" >&2; exit 1; }
echo "install-deps: ok"
