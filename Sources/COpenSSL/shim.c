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
/* ---- Signing helpers ---- */
#include <openssl/asn1t.h>
#include <string.h>

int sb_sk_X509_CRL_num(const STACK_OF(X509_CRL) *sk) { return sk_X509_CRL_num(sk); }
X509_CRL *sb_sk_X509_CRL_value(const STACK_OF(X509_CRL) *sk, int i) { return sk_X509_CRL_value(sk, i); }
STACK_OF(X509_CRL) *sb_sk_X509_CRL_new_null(void) { return sk_X509_CRL_new_null(); }
int sb_sk_X509_CRL_push(STACK_OF(X509_CRL) *sk, X509_CRL *x) { return sk_X509_CRL_push(sk, x); }
void sb_sk_X509_CRL_pop_free(STACK_OF(X509_CRL) *sk) { sk_X509_CRL_pop_free(sk, X509_CRL_free); }
int sb_sk_CMS_SignerInfo_num(STACK_OF(CMS_SignerInfo) *sk) { return sk_CMS_SignerInfo_num(sk); }
CMS_SignerInfo *sb_sk_CMS_SignerInfo_value(STACK_OF(CMS_SignerInfo) *sk, int i) { return sk_CMS_SignerInfo_value(sk, i); }

typedef STACK_OF(X509_ATTRIBUTE) SB_ATTRS;
ASN1_ITEM_TEMPLATE(SB_ATTRS) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0, SB_ATTRS, X509_ATTRIBUTE)
ASN1_ITEM_TEMPLATE_END(SB_ATTRS)

int sb_cms_signed_attrs_der(CMS_SignerInfo *si, unsigned char **out) {
    int n = CMS_signed_get_attr_count(si);
    if (n <= 0) return -1;
    STACK_OF(X509_ATTRIBUTE) *sk = sk_X509_ATTRIBUTE_new_null();
    for (int i = 0; i < n; i++) sk_X509_ATTRIBUTE_push(sk, CMS_signed_get_attr(si, i));
    *out = NULL;
    int len = ASN1_item_i2d((ASN1_VALUE *)sk, out, ASN1_ITEM_rptr(SB_ATTRS));
    sk_X509_ATTRIBUTE_free(sk);
    return len;
}

CMS_ContentInfo *sb_cms_start(X509 *signer, STACK_OF(X509) *extra, const EVP_MD *md, int cades, CMS_SignerInfo **si_out) {
    unsigned int flags = CMS_DETACHED | CMS_PARTIAL | CMS_BINARY;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, extra, NULL, flags);
    if (!cms) return NULL;
    EVP_PKEY *pub = X509_get0_pubkey(signer);
    unsigned int sflags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | (cades ? CMS_CADES : 0);
    CMS_SignerInfo *si = CMS_add1_signer(cms, signer, pub, md, sflags);
    if (!si) { CMS_ContentInfo_free(cms); return NULL; }
    *si_out = si;
    return cms;
}

CMS_ContentInfo *sb_cms_start_nocerts(X509 *signer, const EVP_MD *md, int cades, CMS_SignerInfo **si_out) {
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_DETACHED | CMS_PARTIAL | CMS_BINARY);
    if (!cms) return NULL;
    EVP_PKEY *pub = X509_get0_pubkey(signer);
    unsigned int sflags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOCERTS | (cades ? CMS_CADES : 0);
    CMS_SignerInfo *si = CMS_add1_signer(cms, signer, pub, md, sflags);
    if (!si) { CMS_ContentInfo_free(cms); return NULL; }
    *si_out = si;
    return cms;
}

int sb_cms_add_certs(CMS_ContentInfo *cms, CMS_SignerInfo *si, X509 *signer, STACK_OF(X509) *extra) {
    if (!CMS_add1_cert(cms, signer)) return 0;
    for (int i = 0; extra && i < sk_X509_num(extra); i++) {
        if (!CMS_add1_cert(cms, sk_X509_value(extra, i))) return 0;
    }
    CMS_SignerInfo_set1_signer_cert(si, signer);
    return 1;
}

