#!/usr/bin/env bash
# make fuzz: bounded libFuzzer run over the PDF parser (default 60 s; FUZZ_SECONDS to change).
# Seeds: Tests/Corpus (small files), .build/fixtures/pdf-*, Tests/PDFTests/Fixtures/fuzz-*.
# New crashers are copied to Tests/PDFTests/Fixtures/fuzz-<sha1>.pdf (regression fixtures) and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
SECONDS_BUDGET="${FUZZ_SECONDS:-60}"
OUT=.build-fuzz/pdf
mkdir -p "$OUT/corpus" "$OUT/artifacts" Tests/PDFTests/Fixtures
BIN="$OUT/pdf-fuzz"
SRCS=(fuzz/PDFFuzz.swift Sources/PDF/*.swift Sources/PDF/Crypto/*.swift)
if [ ! -x "$BIN" ] || [ -n "$(find "${SRCS[@]}" -newer "$BIN" 2>/dev/null)" ]; then
  echo "== building $BIN"
  swiftc -O -wmo -sanitize=fuzzer,address -parse-as-library -module-name PDFFuzz -swift-version 6 \
    -I Sources/CZlib -lz "${SRCS[@]}" -o "$BIN.new" > "$OUT/build.log" 2>&1 \
    || { grep -v "ld.gold: warning" "$OUT/build.log"; echo "fuzz build failed"; exit 1; }
  mv "$BIN.new" "$BIN"
fi
CORPUS_DIR="Tests/Corpus"
SEEDS="$OUT/seeds"; rm -rf "$SEEDS"; mkdir -p "$SEEDS"
for f in "$CORPUS_DIR"/*.pdf .build/fixtures/pdf-*.pdf Tests/PDFTests/Fixtures/fuzz-*; do
  [ -f "$f" ] || continue
  [ "$(stat -c %s "$f")" -le 200000 ] && cp "$f" "$SEEDS/"
done
echo "== fuzzing for ${SECONDS_BUDGET}s with $(ls "$SEEDS" | wc -l) seeds"
set +e
"$BIN" "$OUT/corpus" "$SEEDS" -max_total_time="$SECONDS_BUDGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 2>&1 | tail -25
rc=${PIPESTATUS[0]}
set -e
found=0
for a in "$OUT"/artifacts/crash-* "$OUT"/artifacts/timeout-* "$OUT"/artifacts/oom-* "$OUT"/artifacts/leak-*; do
  [ -f "$a" ] || continue
  h=$(sha1sum "$a" | cut -c1-12)
  dest="Tests/PDFTests/Fixtures/fuzz-$(basename "$a" | cut -d- -f1)-$h.pdf"
  [ -f "$dest" ] || { cp "$a" "$dest"; echo "new regression fixture: $dest"; found=1; }
  rm -f "$a"
done
if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then echo "fuzz: FAILED (exit $rc); see Tests/PDFTests/Fixtures/fuzz-*"; exit 1; fi
echo "fuzz: ok, no crashes in ${SECONDS_BUDGET}s"
