#!/usr/bin/env bash
# make fuzz: bounded fuzzing runs (see each fuzz/*.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
for f in fuzz/*.sh; do [ -e "$f" ] || continue; bash "$f"; done
