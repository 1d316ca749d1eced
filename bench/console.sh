#!/usr/bin/env bash
# bench/console.sh — figures for the web console (`sealbatch serve`, issue #16), appended to bench-results.json:
#  (a) dashboard and audit search time with BENCH_AUDIT_RECORDS (100 000) audit records: p50/p95/max of
#      BENCH_CONSOLE_N requests each, measured by the client on loopback (target p95 < 100 ms);
#  (b) 50 SSE clients receive a new seal use (a real `sealbatch run --once` on an approved document): latency
#      from the record's audit time to each client's receipt (target max < 1 s);
#  (c) a BENCH_CONSOLE_BATCH (200) document hot-folder batch: docs/s without the console and with the console
#      running plus 10 SSE watchers, 3 rounds each, same token (target: with >= 0.95 x without).
# The 100 000 records are real appends through Governance: `sealbatch approvals check` admits approved
# documents (one `approval.admit` record each, plus a refused one per run for a document nobody approved),
# repeated until the log holds enough; `audit verify` must then say the chain is intact.
# The console is started per phase and stopped by its PID (never by name). Run with SEALBATCH_BIN=... to
# measure another binary (the default is the release build `make bench` makes).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
ROOT=$PWD
BIN=${SEALBATCH_BIN:-$ROOT/.build/release/sealbatch}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
[ -x "$BIN" ] || swift build -c release
RECORDS=${BENCH_AUDIT_RECORDS:-100000}
N=${BENCH_CONSOLE_N:-50}
NBATCH=${BENCH_CONSOLE_BATCH:-200}
ROUNDS=${BENCH_CONSOLE_ROUNDS:-3}
SSE=${BENCH_SSE_CLIENTS:-50}
WATCHERS=${BENCH_WATCHERS:-10}
W=$(mktemp -d /tmp/sealbatch-console-bench.XXXXXX)
SERVE_PID=""; CLIENT_PID=""
stop_console() {
  [ -n "$CLIENT_PID" ] && { kill "$CLIENT_PID" 2>/dev/null || true; wait "$CLIENT_PID" 2>/dev/null || true; CLIENT_PID=""; }
  [ -n "$SERVE_PID" ] && { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=""; }
  return 0
}
trap 'stop_console; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"' EXIT
umask 077
rec() { python3 "$ROOT/scripts/bench-record.py" "$@"; }
CLIENT="python3 $ROOT/bench/console-client.py"
REG=$W/world/registry.sqlite
KEYPASS=demo-only-password
echo "== binary: $BIN"
echo "== setting up a development token and registry in $W"
SEALBATCH_BIN=$BIN DEMO_OUT=$W/world DEMO_SETUP_ONLY=1 bash scripts/demo.sh >/dev/null
TOKDIR=$W/world/token
as() { echo "--as $1 --key $W/world/keys/$1.p12 --key-password-fd 0 --registry $REG"; }
# console passwords as scripts/demo.sh sets them (fd 3, never argv); the client reads them from an owner-only file
: > "$W/passwords"
for u in sadmin clerk boss; do
  printf '%s\n' "$KEYPASS" | "$BIN" user credentials "$u" --set-password --new-password-fd 3 $(as "$u") 3<<<"demo-$u-pw" >/dev/null
  echo "$u=demo-$u-pw" >> "$W/passwords"
done

