#include "CPKCS11.h"
#include <stddef.h>

void *sb_p11_load(const char *path, CK_FUNCTION_LIST_PTR *out, const char **err) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { if (err) *err = dlerror(); return NULL; }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (!get) { if (err) *err = "module has no C_GetFunctionList"; dlclose(h); return NULL; }
    if (get(out) != CKR_OK || *out == NULL) { if (err) *err = "C_GetFunctionList failed"; dlclose(h); return NULL; }
    return h;
}
void sb_p11_unload(void *handle) { if (handle) dlclose(handle); }
