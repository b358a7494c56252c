/*
 * prefix.h - rename the core's external symbols to duv_ (rename.h) so this
 * library and CDeferredUnwind can live in one process.  Included first by
 * every file here, before the core source it wraps or the core headers
 * (hooks.h, whose DU_VARIANTS half this target defines: variant_*.c,
 * variant_dispatch.h).
 */
#ifndef DUV_PREFIX_H
#define DUV_PREFIX_H
#define DU_RENAME(name) duv_##name
#include "rename.h"

/* Which historical design runs (variant.c). */
enum duv_variant {
    DUV_NONE,
    DUV_COOKIE48,
    DUV_RETURN_LOCAL,
    DUV_NAIVE_PERCPU,
    DUV_PENDING_LATE,
    DUV_NONATOMIC_CLAIM,
    DUV_PLAIN_RESET,
    DUV_NO_COMPLETED,
    DUV_CANCEL_NO_WAIT,
    DUV_CANCEL_NO_SCRUB,
    DUV_EXIT_DROPS_PENDING,
    DUV_MUTEX_DISPATCH,
    DUV_COUNT
};
extern enum duv_variant duv_variant;
#define DUV_IS(v) (duv_variant == DUV_##v)
#endif
