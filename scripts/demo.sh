#!/usr/bin/env bash
# make demo: on a fresh clone, build, create a DEVELOPMENT token (SoftHSM2 + DEV-ONLY CA), a demo
# organisation with one user per role, sample approvals, then run pipelines/demo.json once on samples/
# and say where to look. Nothing here is fit for real documents.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
if [ -z "${SEALBATCH_BIN:-}" ]; then
  swift build -c release
  SEALBATCH_BIN=$(swift build -c release --show-bin-path)/sealbatch
fi
BIN=$SEALBATCH_BIN
OUT=${DEMO_OUT:-demo-out}        # bench/pipeline.sh reuses the setup with DEMO_OUT and DEMO_SETUP_ONLY=1
REG=$OUT/registry.sqlite
rm -rf "$OUT"
mkdir -p "$OUT"/{inbox,approvals,keys,token}
umask 077

echo "== 1/5 development token (SoftHSM2, DEV-ONLY certificate)"
od -An -N4 -tu4 /dev/urandom | tr -d ' \n' > "$OUT/token/pin.txt"; echo >> "$OUT/token/pin.txt"
"$BIN" token init-dev --dir "$OUT/token" --label sealbatch-demo --pin-file "$OUT/token/pin.txt" >/dev/null
SEAL_CERT=$(ls "$OUT"/token/sealbatch-demo-*.DEV-ONLY.crt | head -1)

echo "== 2/5 demo organisation: platform admin, system admin, seal admin, approver, seal user"
KEYPASS=demo-only-password
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/keys/ca.key" -out "$OUT/keys/ca.crt" \
  -days 30 -subj "/O=ACME Demo/CN=ACME Demo Users CA (DEV-ONLY)" 2>/dev/null
for u in root sys sadmin boss clerk; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/keys/$u.key" -out "$OUT/keys/$u.csr" \
    -subj "/O=ACME Demo/CN=$u" 2>/dev/null
  openssl x509 -req -in "$OUT/keys/$u.csr" -CA "$OUT/keys/ca.crt" -CAkey "$OUT/keys/ca.key" -CAcreateserial \
    -out "$OUT/keys/$u.crt" -days 30 2>/dev/null
  openssl pkcs12 -export -inkey "$OUT/keys/$u.key" -in "$OUT/keys/$u.crt" -certfile "$OUT/keys/ca.crt" \
    -out "$OUT/keys/$u.p12" -passout "pass:$KEYPASS" -name "$u"
done
as() { echo "--as $1 --key $OUT/keys/$1.p12 --key-password-fd 0 --registry $REG"; }
sb() { echo "$KEYPASS" | "$BIN" "$@" >/dev/null; }
sb org init --user root --name "Platform Root" --key "$OUT/keys/root.p12" --key-password-fd 0 --registry "$REG"
sb org create acme --name "ACME 演示有限公司" $(as root)
sb user add sys --org acme --cert "$OUT/keys/sys.crt" $(as root)
sb user grant sys --role system-admin --org acme $(as root)
for u in sadmin boss clerk; do sb user add $u --org acme --cert "$OUT/keys/$u.crt" $(as sys); done
sb user grant sadmin --role seal-admin --org acme $(as sys)
sb user grant clerk --role seal-user --org acme $(as sys)
# The seal's design lives in the registry (checked at registration); pipelines name only the seal id.
cat > "$OUT/seal-design.json" <<'JSON'
{"kind": "round", "organisation": "ACME 演示有限公司", "name": "合同专用章", "code": "DEMO-ONLY", "diameter-mm": 40}
JSON
sb seal register acme-contract --name "ACME 合同专用章" --kind contract --org acme --cert "$SEAL_CERT" \
   --token-uri "pkcs11:token=sealbatch-demo;object=seal;type=private" --design "$OUT/seal-design.json" $(as sadmin)
sb seal grant acme-contract --user boss --right approve $(as sadmin)
sb seal grant acme-contract --user clerk --right use $(as sadmin)

if [ "${DEMO_SETUP_ONLY:-}" = 1 ]; then exit 0; fi

# Local-account passwords for the web console (`sealbatch serve`): each demo user sets their own.
for u in root sys sadmin boss clerk; do
  printf '%s\n' "$KEYPASS" | "$BIN" user credentials "$u" --set-password --new-password-fd 3 $(as "$u") 3<<<"demo-$u-pw" >/dev/null
done

echo "== 3/5 sample approvals: boss approves the samples for clerk"
sb approve samples/*.pdf --seal acme-contract --requester clerk --purpose "demo contracts" --valid-until +2d \
   -o "$OUT/approvals/samples.json" $(as boss)
cp samples/*.pdf "$OUT/inbox/"
# One document nobody approved, to show quarantine:
cp samples/contract-en-libreoffice.pdf "$OUT/inbox/unapproved-copy.pdf"
printf '\n%% edited after approval\n' >> "$OUT/inbox/unapproved-copy.pdf"

echo "== 4/5 running pipelines/demo.json once"
set +e
"$BIN" run pipelines/demo.json --once
rc=$?
set -e

echo "== 5/5 where to look"
cat <<TXT
  sealed documents:     $OUT/outbox/
  quarantine (+reason): $OUT/quarantine/   (unapproved-copy.pdf is there on purpose)
  archive + receipts:   $OUT/archive/YYYY/MM/DD/<id>-<name>/{original.pdf,sealed.pdf,receipt.json}
  morning report:       $BIN report pipelines/demo.json --since 1h
  audit trail:          $BIN audit query --registry $REG --as sadmin --key $OUT/keys/sadmin.p12   (password: $KEYPASS)
  verify a result:      $BIN verify --trust $OUT/token/DEV-ONLY-root-ca.crt $OUT/outbox/*.pdf
  run as a daemon:      $BIN run pipelines/demo.json   (then copy PDFs into $OUT/inbox/; metrics on http://127.0.0.1:9464/metrics)
(exit code of the run: $rc — 1 means some documents were quarantined, as intended here)

web console (append --listen HOST:PORT to choose the address; default 127.0.0.1:8443, plain HTTP on loopback):
$BIN serve --registry $REG --pipeline pipelines/demo.json --trust $OUT/token/DEV-ONLY-root-ca.crt
console logins (DEV-ONLY passwords):
  root   / demo-root-pw    platform administrator
  sys    / demo-sys-pw     system administrator
  sadmin / demo-sadmin-pw  official-seal administrator
  boss   / demo-boss-pw    approver (signs approvals offline: $BIN approve FILE --seal acme-contract --requester clerk --purpose … $(as boss) -o m.json)
  clerk  / demo-clerk-pw   official-seal user
TXT