int sb_cms_set_signature(CMS_SignerInfo *si, const unsigned char *sig, int len) {
    ASN1_OCTET_STRING *os = CMS_SignerInfo_get0_signature(si);
    return ASN1_STRING_set(os, sig, len);
}

const unsigned char *sb_asn1_string_data(const ASN1_STRING *s, int *len) {
    *len = ASN1_STRING_length(s);
    return ASN1_STRING_get0_data(s);
}

static ASN1_TYPE *sb_type_from_der(const unsigned char *der, int len) {
    const unsigned char *p = der;
    return d2i_ASN1_TYPE(NULL, &p, len);
}

static int sb_add_attr(CMS_SignerInfo *si, int signed_attrs, const char *oid, const unsigned char *der, int len) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj) return 0;
    ASN1_TYPE *t = sb_type_from_der(der, len);
    if (!t) { ASN1_OBJECT_free(obj); return 0; }
    X509_ATTRIBUTE *a = X509_ATTRIBUTE_create_by_OBJ(NULL, obj, 0, NULL, -1);
    int ok = 0;
    if (a) {
        /* set1 with the ASN1_TYPE's own type and value */
        int type = ASN1_TYPE_get(t);
        void *val = (type == V_ASN1_OBJECT || type == V_ASN1_BOOLEAN || type == V_ASN1_NULL) ? (void *)t->value.ptr : (void *)t->value.asn1_string;
        if (type == V_ASN1_SEQUENCE || type == V_ASN1_SET) {
            ok = X509_ATTRIBUTE_set1_data(a, type, ASN1_STRING_get0_data(t->value.asn1_string), ASN1_STRING_length(t->value.asn1_string));
        } else if (type == V_ASN1_OBJECT) {
            ok = X509_ATTRIBUTE_set1_data(a, type, val, -1);
        } else {
            ok = X509_ATTRIBUTE_set1_data(a, type, ASN1_STRING_get0_data(t->value.asn1_string), ASN1_STRING_length(t->value.asn1_string));
        }
        if (ok) ok = signed_attrs ? CMS_signed_add1_attr(si, a) : CMS_unsigned_add1_attr(si, a);
        X509_ATTRIBUTE_free(a);
    }
    ASN1_TYPE_free(t);
    ASN1_OBJECT_free(obj);
    return ok;
}

int sb_cms_add_signed_attr_der(CMS_SignerInfo *si, const char *oid, const unsigned char *der, int len) {
    return sb_add_attr(si, 1, oid, der, len);
}
int sb_cms_add_unsigned_attr_der(CMS_SignerInfo *si, const char *oid, const unsigned char *der, int len) {
    return sb_add_attr(si, 0, oid, der, len);
}

int sb_cms_attr_der(CMS_SignerInfo *si, int signed_attrs, const char *oid, unsigned char **out) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj) return -1;
    int loc = signed_attrs ? CMS_signed_get_attr_by_OBJ(si, obj, -1) : CMS_unsigned_get_attr_by_OBJ(si, obj, -1);
    ASN1_OBJECT_free(obj);
    if (loc < 0) return -1;
    X509_ATTRIBUTE *a = signed_attrs ? CMS_signed_get_attr(si, loc) : CMS_unsigned_get_attr(si, loc);
    if (!a || X509_ATTRIBUTE_count(a) < 1) return -1;
    ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(a, 0);
    if (!t) return -1;
    *out = NULL;
    return i2d_ASN1_TYPE(t, out);
}

int sb_cms_signed_attr_count(CMS_SignerInfo *si, const char *oid) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj) return 0;
    int n = 0, loc = -1;
    while ((loc = CMS_signed_get_attr_by_OBJ(si, obj, loc)) >= 0) n++;
    ASN1_OBJECT_free(obj);
    return n;
}

int sb_obj_txt(const ASN1_OBJECT *o, char *buf, int len) { return OBJ_obj2txt(buf, len, o, 1); }

