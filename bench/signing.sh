#!/usr/bin/env bash
# Verify throughput of `sealbatch verify` against pdfsig and pyHanko on the same signed files, same run.
# Files: corpus PDFs signed (PAdES B-B, RSA-2048) by pyHanko with a throwaway test PKI.
# Each tool checks integrity, the signature value and the path to the test root; revocation is off for all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${BIN:-.build/release/sealbatch}
[ -x "$BIN" ] || swift build -c release --product sealbatch
SUP=Tests/SigningTests/Support
CORPUS=Tests/Corpus
W=$(mktemp -d /tmp/sealbatch-bench-signing-XXXXXX)
trap 'rm -rf "$W"' EXIT
ROUNDS=${ROUNDS:-3}
# Copies of each of the 10 corpus files: a CI gate checks a release's documents in one call, so the default is
# 100 files; each tool's figure below is also given per file with its one-time start cost taken out.
REPS=${REPS:-10}

bash $SUP/make-pki.sh "$W/pki" http://127.0.0.1:9 >/dev/null
mkdir -p "$W/signed"
python3 - "$W" "$CORPUS" "$REPS" <<'PY'
import sys, os
from pyhanko.sign import signers, fields
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
w, corpus = sys.argv[1], sys.argv[2]
pki = os.path.join(w, "pki")
signer = signers.SimpleSigner.load(f"{pki}/leaf.key", f"{pki}/leaf.crt", ca_chain_files=(f"{pki}/chain.pem",))
names = ["xref-classic-minimal-pyhanko.pdf", "xrefstream-minimal-pyhanko.pdf", "objstm-264-objects-per-stream-qpdf.pdf",
         "acroform-libreoffice-textfields-samplefiles.pdf", "boxes-cropbox-bleed-trim-rotate-qpdf.pdf",
         "cjk-zh-invoice-sourcehan-subset-openpdf-ofdrw.pdf", "pagetree-inherited-attrs-nested-qpdf.pdf",
         "linearized-acrobat11-xrefstream-dss.pdf", "pdf20-incremental-save-pdfassoc.pdf", "cjk-ja-vertical-noto-subset-pyhanko.pdf"]
n = 0
for rep in range(int(sys.argv[3])):
    for name in names:
        src = os.path.join(corpus, name)
        if not os.path.exists(src): continue
        meta = signers.PdfSignatureMetadata(field_name="Seal", subfilter=fields.SigSeedSubFilter.PADES)
        try:
            with open(src, "rb") as f:
                wr = IncrementalPdfFileWriter(f, strict=False)
                with open(os.path.join(w, "signed", f"{rep}-{name}"), "wb") as out:
                    signers.sign_pdf(wr, meta, signer=signer, output=out)
            n += 1
        except Exception as e:
            print("skip", name, e, file=sys.stderr)
