#!/usr/bin/env bash
# scripts/manpages.sh BIN OUTDIR — one manual page per command (sealbatch.1, sealbatch.stamp.1, …) in OUTDIR,
# written by swift-argument-parser's own `generate-manual` tool (the tool behind its GenerateManual plugin)
# from BIN's description of its commands. The tool is built once from the swift-argument-parser checkout
# SwiftPM already fetched for sealbatch (offline; SCRATCH is that build folder, default .build) into
# $SCRATCH/generate-manual. The pages are in English whatever the locale.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${1:?usage: manpages.sh BIN OUTDIR}
OUT=${2:?usage: manpages.sh BIN OUTDIR}
SCRATCH=${SCRATCH:-.build}
AP="$SCRATCH/checkouts/swift-argument-parser"
if [ ! -f "$AP/Package.swift" ]; then
  swift package --scratch-path "$SCRATCH" resolve >/dev/null
fi
TOOL_SCRATCH="$SCRATCH/generate-manual"
TOOL="$TOOL_SCRATCH/debug/generate-manual"
if [ ! -x "$TOOL" ] || [ "$AP/Package.swift" -nt "$TOOL" ]; then
  swift build --package-path "$AP" --scratch-path "$TOOL_SCRATCH" --product generate-manual -q >&2
fi
mkdir -p "$OUT"
# --multi-page: sealbatch.1 plus a page per subcommand; a fixed date keeps the pages reproducible.
LC_ALL=C.UTF-8 "$TOOL" "$(realpath "$BIN")" --multi-page --date "$(git log -1 --format=%cs 2>/dev/null || date +%F)" \
  --section 1 --output-directory "$OUT"
ls "$OUT"/*.1 >/dev/null