int sb_cms_signer_algs(CMS_SignerInfo *si, char *dig, int diglen, char *sig, int siglen) {
    X509_ALGOR *pdig = NULL, *psig = NULL;
    CMS_SignerInfo_get0_algs(si, NULL, NULL, &pdig, &psig);
    const ASN1_OBJECT *o = NULL;
    dig[0] = 0; sig[0] = 0;
    if (pdig) { X509_ALGOR_get0(&o, NULL, NULL, pdig); if (o) OBJ_obj2txt(dig, diglen, o, 1); }
    if (psig) { X509_ALGOR_get0(&o, NULL, NULL, psig); if (o) OBJ_obj2txt(sig, siglen, o, 1); }
    return 1;
}

int sb_verify_path(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, STACK_OF(X509_CRL) *crls,
                   int check_crl, long long at_time, int purpose, int *depth, STACK_OF(X509) **chain_out) {
    X509_STORE *store = X509_STORE_new();
    for (int i = 0; i < sk_X509_num(anchors); i++) X509_STORE_add_cert(store, sk_X509_value(anchors, i));
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;
    if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) goto done;
    if (crls) X509_STORE_CTX_set0_crls(ctx, crls);
    unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN * 0;
    if (check_crl) flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    if (at_time > 0) X509_STORE_CTX_set_time(ctx, 0, (time_t)at_time);
    X509_STORE_CTX_set_flags(ctx, flags);
    if (purpose > 0) X509_STORE_CTX_set_purpose(ctx, purpose);
    int ok = X509_verify_cert(ctx);
    rc = ok == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
    if (rc == 0 && ok != 1) rc = -1;
    if (depth) *depth = X509_STORE_CTX_get_error_depth(ctx);
    if (chain_out) *chain_out = X509_STORE_CTX_get1_chain(ctx);
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int sb_ecdsa_raw_to_der(const unsigned char *raw, int rawlen, unsigned char **out) {
    if (rawlen <= 0 || rawlen % 2) return -1;
    int n = rawlen / 2;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, n, NULL), *s = BN_bin2bn(raw + n, n, NULL);
    ECDSA_SIG_set0(sig, r, s);
    *out = NULL;
    int len = i2d_ECDSA_SIG(sig, out);
    ECDSA_SIG_free(sig);
    return len;
}

long long sb_asn1_time_to_unix(const ASN1_TIME *t) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    int64_t secs = 0;
    /* timegm equivalent */
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
    if (m <= 2) { y--; m += 12; }
    int64_t days = 365LL * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + tm.tm_mday - 719469;
    secs = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return secs;
}

int sb_err_string(char *buf, int len) {
    unsigned long e = ERR_get_error();
    if (!e) { buf[0] = 0; return 0; }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return 1;
}

int sb_ts_request(const unsigned char *digest, int dlen, const unsigned char *nonce, int nlen, unsigned char **out) {
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
    TS_MSG_IMPRINT_set_algo(mi, alg);
    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, dlen);
    TS_REQ_set_version(req, 1);
    TS_REQ_set_msg_imprint(req, mi);
    BIGNUM *bn = BN_bin2bn(nonce, nlen, NULL);
    ASN1_INTEGER *n = BN_to_ASN1_INTEGER(bn, NULL);
    TS_REQ_set_nonce(req, n);
    TS_REQ_set_cert_req(req, 1);
    *out = NULL;
    int len = i2d_TS_REQ(req, out);
    ASN1_INTEGER_free(n); BN_free(bn); X509_ALGOR_free(alg); TS_MSG_IMPRINT_free(mi); TS_REQ_free(req);
    return len;
}

static int sb_tst_matches(TS_TST_INFO *tst, const unsigned char *digest, int dlen, const unsigned char *nonce, int nlen, long long *gentime) {
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    ASN1_OCTET_STRING *msg = TS_MSG_IMPRINT_get_msg(mi);
    X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(mi);
    const ASN1_OBJECT *o = NULL; X509_ALGOR_get0(&o, NULL, NULL, alg);
    if (OBJ_obj2nid(o) != NID_sha256 || ASN1_STRING_length(msg) != dlen || memcmp(ASN1_STRING_get0_data(msg), digest, dlen) != 0) return 2;
    if (nonce) {
        const ASN1_INTEGER *n = TS_TST_INFO_get_nonce(tst);
        if (!n) return 3;
        BIGNUM *a = ASN1_INTEGER_to_BN(n, NULL), *b = BN_bin2bn(nonce, nlen, NULL);
        int c = BN_cmp(a, b); BN_free(a); BN_free(b);
        if (c != 0) return 3;
    }
    if (gentime) *gentime = sb_asn1_time_to_unix(TS_TST_INFO_get_time(tst));
    return 0;
}

