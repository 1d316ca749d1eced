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
#endif
