#ifndef SEALBATCH_CPKCS11_H
#define SEALBATCH_CPKCS11_H
/* PKCS#11 v2.40 types from p11-kit's header; the module itself is dlopen'ed at run time. */
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <dlfcn.h>
#include <stddef.h>

/* dlopen a PKCS#11 module and fetch its function list. Returns NULL and sets *err on failure. */
void *sb_p11_load(const char *path, CK_FUNCTION_LIST_PTR *out, const char **err);
void sb_p11_unload(void *handle);

/* C_Initialize with CKF_OS_LOCKING_OK (the module may be called from several threads). */
CK_RV sb_p11_initialize(CK_FUNCTION_LIST_PTR fl);

/* One-shot message digest through libcrypto. alg: 1 = SHA-1, 256, 384, 512. Returns the digest
 * length written to out (out must hold 64 bytes), or 0 on failure. */
size_t sb_digest(int alg, const unsigned char *data, size_t len, unsigned char *out);

/* Streaming digest state (opaque). */
void *sb_digest_new(int alg);
int sb_digest_update(void *ctx, const unsigned char *data, size_t len);
size_t sb_digest_final(void *ctx, unsigned char *out); /* frees ctx */

/* Overwrites memory in a way the compiler may not elide. */
void sb_zeroize(void *p, size_t len);

/* Verifies a signature over data with a DER SubjectPublicKeyInfo (for self-checks and tests).
 * kind: 1 = RSA PKCS#1 v1.5, 2 = RSA-PSS (salt = hash length), 3 = ECDSA (DER signature).
 * Returns 1 valid, 0 invalid, -1 error. */
int sb_verify(int kind, int alg, const unsigned char *spki, size_t spki_len,
              const unsigned char *data, size_t data_len,
              const unsigned char *sig, size_t sig_len);
#endif
