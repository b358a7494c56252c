/* variant_dispatch.h - historical dispatch and reset designs: the variants
 * build's du_hook_round and du_hook_reset (../CDeferredUnwind/hooks.h).
 * Included by v_dispatch.c after the core's dispatch.c, whose static
 * helpers (du_round_trace, du_reset_cache) they call.  Each is the bug,
 * kept on purpose. */
#ifndef DUV_VARIANT_DISPATCH_H
#define DUV_VARIANT_DISPATCH_H
#include "variant_window.h"

/* pending-late: PENDING cleared after the callbacks.  A request made during
 * the callbacks piggy-backs on the still-set PENDING (answers 0), then the
 * clear drops it and the reset ends the context: the request is lost. */
static int duv_round_pending_late(struct du_thread *th, uintptr_t caller, int exiting,
                                  struct du_trace *trace)
{
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    uint64_t todo = m & DU_TRACER_MASK & ~atomic_load_explicit(&th->completed, memory_order_relaxed);
    int called = 0;
    if (todo) {
        du_round_trace(th, caller, exiting, trace);
        called = du_registry_call(th, todo, trace, du_cookie_get(th));
        duv_window();
    }
    atomic_fetch_and_explicit(&th->mask, ~DU_PENDING, memory_order_relaxed);
    return called;
}

/* plain-reset: the kernel's reset.  CAS the word to 0, then clear the
 * cookie: a handler in between takes the old cookie and sets PENDING; its
 * callback later gets a new cookie. */
static int duv_reset_plain(struct du_thread *th)
{
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    do {
        if (m & DU_PENDING)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(&th->mask, &m, 0, memory_order_relaxed,
                                                    memory_order_relaxed));
    duv_window();
    atomic_store_explicit(&th->cookie_cnt, 0u, memory_order_relaxed);
    du_reset_cache(th);
    return 1;
}

/* One dispatch round (hooks.h): pending-late's, else the core's. */
int du_hook_round(struct du_thread *th, uintptr_t caller, int exiting, struct du_trace *trace,
                  int *called)
{
    if (!DUV_IS(PENDING_LATE))
        return 0;
    *called = duv_round_pending_late(th, caller, exiting, trace);
    return 1;
}

/* The reset (hooks.h): plain-reset's, else the core's R1..R3. */
int du_hook_reset(struct du_thread *th, int *ended)
{
    if (!DUV_IS(PLAIN_RESET))
        return 0;
    *ended = duv_reset_plain(th);
    return 1;
}
#endif
