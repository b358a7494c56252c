/*
 * request.c - du_request(): the only entry point meant for signal handlers.
 *
 * Rules:
 *  - A request is always for the calling thread, so apart from cancel's
 *    scrub every write to the pending word comes from this thread or a
 *    handler nested on it.  Each handler runs to completion between two
 *    instructions of the code it interrupted; correctness is "every
 *    interleaving point leaves a consistent state", which the step points
 *    (deferred_unwind_debug.h) let the tests visit one by one.
 *  - The common repeat case (bit already set in this context) is plain
 *    loads: tracer bit, pending word, cookie halves.  No RMW, no fence.
 *  - The first request of a tracer in a context claims PENDING and its bit
 *    with one fetch-or, inside an RCU read-side section, so that cancel's
 *    grace period orders it before cancel's scrub (registry.c).
 *  - Nothing here allocates, locks, prints or leaves errno changed.
 */
#include <errno.h>
#include "internal.h"
#ifdef DU_VARIANTS
#include "../CDeferredUnwindVariants/variant_window.h"
#endif

/* Cookie of this context when its bit is already set: both halves are in
 * place unless CLOSING (then closing_cookie holds it). */
static inline uint64_t du_context_cookie(struct du_thread *th, uint64_t m)
{
    if (DU_UNLIKELY(m & DU_CLOSING))
        return atomic_load_explicit(&th->closing_cookie, memory_order_relaxed);
    uint32_t cpu = atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed);
    uint32_t cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if (DU_LIKELY(cpu && cnt))
        return ((uint64_t)cpu << 32) | cnt;
    return du_cookie_get(th); /* variants whose halves may be 0 */
}

/*
 * Slow path: the first request of this tracer in this context.  Out of line
 * so the repeat path stays a leaf with no stack frame.  The read-side section
 * is what cancel waits for: if this section saw bit >= 0, cancel's grace
 * period cannot end before our fetch-or is done, and cancel scrubs after it.
 * errno is saved here: cookie assignment calls sched_getcpu(), the only call
 * on any request path that may write errno.
 */
static __attribute__((noinline)) int du_request_claim(struct du_thread *th, du_tracer *tracer,
                                                      uint64_t m, uint64_t *cookie)
{
    int saved_errno = errno;
    int ret;
    uint64_t c = DU_COOKIE_NONE;

    du_rcu_read_lock();
    int bit = atomic_load_explicit(&tracer->bit, memory_order_acquire); /* partner: cancel's store of -1 */
    if (DU_UNLIKELY(bit < 0)) {
        du_rcu_read_unlock();
        ret = -ECANCELED;
        goto out;
    }
    uint64_t b = (uint64_t)1 << bit;
    /* The cookie is assigned only now, when the claim cannot fail: a
     * context whose pending word is 0 never holds a cookie, which lets the
     * safe point's fast path skip the reset.  `m` still tells CLOSING right:
     * only the reset, in thread context, changes it, and it cannot run
     * while we do. */
    c = (m & DU_CLOSING) ? atomic_load_explicit(&th->closing_cookie, memory_order_relaxed)
                         : du_cookie_get(th);
    DU_STEP(DU_STEP_REQUEST_COOKIE_READY);
    /* Relaxed: the partners are this thread's dispatch (program order, or a
     * handler boundary) and cancel's scrub, which is ordered after this by
     * the grace period, not by this RMW. */
#ifdef DU_VARIANTS
    uint64_t old;
    if (DUV_IS(NONATOMIC_CLAIM)) {
        /* Check, then set: a handler between the two claims the same bit
         * (both answer 0) or sets another bit that the store then drops. */
        old = atomic_load_explicit(&th->mask, memory_order_relaxed);
        duv_claim_window();
        atomic_store_explicit(&th->mask, old | DU_PENDING | b, memory_order_relaxed);
    } else {
        old = atomic_fetch_or_explicit(&th->mask, DU_PENDING | b, memory_order_relaxed);
    }
#else
    uint64_t old = atomic_fetch_or_explicit(&th->mask, DU_PENDING | b, memory_order_relaxed);
#endif
    du_rcu_read_unlock();
    DU_STEP(DU_STEP_REQUEST_CLAIMED);

    /* A nested handler may have claimed the same bit between our load and
     * the fetch-or: then it queued the work and we piggy-back.  EXITING
     * cannot appear here: only detach sets it, in thread context.  CLOSING
     * can: the reset then sees PENDING, restores the cookie we returned and
     * dispatches again. */
    ret = (old & b) ? 1 : 0;
out:
    *cookie = ret >= 0 ? c : DU_COOKIE_NONE;
    errno = saved_errno;
    return ret;
}

/* Context: async-signal-safe, lock-free, allocation-free, errno preserved.
 * The repeat path (bit already set) is loads only and calls nothing. */
int du_request(du_tracer *tracer, uint64_t *cookie)
{
    if (DU_UNLIKELY(!tracer || !cookie)) {
        if (cookie)
            *cookie = DU_COOKIE_NONE;
        return -EINVAL;
    }
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    /* Relaxed bit load: a cancel racing with it may still make us answer 1
     * for a callback it then suppresses, which the contract allows (cancel
     * began first); the claim re-reads it inside the read-side section. */
    int bit = atomic_load_explicit(&tracer->bit, memory_order_relaxed);
    if (DU_UNLIKELY(!th || bit < 0)) {
        *cookie = DU_COOKIE_NONE;
        return !th ? -ESRCH : -ECANCELED;
    }
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    /* Pairs with the reset's release signal fence before it sets CLOSING:
     * if we see CLOSING we also see closing_cookie. */
    atomic_signal_fence(memory_order_acquire);
    DU_STEP(DU_STEP_REQUEST_BIT_READ);
    if (DU_UNLIKELY(m & DU_EXITING)) {
        *cookie = DU_COOKIE_NONE;
        return -ESHUTDOWN;
    }
    if (m & ((uint64_t)1 << bit)) {
        *cookie = du_context_cookie(th, m);
        return 1;
    }
    return du_request_claim(th, tracer, m, cookie);
}
