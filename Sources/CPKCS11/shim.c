#include "CPKCS11.h"
#include <stddef.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>

void *sb_p11_load(const char *path, CK_FUNCTION_LIST_PTR *out, const char **err) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { if (err) *err = dlerror(); return NULL; }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (!get) { if (err) *err = "module has no C_GetFunctionList"; dlclose(h); return NULL; }
    if (get(out) != CKR_OK || *out == NULL) { if (err) *err = "C_GetFunctionList failed"; dlclose(h); return NULL; }
    return h;
}
void sb_p11_unload(void *handle) { if (handle) dlclose(handle); }

CK_RV sb_p11_initialize(CK_FUNCTION_LIST_PTR fl) {
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    return fl->C_Initialize(&args);
}

static const EVP_MD *md_for(int alg) {
    switch (alg) {
    case 1: return EVP_sha1();
    case 256: return EVP_sha256();
    case 384: return EVP_sha384();
    case 512: return EVP_sha512();
    default: return NULL;
    }
}

size_t sb_digest(int alg, const unsigned char *data, size_t len, unsigned char *out) {
    const EVP_MD *md = md_for(alg);
    unsigned int n = 0;
    if (!md) return 0;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1) return 0;
    return n;
}

void *sb_digest_new(int alg) {
    const EVP_MD *md = md_for(alg);
    if (!md) return NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    return ctx;
}
int sb_digest_update(void *ctx, const unsigned char *data, size_t len) {
    return EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len) == 1;
}
size_t sb_digest_final(void *ctx, unsigned char *out) {
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)ctx, out, &n);
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
    return ok == 1 ? n : 0;
}

void sb_zeroize(void *p, size_t len) {
    if (p && len) OPENSSL_cleanse(p, len);
}

int sb_verify(int kind, int alg, const unsigned char *spki, size_t spki_len,
              const unsigned char *data, size_t data_len,
              const unsigned char *sig, size_t sig_len) {
    const unsigned char *p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    const EVP_MD *md = md_for(alg);
    int rc = -1;
    if (!key || !md) { EVP_PKEY_free(key); return -1; }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (ctx && EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) == 1) {
        int ok = 1;
        if (kind == 2) {
            ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
        }
        if (ok) {
            int v = EVP_DigestVerify(ctx, sig, sig_len, data, data_len);
            rc = v == 1 ? 1 : (v == 0 ? 0 : 0);
        }
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}
