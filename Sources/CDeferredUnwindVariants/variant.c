/* variant.c - which historical design the duv_ library runs. */
#include <errno.h>
#include <string.h>
#include "prefix.h"
#include "deferred_unwind_variants.h"

/* Written once by duv_select() before any thread attaches; read-only after,
 * so plain reads on every path are race-free (thread creation orders them). */
enum duv_variant duv_variant = DUV_NONE;

#define DUV_NAME_(id, name, desc, s1, s2) [DUV_##id] = name,
static const char *const duv_names[DUV_COUNT + 1] = {
    DUV_VARIANT_LIST(DUV_NAME_)
    [DUV_COUNT] = NULL,
};
#undef DUV_NAME_

int duv_select(const char *name)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; i < DUV_COUNT; i++) {
        if (strcmp(name, duv_names[i]) == 0) {
            duv_variant = (enum duv_variant)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *duv_selected(void) { return duv_names[duv_variant]; }
const char *const *duv_variant_names(void) { return duv_names; }
