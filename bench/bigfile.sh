#!/usr/bin/env bash
# bench/bigfile.sh — one big scan (default 1 GiB: 16 pages of large images), all figures from the same run:
#  (a) the whole pipeline (`sealbatch run --once`: ingest, approval, render, sign B-B, verify, archive,
#      delivery with its flush): seconds, seconds per stage, peak RSS;
#  (b) `sealbatch stamp` on it (ends with the sealed file fsynced and renamed) against `cp` + one
#      `openssl dgst -sha256` pass over the same file;
#  (c) pyHanko signing it (one Python process, same SoftHSM2 token): seconds and peak RSS.
# Targets (issue #15): pipeline <= 4 s with peak RSS <= 64 MB; stamp <= 2 x (cp + one SHA-256 pass).
# The big file is made once by bench/make-big-pdf.py and cached (BENCH_BIG_DIR, default .build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${SEALBATCH_BIN:-.build/release/sealbatch}
[ -x "$BIN" ] || swift build -c release
MB=${BENCH_BIG_MB:-1024}
BIGDIR=$(realpath -m "${BENCH_BIG_DIR:-.build/bench}")
BIG=$BIGDIR/scan-${MB}mb.pdf
mkdir -p "$BIGDIR"
[ -f "$BIG" ] || { echo "== making a ${MB} MB PDF of large images ($BIG)"; python3 bench/make-big-pdf.py "$BIG" "$MB" 16; }
W=$(mktemp -d "${BENCH_TMP:-$BIGDIR}/bigfile-bench.XXXXXX")   # on the same file system as the cached file
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"' EXIT
echo "== setting up a development token and registry in $W"
SEALBATCH_BIN=$BIN DEMO_OUT=$W/world DEMO_SETUP_ONLY=1 bash scripts/demo.sh >/dev/null
TOKDIR=$W/world/token
SOFTHSM2_CONF_PATH=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['module-environment']['SOFTHSM2_CONF'])" "$TOKDIR/token.json")
KEYPASS=demo-only-password
mkdir -p "$W/approvals" "$W/p/inbox"
# the pipeline seals a copy made different by a trailing comment (an approval is used once per document's bytes)
{ cat "$BIG"; printf '%% pipeline copy\n'; } > "$W/scan.pdf"
approve() { echo "$KEYPASS" | "$BIN" approve "$1" --seal acme-contract --requester clerk --purpose bench --valid-until +1d \
  -o "$2" --as boss --key "$W/world/keys/boss.p12" --key-password-fd 0 --registry "$W/world/registry.sqlite" >/dev/null; }