print(n)
PY
FILES=("$W"/signed/*.pdf)
N=${#FILES[@]}
ROOT=$W/pki/root.crt
certutil -N -d sql:$W/nss --empty-password 2>/dev/null || { mkdir -p $W/nss; certutil -N -d sql:$W/nss --empty-password; }
certutil -A -d sql:$W/nss -n root -t "C,C,C" -i $ROOT

# bash's own clock: a python3 -c per reading added its ~25 ms interpreter start to every interval measured
now() { echo "$EPOCHREALTIME"; }
best() { python3 -c 'import sys; print(min(float(x) for x in sys.argv[1:]))' "$@"; }
# "min / median / max" of the files/s of each round
spread() { python3 -c 'import sys, statistics as st; n=float(sys.argv[1]); r=sorted(n/float(x) for x in sys.argv[2:]); print(f"{r[0]:.1f} / {st.median(r):.1f} / {r[-1]:.1f}")' "$N" "$@"; }

ours=(); ours1=(); pdfsig_t=(); ph=(); phloop=()
# A/B: BIN_B=<other sealbatch binary> also times that binary in every round (same files, same load)
BIN_B=${BIN_B:-}
oursb=()
for r in $(seq $ROUNDS); do
  if [ -n "$BIN_B" ]; then
    t0=$(now); "$BIN_B" verify --trust "$ROOT" --no-revocation-check --format json "${FILES[@]}" > "$W/oursb.json" || true; t1=$(now)
    oursb+=($(python3 -c "print($t1-$t0)"))
  fi
  t0=$(now); "$BIN" verify --trust "$ROOT" --no-revocation-check --format json "${FILES[@]}" > "$W/ours.json" || true; t1=$(now)
  ours+=($(python3 -c "print($t1-$t0)"))
  # the same process on one file: its start cost (dynamic linking, trust anchors), taken out of the per-file figure
  t0=$(now); "$BIN" verify --trust "$ROOT" --no-revocation-check --format json "${FILES[0]}" > /dev/null || true; t1=$(now)
  ours1+=($(python3 -c "print($t1-$t0)"))
  t0=$(now); for f in "${FILES[@]}"; do pdfsig -nssdir sql:$W/nss "$f" > /dev/null 2>&1 || true; done; t1=$(now)
  pdfsig_t+=($(python3 -c "print($t1-$t0)"))
  t0=$(now); PYHANKO_TIMING_FILE=$W/ph.time python3 $SUP/pyhanko_validate.py "$ROOT" none "${FILES[@]}" > "$W/ph.jsonl"; t1=$(now)
  ph+=($(python3 -c "print($t1-$t0)"))
  phloop+=($(cut -d' ' -f2 "$W/ph.time"))
done
passed=$(python3 -c "import json,sys; r=json.load(open('$W/ours.json')); print(sum(1 for f in r['files'] if f['passed']))")
phpass=$(python3 -c "import json; print(sum(1 for l in open('$W/ph.jsonl') if all(s['bottom_line'] for s in json.loads(l)['signatures']) and json.loads(l)['signatures']))")
O=$(best "${ours[@]}"); P=$(best "${pdfsig_t[@]}"); H=$(best "${ph[@]}")
OR=$(python3 -c "print($N/$O)"); PR=$(python3 -c "print($N/$P)"); HR=$(python3 -c "print($N/$H)")
echo "files=$N ours passed=$passed pyHanko passed=$phpass"
echo "verify throughput (files/s, best of $ROUNDS, whole run incl. process start): ours $OR, pdfsig $PR, pyHanko(API, one process) $HR"
echo "files/s min / median / max of $ROUNDS rounds: ours $(spread "${ours[@]}"); pdfsig $(spread "${pdfsig_t[@]}"); pyHanko whole run $(spread "${ph[@]}"); pyHanko validation loop only (imports excluded) $(spread "${phloop[@]}")"
[ -n "$BIN_B" ] && echo "files/s min / median / max, BIN_B=$BIN_B: $(spread "${oursb[@]}")"
HL=$(python3 -c "print($N/$(best "${phloop[@]}"))")
# Per file without one-time costs: ours (N files − 1 file) / (N − 1); pyHanko's loop excludes its imports; pdfsig is
# a process per file by design, so its per-file figure is its whole loop.
O1=$(best "${ours1[@]}")
OM=$(python3 -c "print(($N-1)/max($O-$O1,1e-6))")
echo "per file, one-time start cost excluded (files/s): ours $(python3 -c "print(round($OM,1))") (start $(python3 -c "print(round($O1*1000))") ms), pyHanko loop $(python3 -c "print(round($HL,1))"), pdfsig $(python3 -c "print(round($PR,1))")"
echo "per-file ratios: ours/pyHanko loop $(python3 -c "print(round($OM/$HL,2))"), ours/pdfsig $(python3 -c "print(round($OM/$PR,2))")"
echo "ratios (best rounds): ours/pdfsig $(python3 -c "print(round($OR/$PR,2))"), ours/pyHanko whole run $(python3 -c "print(round($OR/$HR,2))"), ours/pyHanko loop only $(python3 -c "print(round($OR/$HL,2))")"
python3 scripts/bench-record.py signing verify-throughput-vs-pdfsig files/s "$OR" "$PR" pdfsig --target "higher is better; same $N files, one process for ours"
python3 scripts/bench-record.py signing verify-throughput-vs-pyhanko files/s "$OR" "$HR" pyhanko --target "higher is better; pyHanko library loop in one process"
python3 scripts/bench-record.py signing verify-throughput-vs-pyhanko-loop-only files/s "$OR" "$HL" pyhanko --target "higher is better; pyHanko's validation loop without its one-time imports (ours includes its process start)"
python3 scripts/bench-record.py signing verify-per-file-vs-pyhanko-loop files/s "$OM" "$HL" pyhanko --target ">= 10x; both without one-time start costs (ours: N files minus 1 file)"
python3 scripts/bench-record.py signing verify-per-file-vs-pdfsig files/s "$OM" "$PR" pdfsig --target ">= 10x; pdfsig is one process per file"