int sb_ts_response_check(const unsigned char *resp, int len, const unsigned char *digest, int dlen,
                         const unsigned char *nonce, int nlen, unsigned char **token_out, int *token_len,
                         long long *gentime) {
    const unsigned char *p = resp;
    TS_RESP *r = d2i_TS_RESP(NULL, &p, len);
    if (!r) return 4;
    TS_STATUS_INFO *st = TS_RESP_get_status_info(r);
    long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(st));
    if (status != 0 && status != 1) { TS_RESP_free(r); return 1; }
    TS_TST_INFO *tst = TS_RESP_get_tst_info(r);
    PKCS7 *tok = TS_RESP_get_token(r);
    if (!tst || !tok) { TS_RESP_free(r); return 4; }
    int rc = sb_tst_matches(tst, digest, dlen, nonce, nlen, gentime);
    if (rc == 0) { *token_out = NULL; *token_len = i2d_PKCS7(tok, token_out); }
    TS_RESP_free(r);
    return rc;
}

int sb_tst_inspect(const unsigned char *der, int len, char *imprint_oid, int oidlen, unsigned char *imprint,
                   int *imprint_len, long long *gentime, X509 **signer_out, STACK_OF(X509) **certs_out) {
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, len);
    if (!cms) return 2;
    int rc = 2;
    if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_id_smime_ct_TSTInfo) goto done;
    ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
    if (!pos || !*pos) goto done;
    const unsigned char *q = ASN1_STRING_get0_data(*pos);
    TS_TST_INFO *tst = d2i_TS_TST_INFO(NULL, &q, ASN1_STRING_length(*pos));
    if (!tst) goto done;
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    const ASN1_OBJECT *o = NULL; X509_ALGOR_get0(&o, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
    OBJ_obj2txt(imprint_oid, oidlen, o, 1);
    ASN1_OCTET_STRING *msg = TS_MSG_IMPRINT_get_msg(mi);
    int ml = ASN1_STRING_length(msg); if (ml > 64) ml = 64;
    memcpy(imprint, ASN1_STRING_get0_data(msg), ml); *imprint_len = ml;
    *gentime = sb_asn1_time_to_unix(TS_TST_INFO_get_time(tst));
    TS_TST_INFO_free(tst);
    int ok = CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY);
    ERR_clear_error();
    rc = ok == 1 ? 0 : 1;
    STACK_OF(X509) *signers = CMS_get0_signers(cms);
    if (signer_out) {
        *signer_out = NULL;
        if (signers && sk_X509_num(signers) > 0) { *signer_out = sk_X509_value(signers, 0); X509_up_ref(*signer_out); }
        else {
            /* match the signer among the certs manually */
            STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
            STACK_OF(X509) *certs = CMS_get1_certs(cms);
            if (sis && sk_CMS_SignerInfo_num(sis) > 0 && certs) {
                CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
                for (int i = 0; i < sk_X509_num(certs); i++)
                    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) { *signer_out = sk_X509_value(certs, i); X509_up_ref(*signer_out); break; }
            }
            if (certs) sk_X509_pop_free(certs, X509_free);
        }
    }
    if (signers) sk_X509_free(signers);
    if (certs_out) *certs_out = CMS_get1_certs(cms);
done:
    CMS_ContentInfo_free(cms);
    return rc;
}

int sb_ocsp_request(X509 *cert, X509 *issuer, unsigned char **out) {
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    if (!id) return -1;
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_request_add0_id(req, id);
    *out = NULL;
    int len = i2d_OCSP_REQUEST(req, out);
    OCSP_REQUEST_free(req);
    return len;
}

