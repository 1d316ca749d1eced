#!/usr/bin/env bash
# Test PKI for SigningTests (made with the openssl CLI, deterministic layout, fresh keys):
#   root (trust anchor) -> inter -> leaf (nonRepudiation+digitalSignature), leaf-expired, leaf-revoked
#   inter -> tsa (timeStamping, critical EKU), ocsp (OCSPSigning, ocsp-nocheck)
#   untrusted-root -> untrusted-leaf
#   inter -> leaf-eku-server (EKU serverAuth only), leaf-eku-tsa (EKU timeStamping only): not document signers
#            (issued last, so the serials of the certificates above do not change)
# CRL distribution points and OCSP URLs point at the loopback responder: $2 = base URL (http://127.0.0.1:PORT).
# Usage: make-pki.sh DIR BASEURL
set -euo pipefail
D=$1; BASE=$2
mkdir -p "$D"; cd "$D"
export OPENSSL_CONF=/dev/null
for ca in root inter untrusted; do
  mkdir -p db-$ca; : > db-$ca/index.txt; echo 1000 > db-$ca/serial; echo 1000 > db-$ca/crlnumber
done
cat > ca.cnf <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = \$dir/db-\${ENV::CANAME}/index.txt
serial = \$dir/db-\${ENV::CANAME}/serial
crlnumber = \$dir/db-\${ENV::CANAME}/crlnumber
new_certs_dir = \$dir/db-\${ENV::CANAME}
default_md = sha256
default_days = 3650
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
countryName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = x
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_inter ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/crl/root.crl
[ v3_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, nonRepudiation, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/crl/inter.crl
authorityInfoAccess = OCSP;URI:$BASE/ocsp
[ v3_leaf_eku_server ]
basicConstraints = critical, CA:false
keyUsage = critical, nonRepudiation, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/crl/inter.crl
authorityInfoAccess = OCSP;URI:$BASE/ocsp
[ v3_leaf_eku_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, nonRepudiation, digitalSignature
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/crl/inter.crl
authorityInfoAccess = OCSP;URI:$BASE/ocsp
[ v3_untrusted_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, nonRepudiation, digitalSignature
[ v3_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/crl/inter.crl
[ v3_ocsp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.crt
certs = ./tsa-chain.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
echo 01 > tsaserial

key() { openssl genpkey -algorithm "$1" ${2:+-pkeyopt $2} -out "$3" 2>/dev/null; }
key EC ec_paramgen_curve:P-256 root.key
key EC ec_paramgen_curve:P-256 inter.key
key EC ec_paramgen_curve:P-256 untrusted.key
key EC ec_paramgen_curve:P-256 tsa.key
key EC ec_paramgen_curve:P-256 ocsp.key
for l in leaf leaf-expired leaf-revoked untrusted-leaf; do key RSA rsa_keygen_bits:2048 $l.key; done
key EC ec_paramgen_curve:P-256 leaf-ec.key

selfsign() { # name CN
  CANAME=$1 openssl req -config ca.cnf -new -key $1.key -subj "$2" -out $1.csr
  CANAME=$1 openssl ca -batch -config ca.cnf -selfsign -keyfile $1.key -in $1.csr -out $1.crt -extensions v3_ca \
    -startdate 20200101000000Z -enddate 20450101000000Z -notext 2>/dev/null
}
issue() { # caname cakey cacert name subj ext [start end]
  CANAME=$1 openssl req -config ca.cnf -new -key $4.key -subj "$5" -out $4.csr
  CANAME=$1 openssl ca -batch -config ca.cnf -keyfile $2 -cert $3 -in $4.csr -out $4.crt -extensions $6 \
    -startdate ${7:-20240101000000Z} -enddate ${8:-20400101000000Z} -notext 2>/dev/null
}
selfsign root "/CN=Sealbatch Test Root/O=Sealbatch Test/C=CN"
selfsign untrusted "/CN=Untrusted Test Root/O=Elsewhere/C=CN"
issue root root.key root.crt inter "/CN=Sealbatch Test Intermediate/O=Sealbatch Test/C=CN" v3_inter 20200101000000Z 20440101000000Z
issue inter inter.key inter.crt leaf "/CN=Records Office Seal/O=Sealbatch Test City/C=CN" v3_leaf
issue inter inter.key inter.crt leaf-ec "/CN=Records Office Seal EC/O=Sealbatch Test City/C=CN" v3_leaf
issue inter inter.key inter.crt leaf-expired "/CN=Expired Seal/O=Sealbatch Test City/C=CN" v3_leaf 20200101000000Z 20210101000000Z
issue inter inter.key inter.crt leaf-revoked "/CN=Revoked Seal/O=Sealbatch Test City/C=CN" v3_leaf 20240101000000Z 20400101000000Z
issue inter inter.key inter.crt tsa "/CN=Sealbatch Test TSA/O=Sealbatch Test/C=CN" v3_tsa
issue inter inter.key inter.crt ocsp "/CN=Sealbatch Test OCSP/O=Sealbatch Test/C=CN" v3_ocsp
issue untrusted untrusted.key untrusted.crt untrusted-leaf "/CN=Impostor Seal/O=Elsewhere/C=CN" v3_untrusted_leaf
CANAME=inter openssl ca -batch -config ca.cnf -keyfile inter.key -cert inter.crt -revoke leaf-revoked.crt -crl_reason keyCompromise 2>/dev/null
mkdir -p crl
CANAME=inter openssl ca -batch -config ca.cnf -keyfile inter.key -cert inter.crt -gencrl -out crl/inter.pem 2>/dev/null
CANAME=root openssl ca -batch -config ca.cnf -keyfile root.key -cert root.crt -gencrl -out crl/root.pem 2>/dev/null
openssl crl -in crl/inter.pem -outform DER -out crl/inter.crl
openssl crl -in crl/root.pem -outform DER -out crl/root.crl
# Leaves whose EKU does not allow document signing (attack corpus, certificate-usage family); after the CRLs,
# so the CRLs and every certificate above stay as they were.
key EC ec_paramgen_curve:P-256 leaf-eku-server.key
key EC ec_paramgen_curve:P-256 leaf-eku-tsa.key
issue inter inter.key inter.crt leaf-eku-server "/CN=Server Auth Only Seal/O=Sealbatch Test City/C=CN" v3_leaf_eku_server
issue inter inter.key inter.crt leaf-eku-tsa "/CN=Time Stamping Only Seal/O=Sealbatch Test City/C=CN" v3_leaf_eku_tsa
cat inter.crt root.crt > chain.pem
cat tsa.crt inter.crt root.crt > tsa-chain.pem
# untrusted leaf: an untrusted-root chain
cat untrusted.crt > untrusted-chain.pem
openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile chain.pem -passout pass:test -out leaf.p12 2>/dev/null
echo "$BASE" > base-url
