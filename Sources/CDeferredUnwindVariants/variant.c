/* variant.c - which historical design the duv_ library runs. */
#include <errno.h>
#include <string.h>
#include "prefix.h"
#include "deferred_unwind_variants.h"

/* Written once by duv_select() before any thread attaches; read-only after,
 * so plain reads on every path are race-free (thread creation orders them). */
enum duv_variant duv_variant = DUV_NONE;

static const char *const duv_names[DUV_COUNT + 1] = {
    [DUV_NONE] = "none",
    [DUV_COOKIE48] = "cookie48",
    [DUV_RETURN_LOCAL] = "return-local",
    [DUV_NAIVE_PERCPU] = "naive-percpu",
    [DUV_PENDING_LATE] = "pending-late",
    [DUV_NONATOMIC_CLAIM] = "nonatomic-claim",
    [DUV_PLAIN_RESET] = "plain-reset",
    [DUV_NO_COMPLETED] = "no-completed",
    [DUV_CANCEL_NO_WAIT] = "cancel-no-wait",
    [DUV_CANCEL_NO_SCRUB] = "cancel-no-scrub",
    [DUV_EXIT_DROPS_PENDING] = "exit-drops-pending",
    [DUV_MUTEX_DISPATCH] = "mutex-dispatch",
    [DUV_COUNT] = NULL,
};

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
