#!/usr/bin/env bash
# make bench: runs every benchmark in bench/*.sh; each appends its figures to bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release
echo '{"runs": []}' > bench-results.json
for b in bench/*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"; bash "$b"
done
python3 scripts/bench-table.py bench-results.json
