#ifndef SEALBATCH_COPENSSL_H
#define SEALBATCH_COPENSSL_H
/* Thin shim over OpenSSL 3 libcrypto. Function-like macros do not import into Swift; wrap them here. */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/ts.h>
#include <openssl/ocsp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ec.h>
#include <openssl/bn.h>

long sb_BIO_get_mem_data(BIO *b, char **pp);
void sb_OPENSSL_free(void *p);
int sb_sk_X509_num(const STACK_OF(X509) *sk);
X509 *sb_sk_X509_value(const STACK_OF(X509) *sk, int i);
STACK_OF(X509) *sb_sk_X509_new_null(void);
int sb_sk_X509_push(STACK_OF(X509) *sk, X509 *x);
void sb_sk_X509_pop_free(STACK_OF(X509) *sk);
void sb_sk_X509_free(STACK_OF(X509) *sk);

/* ---- governance helpers (sb_gov_*; owned by Governance / DetachedSignature.swift) ---- */
/* Prints an X509_NAME as an RFC 2253 string keeping UTF-8 (no \\UXXXX escapes). */
int sb_gov_name_print(BIO *out, const X509_NAME *name);
/* Generates a fresh EC P-256 key (EVP_EC_gen is a macro over a variadic function). */
EVP_PKEY *sb_gov_ec_p256_keygen(void);
/* ---- end governance helpers ---- */
/* ---- Signing helpers (owned by Sources/Signing) ---- */
#include <openssl/x509_vfy.h>
int sb_sk_X509_CRL_num(const STACK_OF(X509_CRL) *sk);
X509_CRL *sb_sk_X509_CRL_value(const STACK_OF(X509_CRL) *sk, int i);
STACK_OF(X509_CRL) *sb_sk_X509_CRL_new_null(void);
int sb_sk_X509_CRL_push(STACK_OF(X509_CRL) *sk, X509_CRL *x);
void sb_sk_X509_CRL_pop_free(STACK_OF(X509_CRL) *sk);
int sb_sk_CMS_SignerInfo_num(STACK_OF(CMS_SignerInfo) *sk);
CMS_SignerInfo *sb_sk_CMS_SignerInfo_value(STACK_OF(CMS_SignerInfo) *sk, int i);
/** DER of a SignerInfo's signed attributes as the SET OF that is signed (RFC 5652 §5.4). Caller frees with sb_OPENSSL_free. */
int sb_cms_signed_attrs_der(CMS_SignerInfo *si, unsigned char **out);
/** Starts a detached SignedData with one signer (no signature yet). */
CMS_ContentInfo *sb_cms_start(X509 *signer, STACK_OF(X509) *extra, const EVP_MD *md, int cades, CMS_SignerInfo **si_out);
/* Like sb_cms_start but puts no certificates in the SignedData (add them later with sb_cms_add_certs,
   after a DER round trip, so the round trip does not parse them again). */
CMS_ContentInfo *sb_cms_start_nocerts(X509 *signer, const EVP_MD *md, int cades, CMS_SignerInfo **si_out);
/* Adds the signer and extra certificates to the SignedData and sets the signer's certificate. */
int sb_cms_add_certs(CMS_ContentInfo *cms, CMS_SignerInfo *si, X509 *signer, STACK_OF(X509) *extra);
/** Sets the SignerInfo signature value. */
int sb_cms_set_signature(CMS_SignerInfo *si, const unsigned char *sig, int len);
/** Raw DER bytes of an ASN1_STRING (caller does not free). */
const unsigned char *sb_asn1_string_data(const ASN1_STRING *s, int *len);
/** Adds a signed attribute whose value is the given DER (any type). */
int sb_cms_add_signed_attr_der(CMS_SignerInfo *si, const char *oid, const unsigned char *der, int len);
/** Adds an unsigned attribute whose value is the given DER (e.g. a time-stamp token SEQUENCE). */
int sb_cms_add_unsigned_attr_der(CMS_SignerInfo *si, const char *oid, const unsigned char *der, int len);
/** DER of the first value of a signed (signed=1) or unsigned attribute with the OID, or NULL. Caller frees. */
int sb_cms_attr_der(CMS_SignerInfo *si, int signed_attrs, const char *oid, unsigned char **out);
/** Number of signed attributes with the OID. */
int sb_cms_signed_attr_count(CMS_SignerInfo *si, const char *oid);
/** Dotted OIDs of digest and signature algorithm of a SignerInfo. */
int sb_cms_signer_algs(CMS_SignerInfo *si, char *dig, int diglen, char *sig, int siglen);
/** Dotted OID of an X509_ALGOR-like object. */
int sb_obj_txt(const ASN1_OBJECT *o, char *buf, int len);
/** Path validation: 0 ok, else X509_V_ERR code; depth of the failing cert in *depth; chain (leaf first) DER-less stack in *chain_out (caller pop_frees). */
int sb_verify_path(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, STACK_OF(X509_CRL) *crls,
                   int check_crl, long long at_time, int purpose, int *depth, STACK_OF(X509) **chain_out);
