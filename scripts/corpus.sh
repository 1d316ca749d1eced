#!/usr/bin/env bash
# The public corpus (Tests/Corpus) sealed by sealbatch and by pyHanko the same way (a visible seal on the last
# page, PAdES B-B), both judged by pyHanko and pdfsig; prints the table per file (ours vs pyHanko) and the
# totals, and fails when issue #14's targets are missed (parse >= 40/42, repair >= 10/12, every reject refused).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
SCRATCH=${SEALBATCH_SCRATCH:-.build}
swift build --build-tests --scratch-path "$SCRATCH"
mkdir -p "$SCRATCH"
TABLE="$SCRATCH/corpus-table.tsv"
rm -f "$TABLE"
status=0
SEALBATCH_CORPUS_TABLE="$PWD/$TABLE" swift test --skip-build --scratch-path "$SCRATCH" --filter CorpusTableTests > "$SCRATCH/corpus-test.txt" 2>&1 || status=$?
if [ -f "$TABLE" ]; then
  column -t -s $'\t' "$TABLE"
  echo "(table: $TABLE)"
else
  tail -40 "$SCRATCH/corpus-test.txt"
fi
grep -E "✘.*recorded an issue|↳ (parse|repair)" "$SCRATCH/corpus-test.txt" || true
exit $status