approve "$BIG" "$W/big.json"
approve "$W/scan.pdf" "$W/approvals/scan.json"
secs() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" "$1" "$2"; }
rss_mb() { awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); printf "%.1f\n", $2 / 1024}' "$1"; }
wall_s() { awk '/Elapsed \(wall clock\)/ {n=split($NF,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }

echo "== (a) the pipeline on one ${MB} MB document"
cat > "$W/p.json" <<JSON
{
  "name": "bigfile", "folders": {"root": "$W/p"}, "watch": {"settle-seconds": 0},
  "governance": {"registry": "$W/world/registry.sqlite"},
  "token": {"config": "$TOKDIR/token.json", "pin-file": "$TOKDIR/pin.txt"},
  "seal": {"id": "acme-contract", "user": "clerk"},
  "stages": [{"kind": "ingest", "max-size-mb": 4096}, {"kind": "approval", "manifests": "$W/approvals"},
             {"kind": "render", "placement": {"corner": "bottom-right"}},
             {"kind": "sign", "level": "B-B"}, {"kind": "verify", "trust": "$TOKDIR/DEV-ONLY-root-ca.crt"}, {"kind": "archive"}]
}
JSON
mv "$W/scan.pdf" "$W/p/inbox/scan.pdf"
sync   # the copy's writes are not the run's
/usr/bin/time -v -o "$W/p.time" "$BIN" run "$W/p.json" --once --no-progress --summary-json "$W/p-summary.json" > "$W/p-table.txt" || true
cat "$W/p-table.txt"
PIPE_S=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['delivered'] == 1, s; print(round(s['seconds'], 3))" "$W/p-summary.json")
PIPE_RSS=$(rss_mb "$W/p.time")
python3 - "$W/p-summary.json" > "$W/p-stages.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for st in s["stages"]:
    print(st["name"], round(st["seconds"], 3))
PY
echo "pipeline: ${PIPE_S} s, peak RSS ${PIPE_RSS} MB; per stage: $(tr '\n' ' ' < "$W/p-stages.txt")"
python3 scripts/bench-record.py bigfile "${MB} MB PDF through the pipeline" "s" "$PIPE_S" --target "<= 4 s"
python3 scripts/bench-record.py bigfile "${MB} MB PDF through the pipeline: peak RSS" "MB" "$PIPE_RSS" --target "<= 64 MB"
while read -r name sec; do
  python3 scripts/bench-record.py bigfile "${MB} MB PDF, $name stage" "s" "$sec"
done < "$W/p-stages.txt"
rm -rf "$W/p/outbox" "$W/p/archive"

echo "== (a') the same pipeline on a 1 MB scan: memory must not grow with the document"
python3 bench/make-big-pdf.py "$W/small.pdf" 1 1
approve "$W/small.pdf" "$W/approvals/small.json"
mv "$W/small.pdf" "$W/p/inbox/small.pdf"
/usr/bin/time -v -o "$W/q.time" "$BIN" run "$W/p.json" --once --no-progress --summary-json "$W/q-summary.json" > /dev/null || true
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['delivered'] == 1, s" "$W/q-summary.json"
SMALL_RSS=$(rss_mb "$W/q.time")
echo "peak RSS: ${PIPE_RSS} MB for ${MB} MB, ${SMALL_RSS} MB for 1 MB"
python3 scripts/bench-record.py bigfile "peak RSS, ${MB} MB PDF vs a 1 MB one (same pipeline)" "MB" "$PIPE_RSS" "$SMALL_RSS" "the same pipeline on a 1 MB scan" --target "flat: ratio <= 1.1"
rm -rf "$W/p/outbox" "$W/p/archive"

echo "== (b) sealbatch stamp on it, against cp + one openssl SHA-256 pass"
sync
t0=$(date +%s.%N); cp "$BIG" "$W/cp-copy.pdf"; t1=$(date +%s.%N)
openssl dgst -sha256 "$BIG" >/dev/null; t2=$(date +%s.%N)
CP_S=$(secs "$t0" "$t1"); SHA_S=$(secs "$t1" "$t2")
rm -f "$W/cp-copy.pdf"; sync
echo "$KEYPASS" | /usr/bin/time -v -o "$W/s.time" "$BIN" stamp "$BIG" -o "$W/stamped.pdf" --seal acme-contract --approval "$W/big.json" \
  --token-config "$TOKDIR/token.json" --pin-file "$TOKDIR/pin.txt" --trust "$TOKDIR/DEV-ONLY-root-ca.crt" --max-size-mb 4096 \
  --design '{"kind": "round", "organisation": "ACME 演示有限公司", "name": "合同专用章"}' \
  --as clerk --key "$W/world/keys/clerk.p12" --key-password-fd 0 --registry "$W/world/registry.sqlite" > "$W/s.out" 2> "$W/s.err" || { cat "$W/s.err"; exit 1; }
STAMP_S=$(wall_s "$W/s.time"); STAMP_RSS=$(rss_mb "$W/s.time")
BASE_S=$(python3 -c "print(round($CP_S + $SHA_S, 3))")
echo "stamp: ${STAMP_S} s (peak RSS ${STAMP_RSS} MB); cp ${CP_S} s + openssl sha256 ${SHA_S} s = ${BASE_S} s"
python3 scripts/bench-record.py bigfile "${MB} MB PDF: sealbatch stamp" "s" "$STAMP_S" "$BASE_S" "cp + one openssl dgst -sha256 pass" --target "<= 2x (ratio <= 2)"
python3 scripts/bench-record.py bigfile "${MB} MB PDF: sealbatch stamp, peak RSS" "MB" "$STAMP_RSS" --target "<= 64 MB"

echo "== (c) pyHanko signing it (one process, same token)"
sync
SOFTHSM2_CONF=$SOFTHSM2_CONF_PATH /usr/bin/time -v -o "$W/h.time" python3 - "$TOKDIR/pin.txt" "$BIG" "$W/pyhanko.pdf" <<'PY'
import sys
from pyhanko.sign import signers, fields
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
pin = open(sys.argv[1]).read().strip()
session = open_pkcs11_session("/usr/lib/softhsm/libsofthsm2.so", token_criteria=TokenCriteria(label="sealbatch-demo"), user_pin=pin)
signer = PKCS11Signer(session, key_label="seal", cert_label="seal")
meta = signers.PdfSignatureMetadata(field_name="Seal", subfilter=fields.SigSeedSubFilter.PADES)
with open(sys.argv[2], "rb") as fh:
    w = IncrementalPdfFileWriter(fh, strict=False)
    with open(sys.argv[3], "wb") as o:
        signers.sign_pdf(w, meta, signer=signer, output=o)
PY
HANKO_S=$(wall_s "$W/h.time"); HANKO_RSS=$(rss_mb "$W/h.time")
echo "pyHanko: ${HANKO_S} s, peak RSS ${HANKO_RSS} MB (sealbatch pipeline ${PIPE_S} s / ${PIPE_RSS} MB, stamp ${STAMP_S} s)"
python3 scripts/bench-record.py bigfile "${MB} MB PDF: pipeline vs pyHanko signing it" "s" "$PIPE_S" "$HANKO_S" "pyHanko 0.38 sign_pdf (one process, same token)" --target "lower is better"
python3 scripts/bench-record.py bigfile "${MB} MB PDF: pipeline peak RSS vs pyHanko's" "MB" "$PIPE_RSS" "$HANKO_RSS" "pyHanko 0.38 sign_pdf" --target "lower is better"
