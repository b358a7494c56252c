/*
 * unwind.c - the one real unwind per entry context, into the thread's cache.
 *
 * Unwinder: glibc backtrace(), i.e. libgcc's DWARF CFI unwinder.  It walks
 * frames with or without frame pointers (C built with -O2 and Swift both
 * omit them in places), needs no extra package, and is exact for return
 * addresses.  It is not async-signal-safe (first use dlopens libgcc_s), which
 * is why it runs only here, at the safe point; du_thread_attach() warms it
 * up so no safe point pays the first-use cost.  Frame-pointer walking would
 * be cheaper but wrong across frames without them; libunwind would add a
 * dependency for the same answer.  (Docs/Design.md, "Unwinding".)
 *
 * Cutting the library's own frames: du_safe_point() passes its own return
 * address (`caller`); the trace starts at the frame whose address equals it.
 * That needs no frame count, so it survives inlining changes.
 *
 * Truncation: we ask for capacity + 1 frames into a scratch array on the
 * stack; more than `capacity` frames above the cut means truncated.
 */
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define DU_SCRATCH_FRAMES 64 /* our own frames below `caller`, at most */

void du_unwind_warm_up(void)
{
    void *ips[4];
    (void)backtrace(ips, 4);
}

static struct du_cache *du_cache_get(struct du_thread *th)
{
    if (th->cache)
        return th->cache;
#ifdef DU_STEP_POINTS
    if (du_debug_take_alloc_failure())
        return NULL;
#endif
    th->cache = aligned_alloc(DU_CACHE_BYTES, DU_CACHE_BYTES);
    return th->cache;
}

void du_cache_free(struct du_thread *th)
{
    free(th->cache);
    th->cache = NULL;
}

/* Context: thread (the safe point).  Fills *out from the cache. */
__attribute__((noinline)) void du_unwind(struct du_thread *th, uintptr_t caller,
                                         struct du_trace *out)
{
    struct du_cache *cache = du_cache_get(th);
    if (!cache) {
        out->ips = NULL;
        out->nr = 0;
        out->flags = DU_TRACE_NOMEM;
        return;
    }
    /* backtrace() fills void*s; cache->ips are uintptr_t of the same size. */
    _Static_assert(sizeof(void *) == sizeof(uintptr_t), "ip size");
    enum { WANT = DU_SCRATCH_FRAMES + DU_CACHE_CAPACITY + 1 };
    void *scratch[WANT];
    int n = backtrace(scratch, WANT);
    int start = 0;
    for (int i = 0; i < n && i < DU_SCRATCH_FRAMES; i++) {
        if ((uintptr_t)scratch[i] == caller) {
            start = i;
            break;
        }
    }
    uint32_t have = (uint32_t)(n - start);
    uint32_t flags = 0;
    if (have > DU_CACHE_CAPACITY || n == WANT) {
        flags |= DU_TRACE_TRUNCATED;
        if (have > DU_CACHE_CAPACITY)
            have = DU_CACHE_CAPACITY;
    }
    memcpy(cache->ips, &scratch[start], have * sizeof(uintptr_t));
    cache->nr = have;
    cache->flags = flags;
    out->ips = cache->ips;
    out->nr = cache->nr;
    out->flags = cache->flags;
}
