#!/usr/bin/env bash
# bench/pipeline.sh — figures for the pipeline, from one run on the same documents and token:
#  (a) documents/s of `sealbatch run --once` (ingest, approval, render, sign B-B, verify, archive) against
#      pyHanko signing the same files in ONE Python process with the same SoftHSM2 token (python-pkcs11);
#  (b) documents/s with the token slowed to 100 ms per signature, against the token's limit of 10/s;
#  (c) peak RSS of the daemon with 10 000 documents queued in the hot folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${SEALBATCH_BIN:-.build/release/sealbatch}
[ -x "$BIN" ] || swift build -c release
N=${BENCH_DOCS:-300}
NSLOW=${BENCH_SLOW_DOCS:-200}
NQUEUE=${BENCH_QUEUED:-10000}
W=$(mktemp -d /tmp/sealbatch-pipeline-bench.XXXXXX)
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"' EXIT
echo "== setting up a development token and registry in $W"
SEALBATCH_BIN=$BIN DEMO_OUT=$W/world DEMO_SETUP_ONLY=1 bash scripts/demo.sh >/dev/null
TOKDIR=$W/world/token
SOFTHSM2_CONF_PATH=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['module-environment']['SOFTHSM2_CONF'])" "$TOKDIR/token.json")

echo "== generating documents (reportlab)"
python3 - "$W" "$N" "$NSLOW" <<'PY'
import sys, os, uuid
from reportlab.pdfgen import canvas
from reportlab.lib.pagesizes import A4
w, n, nslow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for sub, count in (("docs", n), ("slow", nslow)):
    os.makedirs(f"{w}/{sub}", exist_ok=True)
    for i in range(count):
        c = canvas.Canvas(f"{w}/{sub}/{sub}-{i:05d}.pdf", pagesize=A4)
        c.setFont("Helvetica", 12)
        for line in range(30):
            c.drawString(72, 780 - 20 * line, f"Contract {sub} {i}, clause {line}: the parties agree {uuid.uuid4()}")
        c.showPage(); c.drawString(72, 760, "Party A (Seal):"); c.save()
PY
# (c): NQUEUE copies of one document, each made unique by a trailing comment after %%EOF
mkdir -p "$W/queue"
python3 - "$W/docs/docs-00000.pdf" "$W/queue" "$NQUEUE" <<'PY'
import sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
for i in range(n):
    open(f"{out}/q-{i:05d}.pdf", "wb").write(data + b"%% copy " + str(i).encode() + b"\n")
PY
KEYPASS=demo-only-password
echo "== approving (boss, one manifest per set)"
mkdir -p "$W/approvals"
for set in docs slow queue; do
  find "$W/$set" -name '*.pdf' | sort | xargs -s 1800000 sh -c 'echo '"$KEYPASS"' | "$0" approve "$@" --seal acme-contract --requester clerk --purpose bench --valid-until +1d -o "'"$W"'/approvals/'"$set"'-$$.json" --as boss --key "'"$W"'/world/keys/boss.p12" --key-password-fd 0 --registry "'"$W"'/world/registry.sqlite" >/dev/null' "$BIN"
done

pipeline() { # name root delay-ms
cat > "$W/$1.json" <<JSON
{
  "name": "$1", "folders": {"root": "$2"}, "watch": {"settle-seconds": 0},
  "governance": {"registry": "$W/world/registry.sqlite"},
  "token": {"config": "$TOKDIR/token.json", "pin-file": "$TOKDIR/pin.txt"$( [ "$3" != 0 ] && echo ", \"test-delay-ms\": $3")},
  "seal": {"id": "acme-contract", "user": "clerk"},
  "stages": [{"kind": "ingest"}, {"kind": "approval"}, {"kind": "render", "placement": {"corner": "bottom-right"}},
             {"kind": "sign", "level": "B-B", "concurrency": 4}, {"kind": "verify", "trust": "$TOKDIR/DEV-ONLY-root-ca.crt"}, {"kind": "archive"}]
}
JSON
}

