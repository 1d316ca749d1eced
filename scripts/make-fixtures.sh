#!/usr/bin/env bash
# Generates test PDFs with third-party producers into .build/fixtures (idempotent; skipped if present).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/fixtures
mkdir -p "$OUT"
for s in scripts/fixtures/*.sh; do
  [ -e "$s" ] || continue
  bash "$s" "$OUT"
done
