/*
 * unwind.c - the one real unwind per entry context, into the thread's cache.
 *
 * Unwinder: ehu (ehu.c), the rules of .eh_frame reduced to one 8-byte row
 * per return address (CFA = RSP or RBP + offset, RA at CFA-8, RBP saved or
 * not) in a global table read without locks.  Correct without frame
 * pointers (C at -O2 and Swift omit them), about 5 ns a frame on a hit
 * against ~100 ns for glibc backtrace() (libgcc's DWARF interpreter), and
 * frame for frame equal to backtrace() over the validation suite
 * (Benchmarks/unwinder).  A frame whose rule needs a full DWARF step (a
 * CFA expression, ld.so's lazy-binding trampoline, __longjmp) or a read
 * outside the thread's stack (a handler on a sigaltstack) makes ehu hand
 * the whole stack to backtrace(): flagged DU_TRACE_BACKTRACE.  Why not
 * libunwind, frame pointers or backtrace(): Docs/Design.md, "Unwinding".
 *
 * Neither unwinder is async-signal-safe (a miss parses .eh_frame under
 * ehu's fill lock; the dlclose check and backtrace() take the loader lock),
 * which is why the unwind runs only here, at the safe point.
 * du_thread_attach() warms both up (the thread's stack bounds, libgcc's
 * first-use dlopen), so no safe point pays a first-use cost.
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
#include "ehu.h"
#include "internal.h"

#define DU_SCRATCH_FRAMES 64 /* our own frames below `caller`, at most */

void du_unwind_warm_up(void)
{
    void *ips[4];
    uintptr_t own[4];
    unsigned flags;
    (void)backtrace(ips, 4); /* the fallback's first use dlopens libgcc_s */
    (void)ehu_backtrace(own, 4, &flags); /* this thread's stack bounds */
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
    enum { WANT = DU_SCRATCH_FRAMES + DU_CACHE_CAPACITY + 1 };
    uintptr_t scratch[WANT];
    unsigned how = 0;
    int n = ehu_backtrace(scratch, WANT, &how);
    int start = 0;
    for (int i = 0; i < n && i < DU_SCRATCH_FRAMES; i++) {
        if (scratch[i] == caller) {
            start = i;
            break;
        }
    }
    uint32_t have = (uint32_t)(n - start);
    /* ehu's flags: who produced the frames; COMPLETE only if the walk
     * reached the outermost frame (backtrace() cannot tell: never set). */
    uint32_t flags = (how & EHU_F_BACKTRACE) ? DU_TRACE_BACKTRACE : 0;
    if (how & EHU_F_COMPLETE)
        flags |= DU_TRACE_COMPLETE;
    if (have > DU_CACHE_CAPACITY || n == WANT) {
        flags &= ~(uint32_t)DU_TRACE_COMPLETE;
        flags |= DU_TRACE_TRUNCATED;
        if (have > DU_CACHE_CAPACITY)
            have = DU_CACHE_CAPACITY;
    }
    memcpy(cache->ips, &scratch[start], have * sizeof(uintptr_t));
    cache->nr = have;
    cache->flags = flags;
    du_cache_trace(th, out);
}

/* The trace in th's cache (th->unwound).  Thread context, or the proxy
 * holding the claim. */
void du_cache_trace(struct du_thread *th, struct du_trace *out)
{
    out->ips = th->cache->ips;
    out->nr = th->cache->nr;
    out->flags = th->cache->flags;
}

/* Context: a proxy (proxy.c) holding the claim on `th`, whose region froze
 * the frames from frozen_rsp up to stack_hi.  Unwinds them once per
 * context into th's cache (later rounds of the context reuse it, as at a
 * safe point) and fills *out from it.  No fallback to backtrace(), which
 * can only walk its own stack: a frame ehu cannot express ends the trace
 * (not DU_TRACE_COMPLETE). */
void du_unwind_frozen(struct du_thread *th, struct du_trace *out)
{
    struct du_cache *cache = th->unwound ? th->cache : du_cache_get(th);
    if (!cache) {
        out->ips = NULL;
        out->nr = 0;
        out->flags = DU_TRACE_NOMEM | DU_TRACE_PROXY;
        return;
    }
    if (!th->unwound) {
        struct ehu_regs regs = {th->frozen_rip, th->frozen_rsp, th->frozen_rbp};
        struct ehu_stack st = {th->frozen_rsp, th->stack_hi, 0};
        unsigned how = 0;
        int n = ehu_backtrace_from(&regs, &st, cache->ips, (int)DU_CACHE_CAPACITY, 0, &how);
        uint32_t flags = DU_TRACE_PROXY;
        if (how & EHU_F_COMPLETE)
            flags |= DU_TRACE_COMPLETE;
        if (how & EHU_F_TRUNCATED)
            flags |= DU_TRACE_TRUNCATED;
        cache->nr = (uint32_t)n;
        cache->flags = flags;
        th->unwound = 1;
    }
    du_cache_trace(th, out);
}