echo "== (a) sealbatch on $N documents"
mkdir -p "$W/a/inbox"; cp "$W"/docs/*.pdf "$W/a/inbox/"
pipeline a "$W/a" 0
# The setup's own writes (300 copies, approvals) are flushed first: otherwise the run's first delivery
# barrier (syncfs) pays for them. pyHanko's run starts from a flushed file system too.
sync
"$BIN" run "$W/a.json" --once --no-progress --summary-json "$W/a-summary.json" > "$W/a-table.txt" || true
cat "$W/a-table.txt"
OURS=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['delivered']/s['seconds'])" "$W/a-summary.json")
DELIVERED=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['delivered'])" "$W/a-summary.json")

echo "== (a) pyHanko, one Python process, same token, same $N files"
mkdir -p "$W/peer"
sync
PEER=$(SOFTHSM2_CONF=$SOFTHSM2_CONF_PATH python3 - "$TOKDIR/pin.txt" "$W/peer" "$W"/docs/*.pdf <<'PY'
import sys, time
from pyhanko.sign import signers, fields
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
pin_file, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
pin = open(pin_file).read().strip()  # the PIN itself never goes on a command line
t0 = time.monotonic()
session = open_pkcs11_session("/usr/lib/softhsm/libsofthsm2.so", token_criteria=TokenCriteria(label="sealbatch-demo"), user_pin=pin)
signer = PKCS11Signer(session, key_label="seal", cert_label="seal")
meta = signers.PdfSignatureMetadata(field_name="Seal", subfilter=fields.SigSeedSubFilter.PADES)
for f in files:
    with open(f, "rb") as fh:
        w = IncrementalPdfFileWriter(fh, strict=False)
        with open(out + "/" + f.rsplit("/", 1)[1], "wb") as o:
            signers.sign_pdf(w, meta, signer=signer, output=o)
print(len(files) / (time.monotonic() - t0))
PY
)
echo "sealbatch: $OURS documents/s ($DELIVERED delivered); pyHanko: $PEER documents/s"
python3 scripts/bench-record.py pipeline "throughput (full pipeline vs pyHanko signing only)" "docs/s" "$OURS" "$PEER" "pyHanko 0.38 (one process, python-pkcs11, same SoftHSM2 token)" --target ">= 5x pyHanko"

echo "== (b) token slowed to 100 ms per signature, $NSLOW documents"
mkdir -p "$W/b/inbox"; cp "$W"/slow/*.pdf "$W/b/inbox/"
pipeline b "$W/b" 100
"$BIN" run "$W/b.json" --once --no-progress --summary-json "$W/b-summary.json" > "$W/b-table.txt" || true
cat "$W/b-table.txt"
SLOW=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['delivered']/s['seconds'])" "$W/b-summary.json")
echo "sealbatch with a 100 ms token: $SLOW documents/s (token limit 10/s)"
python3 scripts/bench-record.py pipeline "throughput with a 100 ms/signature token" "docs/s" "$SLOW" 10 "token limit (1 signature / 100 ms)" --target ">= 0.95 of the limit"

echo "== (c) peak RSS with $NQUEUE documents queued (daemon, slowed token, stopped after 20 s)"
mkdir -p "$W/c/inbox"; find "$W/queue" -name '*.pdf' -exec mv -t "$W/c/inbox/" {} +
pipeline c "$W/c" 100
/usr/bin/time -v -o "$W/c.time" "$BIN" run "$W/c.json" --no-progress > "$W/c-table.txt" 2>"$W/c.err" &
RUNPID=$!
sleep 20
kill -TERM "$(pgrep -P $RUNPID sealbatch || echo $RUNPID)" 2>/dev/null || true
wait $RUNPID || true
RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$W/c.time")
LEFT=$(ls "$W/c/inbox" | wc -l)
echo "peak RSS: $((RSS_KB / 1024)) MB with $NQUEUE documents queued ($LEFT still waiting at shutdown)"
python3 scripts/bench-record.py pipeline "peak RSS with $NQUEUE documents queued" "MB" "$((RSS_KB / 1024))" --target "bounded (does not grow with the queue)"