int sb_ocsp_check(const unsigned char *resp, int len, X509 *cert, X509 *issuer, STACK_OF(X509) *anchors,
                  long long *revtime, long long *this_update, long long *produced_at) {
    const unsigned char *p = resp;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, len);
    if (!r) return -1;
    int rc = -1;
    OCSP_BASICRESP *bs = NULL;
    X509_STORE *store = NULL;
    OCSP_CERTID *id = NULL;
    if (OCSP_response_status(r) != OCSP_RESPONSE_STATUS_SUCCESSFUL) goto done;
    bs = OCSP_response_get1_basic(r);
    if (!bs) goto done;
    store = X509_STORE_new();
    for (int i = 0; anchors && i < sk_X509_num(anchors); i++) X509_STORE_add_cert(store, sk_X509_value(anchors, i));
    STACK_OF(X509) *extra = sk_X509_new_null();
    sk_X509_push(extra, issuer);
    /* Responder may be the issuer itself or delegated by it; OCSP_basic_verify handles both with the issuer in certs. */
    int v = OCSP_basic_verify(bs, extra, store, OCSP_TRUSTOTHER * 0);
    sk_X509_free(extra);
    ERR_clear_error();
    if (v <= 0) { rc = -2; goto done; }
    id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    int status = -1, reason = 0;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    if (!OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisu, &nextu)) { rc = -3; goto done; }
    if (revtime) *revtime = rev ? sb_asn1_time_to_unix(rev) : 0;
    if (this_update) *this_update = thisu ? sb_asn1_time_to_unix(thisu) : 0;
    if (produced_at) *produced_at = sb_asn1_time_to_unix(OCSP_resp_get0_produced_at(bs));
    rc = status;
done:
    if (id) OCSP_CERTID_free(id);
    if (store) X509_STORE_free(store);
    if (bs) OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(r);
    return rc;
}

int sb_crl_url(X509 *cert, char *buf, int len) {
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    int out = 0;
    for (int i = 0; dps && i < sk_DIST_POINT_num(dps) && !out; i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (!dp->distpoint || dp->distpoint->type != 0) continue;
        GENERAL_NAMES *gns = dp->distpoint->name.fullname;
        for (int j = 0; j < sk_GENERAL_NAME_num(gns); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(gns, j);
            if (gn->type != GEN_URI) continue;
            int l = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
            if (l >= len) continue;
            memcpy(buf, ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), l); buf[l] = 0; out = l; break;
        }
    }
    if (dps) sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return out;
}

int sb_ocsp_url(X509 *cert, char *buf, int len) {
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    int out = 0;
    if (urls && sk_OPENSSL_STRING_num(urls) > 0) {
        const char *u = sk_OPENSSL_STRING_value(urls, 0);
        int l = (int)strlen(u);
        if (l < len) { memcpy(buf, u, l + 1); out = l; }
    }
    if (urls) X509_email_free(urls);
    return out;
}

unsigned int sb_key_usage(X509 *cert) { return (unsigned int)X509_get_key_usage(cert); }
unsigned int sb_ext_key_usage(X509 *cert) { return (unsigned int)X509_get_extended_key_usage(cert); }

int sb_ext_key_usage_oids(X509 *cert, char *buf, int len) {
    int crit = 0;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    if (eku == NULL) return crit == -1 ? -1 : -2;
    int used = 0;
    if (len > 0) buf[0] = 0;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        char oid[128];
        int n = OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku, i), 1);
        if (n <= 0 || n >= (int)sizeof oid) continue;
        if (used + n + 2 > len) break;
        if (used > 0) buf[used++] = ' ';
        memcpy(buf + used, oid, n);
        used += n;
        buf[used] = 0;
    }
    EXTENDED_KEY_USAGE_free(eku);
    return used;
}

int sb_name_entry(X509_NAME *name, int nid, char *buf, int len) {
    int loc = X509_NAME_get_index_by_NID(name, nid, -1);
    if (loc < 0) return -1;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, loc));
    unsigned char *utf8 = NULL;
    int l = ASN1_STRING_to_UTF8(&utf8, s);
    if (l < 0) return -1;
    if (l >= len) l = len - 1;
    memcpy(buf, utf8, l); buf[l] = 0;
    OPENSSL_free(utf8);
    return l;
}

