#!/usr/bin/env bash
# make demo: build, then run the main job on samples/ and say where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release
BIN=$(swift build -c release --show-bin-path)/sealbatch
OUT=demo-out
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== inspecting samples"
for f in samples/*.pdf; do "$BIN" inspect "$f" || true; done
echo "demo: results in $OUT/"
