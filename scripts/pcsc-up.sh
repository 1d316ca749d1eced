#!/usr/bin/env bash
# Starts pcscd (with the vpcd virtual reader driver from vsmartcard-vpcd) if it is not running.
# Idempotent; used by the Token tests and CI. pcscd forks into the background; no --auto-exit
# (it would quit after 60 s idle, in the middle of a test run).
set -euo pipefail
PIDFILE=/run/pcscd/pcscd.pid
SOCK=/run/pcscd/pcscd.comm
# A live pcscd: not a zombie (an orphaned daemon may never be reaped where PID 1 is not an init).
live_pcscd() {
  local pid
  for pid in $(pgrep -x pcscd 2>/dev/null); do
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || return 0
  done
  return 1
}
running() {
  [ -S "$SOCK" ] || return 1
  live_pcscd
}
if running; then echo "pcscd already running"; exit 0; fi
command -v pcscd >/dev/null || { echo "pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)" >&2; exit 1; }
# A pcscd without its socket is wedged. Replace it only when it is the one its pid file names (the
# daemon this script started); any other pcscd is someone else's and is left alone, with a message.
if live_pcscd; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  else
    echo "a pcscd is running without its socket $SOCK and without the pid file $PIDFILE; stop it (systemctl stop pcscd) and run this again" >&2
    exit 1
  fi
fi
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