int sb_serial_hex(X509 *cert, char *buf, int len) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *h = BN_bn2hex(bn);
    int l = (int)strlen(h);
    if (l >= len) l = len - 1;
    memcpy(buf, h, l); buf[l] = 0;
    OPENSSL_free(h); BN_free(bn);
    return l;
}

long long sb_cert_not_before(X509 *cert) { return sb_asn1_time_to_unix(X509_get0_notBefore(cert)); }
long long sb_cert_not_after(X509 *cert) { return sb_asn1_time_to_unix(X509_get0_notAfter(cert)); }
int sb_is_self_signed(X509 *cert) { return X509_self_signed(cert, 0) == 1; }

int sb_cms_signer_alg_der(CMS_SignerInfo *si, int which, unsigned char **out) {
    X509_ALGOR *pdig = NULL, *psig = NULL;
    CMS_SignerInfo_get0_algs(si, NULL, NULL, &pdig, &psig);
    X509_ALGOR *a = which ? psig : pdig;
    if (!a) return -1;
    *out = NULL;
    return i2d_X509_ALGOR(a, out);
}

const unsigned char *sb_cms_signature_bytes(CMS_SignerInfo *si, int *len) {
    ASN1_OCTET_STRING *os = CMS_SignerInfo_get0_signature(si);
    *len = ASN1_STRING_length(os);
    return ASN1_STRING_get0_data(os);
}

int sb_cms_verify_signer(CMS_SignerInfo *si, X509 *cert) {
    CMS_SignerInfo_set1_signer_cert(si, cert);
    int r = CMS_SignerInfo_verify(si);
    if (r != 1) ERR_clear_error();
    return r;
}
unsigned long sb_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }

int sb_crl_status(X509_CRL *crl, X509 *cert, X509 *issuer, long long *revtime, long long *this_update, long long *next_update) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) return -1;
    EVP_PKEY *pk = X509_get0_pubkey(issuer);
    if (!pk || X509_CRL_verify(crl, pk) != 1) { ERR_clear_error(); return -1; }
    if (this_update) *this_update = sb_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl));
    if (next_update) *next_update = X509_CRL_get0_nextUpdate(crl) ? sb_asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl)) : 0;
    X509_REVOKED *rev = NULL;
    int r = X509_CRL_get0_by_cert(crl, &rev, cert);
    if (r == 1 && rev) {
        if (revtime) *revtime = sb_asn1_time_to_unix(X509_REVOKED_get0_revocationDate(rev));
        return 1;
    }
    return 0;
}

CMS_ContentInfo *sb_cms_parse(const unsigned char *der, long len) {
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, len);
    if (!cms) { ERR_clear_error(); return NULL; }
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) { CMS_ContentInfo_free(cms); return NULL; }
    return cms;
}

CMS_SignerInfo *sb_cms_first_signer(CMS_ContentInfo *cms) {
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    if (!sis || sk_CMS_SignerInfo_num(sis) < 1) return NULL;
    return sk_CMS_SignerInfo_value(sis, 0);
}

int sb_key_bits(X509 *cert) { EVP_PKEY *k = X509_get0_pubkey(cert); return k ? EVP_PKEY_get_bits(k) : 0; }

STACK_OF(X509) *sb_ocsp_certs(const unsigned char *resp, int len) {
    const unsigned char *p = resp;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, len);
    if (!r) { ERR_clear_error(); return NULL; }
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(r);
    STACK_OF(X509) *out = sk_X509_new_null();
    if (bs) {
        const STACK_OF(X509) *certs = OCSP_resp_get0_certs(bs);
        for (int i = 0; certs && i < sk_X509_num(certs); i++) { X509 *x = sk_X509_value(certs, i); X509_up_ref(x); sk_X509_push(out, x); }
        OCSP_BASICRESP_free(bs);
    }
    OCSP_RESPONSE_free(r);
    return out;
}