echo "== documents: 1000 small ones for the audit load, $((2 * ROUNDS)) x $NBATCH contracts for the batches, 2 for the SSE use"
python3 - "$W" "$NBATCH" "$ROUNDS" <<'PY'
import sys, os, uuid
from reportlab.pdfgen import canvas
from reportlab.lib.pagesizes import A4
w, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{w}/load", exist_ok=True)
for i in range(1000):
    open(f"{w}/load/l{i:05}.pdf", "wb").write(b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n% load " + str(i).encode() + b" " + os.urandom(200).hex().encode() + b"\n%%EOF\n")
open(f"{w}/unapproved.pdf", "wb").write(b"%PDF-1.4\n% nobody approved this\n%%EOF\n")
sets = [f"{mode}{r}" for r in range(rounds) for mode in ("plain", "console")] + ["sse"]
for s in sets:
    os.makedirs(f"{w}/{s}/inbox", exist_ok=True)
    for i in range(n if s != "sse" else 2):
        c = canvas.Canvas(f"{w}/{s}/inbox/{s}-{i:05d}.pdf", pagesize=A4)
        c.setFont("Helvetica", 12)
        for line in range(30):
            c.drawString(72, 780 - 20 * line, f"Contract {s} {i}, clause {line}: the parties agree {uuid.uuid4()}")
        c.showPage(); c.drawString(72, 760, "Party A (Seal):"); c.save()
PY
echo "== approving (boss)"
echo "$KEYPASS" | "$BIN" approve "$W"/load/*.pdf --seal acme-contract --requester clerk --purpose "audit load" --valid-until +1d \
  -o "$W/load.json" $(as boss) >/dev/null
find "$W" -path '*/inbox/*.pdf' | sort | xargs -s 1800000 sh -c 'echo '"$KEYPASS"' | "$0" approve "$@" --seal acme-contract --requester clerk --purpose bench --valid-until +1d -o "'"$W"'/batch-$$.json" --as boss --key "'"$W"'/world/keys/boss.p12" --key-password-fd 0 --registry "'"$REG"'" >/dev/null' "$BIN"

count() { sqlite3 -cmd ".timeout 10000" "$REG" "SELECT count(*) FROM audit" 2>/dev/null || echo 0; }
echo "== filling the audit log to $RECORDS records with real admissions (sealbatch approvals check, 2 at a time)"
t0=$EPOCHREALTIME
worker() { while [ "$(count)" -lt "$RECORDS" ]; do
  "$BIN" approvals check "$W"/load/*.pdf --seal acme-contract --user clerk --approval "$W/load.json" --registry "$REG" >/dev/null
  "$BIN" approvals check "$W/unapproved.pdf" --seal acme-contract --user clerk --approval "$W/load.json" --registry "$REG" >/dev/null 2>&1 || true
done; }
worker & WA=$!; worker & WB=$!
wait $WA; wait $WB
t1=$EPOCHREALTIME
TOTAL=$(count)
echo "   $TOTAL records in $(python3 -c "print(round($t1-$t0))") s"
"$BIN" audit verify --registry "$REG" | tee "$W/verify.txt"
grep -qi intact "$W/verify.txt" || { echo "audit verify does not say intact: the bench's records are not honest" >&2; exit 1; }

pipeline() { # name root
cat > "$W/$1.json" <<JSON
{
  "name": "$1", "folders": {"root": "$2"}, "watch": {"settle-seconds": 0},
  "governance": {"registry": "$REG"},
  "token": {"config": "$TOKDIR/token.json", "pin-file": "$TOKDIR/pin.txt"},
  "seal": {"id": "acme-contract", "user": "clerk"},
  "stages": [{"kind": "ingest"}, {"kind": "approval"}, {"kind": "render", "placement": {"corner": "bottom-right"}},
             {"kind": "sign", "level": "B-B", "concurrency": 4}, {"kind": "verify", "trust": "$TOKDIR/DEV-ONLY-root-ca.crt"}, {"kind": "archive"}]
}
JSON
}

start_console() { # pipeline files...
  local args=()
  for p in "$@"; do args+=(--pipeline "$p"); done
  : > "$W/serve.out"
  "$BIN" serve --registry "$REG" --listen 127.0.0.1:0 "${args[@]}" > "$W/serve.out" 2> "$W/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 1 300); do grep -q "console listening on" "$W/serve.out" && break; sleep 0.1; done
  URL=$(sed -n 's/^console listening on //p' "$W/serve.out")
  [ -n "$URL" ] || { cat "$W/serve.err" >&2; echo "the console did not start" >&2; exit 1; }
}

SHA=$(sha256sum "$W/load/l00500.pdf" | cut -d' ' -f1)
pipeline sse "$W/sse"
echo "== (a) dashboard and audit search, $N requests each, $TOTAL audit records (client-measured on loopback)"
start_console "$W/sse.json"
$CLIENT requests "$URL" "$W/passwords" "$N" "$SHA" acme-contract > "$W/requests.json"
python3 - "$W/requests.json" "$TOTAL" <<'PY' > "$W/requests.txt"
import json, sys
d = json.load(open(sys.argv[1]))
for name, v in d.items():
    ok = v["p95"] < 100
    print(f"{'met   ' if ok else 'MISSED'}\t{name}\t{v['p50']:.1f}\t{v['p95']:.1f}\t{v['max']:.1f}\t{v['path']}")
PY
while IFS=$'\t' read -r verdict name p50 p95 max path; do
  echo "   $verdict $name ($path): p50 $p50 ms, p95 $p95 ms, max $max ms — target p95 < 100 ms"
  rec console "$name p95, $TOTAL audit records" ms "$p95" --target "< 100 ms p95 ($verdict; p50 $p50, max $max)"
done < "$W/requests.txt"

echo "== (b) $SSE SSE clients, one new seal use (sealbatch run --once on an approved document)"
rm -f "$W/sse-ready" "$W/sse-out.json"
$CLIENT sse "$URL" "$W/passwords" "$SSE" "$W/sse-ready" "$W/sse-out.json" & CLIENT_PID=$!
for _ in $(seq 1 600); do [ -s "$W/sse-ready" ] && break; sleep 0.1; done
echo "   $(cat "$W/sse-ready")"
sleep 1  # every stream past its first poll
mv "$W"/sse/inbox/sse-00001.pdf "$W/sse-hold.pdf"   # one document, one use
"$BIN" run "$W/sse.json" --once --no-progress >/dev/null || true
wait "$CLIENT_PID" || true; CLIENT_PID=""
python3 - "$W/sse-out.json" "$REG" "$SSE" <<'PY' > "$W/sse.txt"
import json, sqlite3, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[3])
db = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
lat = []
for got in d["received"]:
    if got:
        t, seq = got
        (ms,) = db.execute("SELECT time FROM audit WHERE seq = ?", (seq,)).fetchone()
        lat.append((t - ms / 1000) * 1000)
lat.sort()
missing = n - len(lat)
p95 = lat[max(0, int(round(0.95 * len(lat) + 0.4999)) - 1)] if lat else float("inf")
mx = max(lat) if lat else float("inf")
print(f"{len(lat)}\t{missing}\t{p95:.1f}\t{mx:.1f}\t{'met' if missing == 0 and mx < 1000 else 'MISSED'}")
PY
IFS=$'\t' read -r got missing p95 max verdict < "$W/sse.txt"
echo "   $verdict: $got of $SSE clients received the use ($missing did not); audit append -> receipt p95 $p95 ms, max $max ms — target all within 1000 ms"
rec console "SSE: $SSE clients, audit append -> receipt, max" ms "$max" --target "< 1000 ms, every client ($verdict; $got/$SSE received, p95 $p95 ms)"
stop_console

echo "== (c) $NBATCH-document batch: without the console, and with it + $WATCHERS SSE watchers; $ROUNDS rounds each"
: > "$W/batch.txt"
for r in $(seq 0 $((ROUNDS - 1))); do
  for mode in plain console; do
    name=$mode$r
    pipeline "$name" "$W/$name"
    if [ "$mode" = console ]; then
      start_console "$W/$name.json"
      rm -f "$W/watch-ready"
      $CLIENT watch "$URL" "$W/passwords" "$WATCHERS" "$W/watch-ready" & CLIENT_PID=$!
      for _ in $(seq 1 600); do [ -s "$W/watch-ready" ] && break; sleep 0.1; done
    fi
    sync
    "$BIN" run "$W/$name.json" --once --no-progress --summary-json "$W/$name-summary.json" >/dev/null || true
    [ "$mode" = console ] && stop_console
    python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], s['delivered'], s['delivered']/s['seconds'])" "$W/$name-summary.json" "$mode" | tee -a "$W/batch.txt"
  done
done
python3 - "$W/batch.txt" "$NBATCH" <<'PY' > "$W/batch-summary.txt"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
bad = [r for r in rows if int(r[1]) != n]
plain = [float(r[2]) for r in rows if r[0] == "plain"]
cons = [float(r[2]) for r in rows if r[0] == "console"]
# paired rounds (plain r, console r ran back to back): the median of the ratios
ratio = statistics.median(c / p for p, c in zip(plain, cons))
verdict = "met" if ratio >= 0.95 and not bad else "MISSED"
print(f"{min(plain):.2f}\t{statistics.median(plain):.2f}\t{max(plain):.2f}\t{min(cons):.2f}\t{statistics.median(cons):.2f}\t{max(cons):.2f}\t{ratio:.3f}\t{verdict}\t{len(bad)}")
PY
IFS=$'\t' read -r pmin pmed pmax cmin cmed cmax ratio verdict bad < "$W/batch-summary.txt"
echo "   without the console: min $pmin / median $pmed / max $pmax docs/s"
echo "   with the console + $WATCHERS watchers: min $cmin / median $cmed / max $cmax docs/s"
echo "   $verdict: ratio (median of paired rounds) $ratio — target >= 0.95$( [ "$bad" != 0 ] && echo "; $bad round(s) did not deliver all $NBATCH")"
rec console "$NBATCH-doc batch with console + $WATCHERS SSE watchers" "docs/s" "$cmed" "$pmed" "same batch without the console (median of $ROUNDS)" \
  --ratio "$ratio" --target ">= 0.95 x without ($verdict; with min/max $cmin/$cmax, without $pmin/$pmax)"
echo "console bench: $TOTAL audit records, binary $BIN"
