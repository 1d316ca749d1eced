#!/usr/bin/env bash
# Bounded fuzzing of `sealbatch preview` (PDF core + poppler text search + placement + overlay + render):
# byte-mutated copies of the sample contracts and corpus PDFs must end with exit 0-3, never a crash
# (signal) or a hang. Seconds: $FUZZ_SECONDS (default 60). Crashing inputs are kept in fuzz-out/render/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SEALBATCH_BIN:-.build/release/sealbatch}
[ -x "$BIN" ] || BIN=.build/debug/sealbatch
[ -x "$BIN" ] || { echo "fuzz/render.sh: build first" >&2; exit 2; }
SECONDS_BUDGET=${FUZZ_SECONDS:-60}
OUT=fuzz-out/render; mkdir -p "$OUT"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat > "$T/render.json" <<'JSON'
{"design": {"kind": "round", "organisation": "某某市某某有限公司", "name": "合同专用章"},
 "placement": {"anchor": {"text": "甲方（盖章）", "occurrence": -1, "fallback": "last-page"}, "cross-page": {"pages": "all"},
               "signature-overlap": "report"}}
JSON
SEEDS=(samples/*.pdf)
CORPUS=Tests/Corpus
[ -d "$CORPUS" ] && SEEDS+=("$CORPUS"/xref-classic-minimal-pyhanko.pdf "$CORPUS"/boxes-cropbox-bleed-trim-rotate-qpdf.pdf)
end=$((SECONDS + SECONDS_BUDGET)); n=0; bad=0
while [ $SECONDS -lt $end ]; do
  seed=${SEEDS[$((RANDOM % ${#SEEDS[@]}))]}
  python3 - "$seed" "$T/in.pdf" "$n" <<'PY'
import random, sys
data = bytearray(open(sys.argv[1], 'rb').read())
rnd = random.Random(int(sys.argv[3]))
for _ in range(rnd.randint(1, 12)):
    op = rnd.random(); i = rnd.randrange(len(data))
    if op < 0.5: data[i] = rnd.randrange(256)
    elif op < 0.75: del data[i:i + rnd.randint(1, 64)]
    else: data[i:i] = bytes(rnd.choice(b"0123456789 /<>[]()RobjendstreamxrefQq") for _ in range(rnd.randint(1, 16)))
open(sys.argv[2], 'wb').write(data)
PY
  set +e
  timeout 30 "$BIN" preview "$T/in.pdf" --config "$T/render.json" --dpi 20 -o "$T/out" >/dev/null 2>&1
  rc=$?
  set -e
  if [ $rc -gt 3 ]; then bad=$((bad + 1)); cp "$T/in.pdf" "$OUT/crash-$n-rc$rc.pdf"; echo "fuzz/render: exit $rc on mutation $n of $seed"; fi
  n=$((n + 1))
done
echo "fuzz/render: $n inputs, $bad crashes or hangs"
[ $bad -eq 0 ]
