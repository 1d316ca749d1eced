#ifndef SEALBATCH_CPKCS11_H
#define SEALBATCH_CPKCS11_H
/* PKCS#11 v2.40 types from p11-kit's header; the module itself is dlopen'ed at run time. */
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <dlfcn.h>

/* dlopen a PKCS#11 module and fetch its function list. Returns NULL and sets *err on failure. */
void *sb_p11_load(const char *path, CK_FUNCTION_LIST_PTR *out, const char **err);
void sb_p11_unload(void *handle);
#endif
