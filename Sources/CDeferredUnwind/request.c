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
 *  - The whole request, repeat path included, runs between claim_enter and
 *    claim_exit: a per-thread counter that cancel waits on (registry.c).
 *    That is the request side's grace period: after cancel marked the
 *    tracer and waited, no request can still be reading the tracer or be
 *    about to set its bit, so the scrub is final and destroy may free.
 *    We do not use liburcu's read lock here: in liburcu 0.13 it reaches its
 *    thread-local state through __tls_get_addr (general-dynamic TLS), whose
 *    slow path after a dlopen may allocate: not for a signal handler.
 *    du_thread is reached through initial-exec TLS instead.
 *  - The common repeat case (bit already set in this context) is plain
 *    loads plus the two counter stores.  No RMW, no fence instruction.
 *  - Nothing here allocates, locks, prints or leaves errno changed.
 */
#include <errno.h>
#include "internal.h"
#include "hooks.h"

/*
 * Enter/leave a request.  Partner: du_threads_wait_requests() on a
 * cancelling thread, which stores the slot's live = 0, runs membarrier()
 * (a full barrier on every CPU running one of our threads) and then reads
 * `claiming` with acquire.  Asymmetric Dekker: either cancel reads our
 * increment (and waits for the decrement), or our later load of the bit is
 * ordered after cancel's store by the membarrier and sees -1.  Without
 * membarrier the reader pays the fence itself.  Load + store, not an RMW:
 * a nested handler's enter/exit pair restores the value between them.
 */
static inline void du_claim_enter(struct du_thread *th)
{
    uint32_t n = atomic_load_explicit(&th->claiming, memory_order_relaxed);
    atomic_store_explicit(&th->claiming, n + 1, memory_order_relaxed);
    if (DU_LIKELY(du_have_membarrier))
        atomic_signal_fence(memory_order_seq_cst); /* the membarrier is cancel's half */
    else
        atomic_thread_fence(memory_order_seq_cst);
}

/* Release: every read of the tracer above is done before cancel can see 0
 * and free it (partner: the acquire load in du_threads_wait_requests). */
static inline void du_claim_exit(struct du_thread *th)
{
    uint32_t n = atomic_load_explicit(&th->claiming, memory_order_relaxed);
    atomic_store_explicit(&th->claiming, n - 1, memory_order_release);
}

/* Cookie of this context when its bit is already set: the low half is in
 * place unless CLOSING (then closing_cnt holds it). */
static inline uint64_t du_context_cookie(struct du_thread *th, uint64_t m)
{
    if (DU_UNLIKELY(m & DU_CLOSING))
        return du_cookie_make(th, atomic_load_explicit(&th->closing_cnt, memory_order_relaxed));
    uint32_t cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    /* A set bit outside CLOSING means the request that set it installed
     * cnt first, and only the reset clears it (under CLOSING). */
    if (du_hook_cookie_may_be_unset() && !cnt)
        return du_cookie_get(th); /* variants whose halves may be 0 */
    return du_cookie_make(th, cnt);
}

/*
 * Slow path: the first request of this tracer in this context.  Out of line
 * so the repeat path stays a leaf with no stack frame.  Runs inside the
 * caller's claim span: if we read bit >= 0, cancel waits for our fetch-or
 * before it scrubs.  It calls nothing that may write errno (the variants'
 * hooks that do, around sched_getcpu() and sched_yield(), save it).
 */
static __attribute__((noinline)) int du_request_claim(struct du_thread *th, int bit,
                                                      uint64_t m, uint64_t *cookie)
{
    uint64_t c;
    uint64_t b = (uint64_t)1 << bit;
    /* The cookie is assigned only now, when the claim cannot fail: a
     * context whose pending word is 0 never holds a cookie, which lets the
     * safe point's fast path skip the reset.  `m` still tells CLOSING right:
     * only the reset, in thread context, changes it, and it cannot run
     * while we do. */
    c = (m & DU_CLOSING)
            ? du_cookie_make(th, atomic_load_explicit(&th->closing_cnt, memory_order_relaxed))
            : du_cookie_get(th); /* inline in the shipped build (hooks.h) */
    DU_STEP(DU_STEP_REQUEST_COOKIE_READY);
    /* Relaxed: the partners are this thread's dispatch (program order, or a
     * handler boundary) and cancel's scrub, which is ordered after this by
     * the claim span (cancel waits for claim_exit), not by this RMW. */
    uint64_t old;
    if (!du_hook_claim(th, DU_PENDING | b, &old)) /* nonatomic-claim */
        old = atomic_fetch_or_explicit(&th->mask, DU_PENDING | b, memory_order_relaxed);
    DU_STEP(DU_STEP_REQUEST_CLAIMED);

    /* A nested handler may have claimed the same bit between our load and
     * the fetch-or: then it queued the work and we piggy-back.  EXITING
     * cannot appear here: only detach sets it, in thread context.  CLOSING
     * can: the reset then sees PENDING, restores the cookie we returned and
     * dispatches again. */
    *cookie = c;
    return (old & b) ? 1 : 0;
}

/* Context: async-signal-safe, lock-free, allocation-free, errno preserved.
 * The repeat path (bit already set) is loads and two stores, and calls nothing. */
int du_request(du_tracer *tracer, uint64_t *cookie)
{
    int ret;

    if (DU_UNLIKELY(!tracer || !cookie)) {
        if (cookie)
            *cookie = DU_COOKIE_NONE;
        return -EINVAL;
    }
    /* Relaxed: du_self is written only by this thread (thread.c fences it). */
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (DU_UNLIKELY(!th)) {
        *cookie = DU_COOKIE_NONE;
        return -ESRCH;
    }
    du_claim_enter(th);
    /* An acquire load of the handle's slot (partner: register's release;
     * see du_tracer_live_bit): -1 for a cancelled tracer or a non-handle. */
    int bit = du_tracer_live_bit(tracer);
    if (DU_UNLIKELY(bit < 0)) {
        *cookie = DU_COOKIE_NONE;
        ret = du_handle_never_issued(tracer) ? -EINVAL : -ECANCELED;
        goto out;
    }
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    /* Pairs with the reset's release signal fence before it sets CLOSING:
     * if we see CLOSING we also see closing_cnt. */
    atomic_signal_fence(memory_order_acquire);
    DU_STEP(DU_STEP_REQUEST_BIT_READ);
    if (DU_UNLIKELY(m & DU_EXITING)) {
        *cookie = DU_COOKIE_NONE;
        ret = -ESHUTDOWN;
    } else if (m & ((uint64_t)1 << bit)) {
        *cookie = du_context_cookie(th, m);
        ret = 1;
    } else {
        ret = du_request_claim(th, bit, m, cookie);
    }
out:
    du_claim_exit(th);
    return ret;
}
