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

/* Which historical design runs (variant.c); the list: duv_variant_list.h. */
#include "duv_variant_list.h"
#define DUV_ENUM_(id, name, desc, s1, s2) DUV_##id,
enum duv_variant { DUV_VARIANT_LIST(DUV_ENUM_) DUV_COUNT };
#undef DUV_ENUM_
extern enum duv_variant duv_variant;
#define DUV_IS(v) (duv_variant == DUV_##v)
#endif
