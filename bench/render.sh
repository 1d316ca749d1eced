#!/usr/bin/env bash
# Render benchmark: `sealbatch preview` (draw the seal with Cairo, place it with poppler text search,
# write the unsigned widgets, render every page with poppler+Cairo) per page, against pdftoppm
# rendering the same pages of the unsealed file (render only) at the same resolution.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SEALBATCH_BIN:-.build/release/sealbatch}
[ -x "$BIN" ] || { echo "bench/render.sh: build first (swift build -c release)" >&2; exit 2; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
IN=samples/contract-zh-libreoffice.pdf
PAGES=$(pdfinfo "$IN" | awk '/^Pages:/ {print $2}')
cat > "$T/render.json" <<'JSON'
{"design": {"kind": "round", "organisation": "某某市某某有限公司", "name": "合同专用章", "code": "1101080012345"},
 "placement": {"anchor": {"text": "甲方（盖章）", "occurrence": -1}, "cross-page": {"pages": "all"}}}
JSON
ms() { python3 -c 'import time; print(int(time.monotonic_ns() // 1000000))'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours=(); peer=()
for i in 1 2 3 4 5; do
  s=$(ms); "$BIN" preview "$IN" --config "$T/render.json" --pages all --dpi 100 -o "$T/out" >/dev/null; e=$(ms); ours+=($((e - s)))
  s=$(ms); pdftoppm -r 100 -png "$IN" "$T/pp" >/dev/null; e=$(ms); peer+=($((e - s)))
done
o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
op=$(python3 -c "print(round($o / $PAGES, 1))"); pp=$(python3 -c "print(round($p / $PAGES, 1))")
echo "preview: ${op} ms/page (sealbatch, incl. seal drawing, anchor search, 3 slices) vs pdftoppm ${pp} ms/page"
python3 scripts/bench-record.py render preview-per-page ms "$op" "$pp" "pdftoppm -r 100 (render only)" --target "< 3x pdftoppm"
