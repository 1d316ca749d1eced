#!/usr/bin/env bash
# Governance figures (release build): approval admission throughput, approval creation, audit verification
# rate, audit append rate under the CLI, password (scrypt) login latency. Appends to bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SEALBATCH_BIN:-$PWD/.build/release/sealbatch}
[ -x "$BIN" ] || { echo "no $BIN: run swift build -c release first" >&2; exit 2; }
N=${GOV_BENCH_DOCS:-500}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"
now() { echo "$EPOCHREALTIME"; }  # no interpreter start inside the interval
rec() { python3 "$OLDPWD/scripts/bench-record.py" "$@"; }
PASS=bench-pass
# throwaway PKI (openssl CLI); passwords only for these test files
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=bench CA" 2>/dev/null
for u in root sys sadmin boss clerk seal; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $u.key -out $u.csr -subj "/CN=$u" 2>/dev/null
  openssl x509 -req -in $u.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $u.crt -days 30 2>/dev/null
  openssl pkcs12 -export -inkey $u.key -in $u.crt -out $u.p12 -passout file:<(echo $PASS)
done
R="--registry $T/reg.sqlite"
as() { echo "--as $1 --key $T/$1.p12 --key-password-fd 0"; }
sb() { echo $PASS | "$BIN" "$@" $R >/dev/null; }
sb org init --user root --key root.p12 --key-password-fd 0
sb org create acme $(as root)
sb user add sys --org acme --cert sys.crt $(as root); sb user grant sys --role system-admin --org acme $(as root)
sb user add sadmin --org acme --cert sadmin.crt $(as sys); sb user grant sadmin --role seal-admin --org acme $(as sys)
sb user add clerk --org acme --cert clerk.crt $(as sys); sb user grant clerk --role seal-user --org acme $(as sys)
sb user add boss --org acme --cert boss.crt $(as sys)
sb seal register S --name S --kind contract --org acme --cert seal.crt --token-uri "pkcs11:token=t;object=S" $(as sadmin)
sb seal grant S --user boss --right approve $(as sadmin); sb seal grant S --user clerk --right use $(as sadmin)
mkdir docs
python3 - "$N" <<'PY'
import sys, os
for i in range(int(sys.argv[1])):
    body = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n% doc " + str(i).encode() + b" " + os.urandom(2000).hex().encode() + b"\n%%EOF\n"
    open(f"docs/d{i:05}.pdf", "wb").write(body)
PY
t0=$(now); sb approve docs/*.pdf --seal S --requester clerk --purpose bench -o m.json $(as boss); t1=$(now)
rec governance approve-docs-per-s docs/s "$(python3 -c "print(round($N/($t1-$t0),1))")" --target "$N documents in one manifest"
t0=$(now); "$BIN" approvals check docs/*.pdf --seal S --user clerk --approval m.json $R >/dev/null; t1=$(now)
rec governance admission-checks-per-s docs/s "$(python3 -c "print(round($N/($t1-$t0),1))")" --target "each: manifest CMS verify + rights + audit record"
for i in 1 2 3; do "$BIN" approvals check docs/*.pdf --seal S --user clerk --approval m.json $R >/dev/null; done
RECS=$(sqlite3 reg.sqlite "SELECT count(*) FROM audit")
# process start-up and opening the registry, measured on a command that reads almost nothing
t0=$(now); for i in 1 2 3; do "$BIN" org list $R >/dev/null; done; t1=$(now)
startup=$(python3 -c "print(($t1-$t0)/3)")
t0=$(now); "$BIN" audit verify $R >/dev/null; t1=$(now)
rec governance audit-verify-records-per-s records/s "$(python3 -c "print(round($RECS/max(0.001, $t1-$t0-$startup)))")" --target "$RECS records, hash chain + checkpoints, start-up excluded"
"$BIN" org init --user x --new-password-fd 0 --registry "$T/pw.sqlite" >/dev/null <<<"long password 1"
t0=$(now); for i in 1 2 3 4 5; do "$BIN" org list --registry "$T/pw.sqlite" >/dev/null; done; t1=$(now)
base=$(python3 -c "print(($t1-$t0)/5)")
t0=$(now); for i in 1 2 3 4 5; do "$BIN" audit query --as x --password-fd 0 --registry "$T/pw.sqlite" >/dev/null <<<"long password 1"; done; t1=$(now)
rec governance password-login-ms ms "$(python3 -c "print(round((($t1-$t0)/5-$base)*1000,1))")" --target "scrypt N=2^15 r=8 p=1, over a no-login command"
echo "governance bench: $N docs, $RECS audit records"
