#!/usr/bin/env bash
# Bounded fuzzing of `sealbatch verify`: mutates signed PDFs from the corpus (flips, truncations, splices,
# ByteRange/Contents garbage) and checks the verifier never crashes (exit code 0 or 1, never a signal).
# ITER (default 300) mutations; failures leave the offending file in fuzz-out/signing/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=.build/release/sealbatch
[ -x "$BIN" ] || BIN=.build/debug/sealbatch
[ -x "$BIN" ] || swift build --product sealbatch
CORPUS=Tests/Corpus
ITER=${ITER:-300}
W=$(mktemp -d /tmp/sealbatch-fuzz-signing-XXXXXX); trap 'rm -rf "$W"' EXIT
mkdir -p fuzz-out/signing
python3 - "$CORPUS" "$W" "$ITER" <<'PY'
import os, random, sys, glob
corpus, w, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
seeds = [p for p in glob.glob(corpus + "/*.pdf") if "signed" in p or "certified" in p]
rnd = random.Random(20261125)
for i in range(n):
    b = bytearray(open(rnd.choice(seeds), "rb").read())
    k = i % 5
    if k == 0:
        for _ in range(rnd.randint(1, 16)): b[rnd.randrange(len(b))] = rnd.randrange(256)
    elif k == 1: b = b[:rnd.randrange(len(b))]
    elif k == 2:
        at = rnd.randrange(len(b)); b[at:at] = os.urandom(rnd.randint(1, 256))
    elif k == 3:
        at = b.find(b"/ByteRange")
        if at >= 0:
            end = b.find(b"]", at)
            b[at + 10:end] = b" [" + b" ".join(str(rnd.choice([0, -1, 2**31, 2**63, rnd.randrange(10**7)])).encode() for _ in range(rnd.randint(0, 6)))
    else:
        at = b.find(b"/Contents")
        if at >= 0:
            lt = b.find(b"<", at)
            if lt >= 0: b[lt + 1:lt + 1 + 64] = bytes(rnd.choice(b"0123456789ABCDEFxyz<> ") for _ in range(64))
    open(f"{w}/f{i}.pdf", "wb").write(b)
PY
crashes=0
for f in "$W"/f*.pdf; do
  set +e; "$BIN" verify --no-revocation-check --format json "$f" > /dev/null 2>&1; rc=$?; set -e
  if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then crashes=$((crashes+1)); cp "$f" fuzz-out/signing/; echo "crash rc=$rc on $(basename $f)"; fi
done
echo "signing fuzz: $ITER inputs, $crashes crashes"
[ $crashes -eq 0 ]
