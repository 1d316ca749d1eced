#!/usr/bin/env bash
# Starts pcscd (with the vpcd virtual reader driver from vsmartcard-vpcd) if it is not running.
# Idempotent; used by the Token tests and CI. pcscd forks into the background; no --auto-exit
# (it would quit after 60 s idle, in the middle of a test run).
set -euo pipefail
PIDFILE=/run/pcscd/pcscd.pid
SOCK=/run/pcscd/pcscd.comm
running() {
  [ -S "$SOCK" ] || return 1
  if [ -f "$PIDFILE" ]; then kill -0 "$(tr -d '\0' < "$PIDFILE")" 2>/dev/null && return 0; fi
  pgrep -x pcscd >/dev/null 2>&1
}
if running; then echo "pcscd already running"; exit 0; fi
command -v pcscd >/dev/null || { echo "pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)" >&2; exit 1; }
# A stale socket from a killed pcscd makes the new one refuse to start.
rm -f "$SOCK" "$PIDFILE" 2>/dev/null || true
mkdir -p /run/pcscd
pcscd
for _ in $(seq 1 50); do
  if running; then echo "pcscd started"; exit 0; fi
  sleep 0.1
done
echo "pcscd did not come up" >&2
exit 1