/** ECDSA raw r||s to DER. */
int sb_ecdsa_raw_to_der(const unsigned char *raw, int rawlen, unsigned char **out);
/** Time of an ASN1_TIME as seconds since epoch; 0 on error. */
long long sb_asn1_time_to_unix(const ASN1_TIME *t);
int sb_err_string(char *buf, int len);
/** RFC 3161 TimeStampReq for a SHA-256 digest with a nonce, certReq true. */
int sb_ts_request(const unsigned char *digest, int dlen, const unsigned char *nonce, int nlen, unsigned char **out);
/** Checks a TimeStampResp: status granted, imprint = digest (SHA-256), nonce equal. Returns 0 ok, 1 not granted,
    2 imprint mismatch, 3 nonce mismatch, 4 unparsable. Token DER (ContentInfo) in *token_out (caller frees). */
int sb_ts_response_check(const unsigned char *resp, int len, const unsigned char *digest, int dlen,
                         const unsigned char *nonce, int nlen, unsigned char **token_out, int *token_len,
                         long long *gentime);
/** Reads a time-stamp token (ContentInfo DER): verifies its CMS signature over TSTInfo (not the path);
    returns 0 ok, 1 signature invalid, 2 unparsable. Imprint digest OID text, imprint, gen time, signer cert. */
int sb_tst_inspect(const unsigned char *der, int len, char *imprint_oid, int oidlen, unsigned char *imprint,
                   int *imprint_len, long long *gentime, X509 **signer_out, STACK_OF(X509) **certs_out);
/** OCSP request for cert issued by issuer (SHA-1 CertID, as responders expect). */
int sb_ocsp_request(X509 *cert, X509 *issuer, unsigned char **out);
/** Evaluates an OCSP response for cert: returns -1 unparsable/unsuccessful, -2 signature/responder invalid,
    -3 no status for cert, else V_OCSP_CERTSTATUS_GOOD(0)/REVOKED(1)/UNKNOWN(2); revocation and thisUpdate times. */
int sb_ocsp_check(const unsigned char *resp, int len, X509 *cert, X509 *issuer, STACK_OF(X509) *anchors,
                  long long *revtime, long long *this_update, long long *produced_at);
/** Basic OCSP response DER inside an OCSPResponse (for the DSS /OCSPs streams use the full OCSPResponse). */
/** First URL of a cert's CRL distribution points / OCSP AIA; returns length or 0. */
int sb_crl_url(X509 *cert, char *buf, int len);
int sb_ocsp_url(X509 *cert, char *buf, int len);
/** Key usage bits (X509_get_key_usage) and extended key usage flags. */
unsigned int sb_key_usage(X509 *cert);
unsigned int sb_ext_key_usage(X509 *cert);
/** Dotted OIDs of the extended key usage extension, space-separated, into buf; returns the length,
    -1 when the certificate has no such extension, -2 when it is present but cannot be decoded. */
int sb_ext_key_usage_oids(X509 *cert, char *buf, int len);
/** Subject/issuer attribute by NID as UTF-8 text; returns length or -1. */
int sb_name_entry(X509_NAME *name, int nid, char *buf, int len);
/** Serial number as hex text. */
int sb_serial_hex(X509 *cert, char *buf, int len);
long long sb_cert_not_before(X509 *cert);
long long sb_cert_not_after(X509 *cert);
/** 1 when subject == issuer and self-signed. */
int sb_is_self_signed(X509 *cert);
/** DER of the SignerInfo digest (which=0) or signature (which=1) AlgorithmIdentifier. */
int sb_cms_signer_alg_der(CMS_SignerInfo *si, int which, unsigned char **out);
/** DER of the SignerInfo signature value bytes (borrowed). */
const unsigned char *sb_cms_signature_bytes(CMS_SignerInfo *si, int *len);
/** Verifies the SignerInfo signature over its signed attributes with the given cert: 1 ok, 0 bad, -1 error. */
int sb_cms_verify_signer(CMS_SignerInfo *si, X509 *cert);
unsigned long sb_xn_flag_rfc2253(void);
/** CRL status for cert: -1 CRL not by issuer or bad CRL signature, 0 not listed, 1 revoked (time in *revtime).
    *next_update / *this_update receive the CRL's update times. */
int sb_crl_status(X509_CRL *crl, X509 *cert, X509 *issuer, long long *revtime, long long *this_update, long long *next_update);
/** Parses CMS ContentInfo DER; returns NULL when not SignedData. */
CMS_ContentInfo *sb_cms_parse(const unsigned char *der, long len);
/** First SignerInfo or NULL. */
CMS_SignerInfo *sb_cms_first_signer(CMS_ContentInfo *cms);
int sb_key_bits(X509 *cert);
/** Certificates inside an OCSP response's BasicOCSPResponse (DER each, via callback-free stack). */
STACK_OF(X509) *sb_ocsp_certs(const unsigned char *resp, int len);
#endif
