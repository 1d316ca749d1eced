#include "COpenSSL.h"

long sb_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
void sb_OPENSSL_free(void *p) { OPENSSL_free(p); }
int sb_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
X509 *sb_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
STACK_OF(X509) *sb_sk_X509_new_null(void) { return sk_X509_new_null(); }
int sb_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
void sb_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }
void sb_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }

/* ---- governance helpers (sb_gov_*; owned by Governance / DetachedSignature.swift) ---- */
int sb_gov_name_print(BIO *out, const X509_NAME *name) {
    return X509_NAME_print_ex(out, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
}
EVP_PKEY *sb_gov_ec_p256_keygen(void) { return EVP_EC_gen("P-256"); }
/* ---- end governance helpers ---- */
