/*
 * dispatch.c - the safe point: deliver, then end the entry context.
 *
 * A dispatch round: fetch-and-not PENDING (the bits stay, so repeat requests
 * keep answering 1 without queueing), unwind once per context into the
 * cache, call every requesting tracer not yet in `completed`.  A request
 * made meanwhile (by a callback or a handler) sets PENDING again and gets
 * its own round.  Each round either finds a tracer bit that was not set
 * before or finds nothing to call, and bits are not cleared until the reset,
 * so a context has at most DU_MAX_TRACERS + 1 rounds: no livelock.
 *
 * The reset must end the context atomically with respect to handlers: a
 * handler that got cookie C and saw its request accepted must see a
 * callback with C.  Cookie halves and pending word are separate words, so:
 *
 *   R1  CAS mask: m -> m|CLOSING, only if m has no PENDING.
 *       A handler from here on takes closing_cnt (= C, written before R1)
 *       instead of the halves, and a request it makes sets PENDING.
 *   R2  clear the cookie's low half (handlers do not read it while CLOSING).
 *   R3  CAS mask: m|CLOSING -> 0.  Success: the context is over; the next
 *       request starts a new one with a new cookie.
 *       Failure: a handler set PENDING (and maybe a bit) under CLOSING with
 *       cookie C: restore C's low half, clear CLOSING, dispatch again.
 *       (Cancel's scrub can also fail R3; then we just go round again.)
 *
 * The kernel's reset clears the pending word with a CAS loop and then the
 * cookie with a plain store; an NMI between the two gets the old cookie and
 * its request is served with a new one.  `plain-reset` in the stress harness
 * is the reset without this protocol.
 */
#include <errno.h>
#include "internal.h"
#include "hooks.h"

static void du_reset_cache(struct du_thread *th)
{
    th->unwound = 0;
    atomic_store_explicit(&th->completed, 0, memory_order_relaxed); /* partner: cancel's scrub; both only clear */
}

/* The trace for this round: empty and flagged when exiting, else unwound
 * once per context (later rounds reuse `trace`, which du_dispatch keeps for
 * the whole context: a dispatch always runs until the reset). */
static void du_round_trace(struct du_thread *th, uintptr_t caller, int exiting,
                           struct du_trace *trace)
{
    if (exiting) {
        trace->ips = NULL;
        trace->nr = 0;
        trace->flags = DU_TRACE_EXITING;
    } else if (!th->unwound) {
        du_unwind(th, caller, trace);
        th->unwound = 1;
        DU_STEP(DU_STEP_DISPATCH_UNWOUND);
    } else if (!trace->ips) {
        /* Unwound by a proxy in this context (proxy.c): the cache holds it. */
        du_cache_trace(th, trace);
    }
}

/* One round: returns callbacks run.  Thread context. */
static int du_round(struct du_thread *th, uintptr_t caller, int exiting, struct du_trace *trace)
{
    int called;
    if (du_hook_round(th, caller, exiting, trace, &called)) /* pending-late */
        return called;
    /* Relaxed: PENDING's setters are this thread's requests (same thread)
     * and nothing is published through the bit to another thread. */
    uint64_t m = atomic_fetch_and_explicit(&th->mask, ~DU_PENDING, memory_order_relaxed);
    DU_STEP(DU_STEP_DISPATCH_PENDING_CLEARED);
    /* Relaxed: completed's writers are this thread and cancel's scrub; a
     * request that sees a reused bit already saw the scrub (acquire on the
     * tracer's bit in du_request), and this load is after it. */
    uint64_t todo = m & DU_TRACER_MASK &
                    ~du_hook_completed(atomic_load_explicit(&th->completed, memory_order_relaxed));
    if (!todo)
        return 0;
    du_round_trace(th, caller, exiting, trace);
    return du_registry_call(th, todo, trace, du_cookie_get(th));
}

/* Try to end the context (R1..R3).  1: ended; 0: a request is pending. */
static int du_reset(struct du_thread *th)
{
    int ended;
    if (du_hook_reset(th, &ended)) /* plain-reset */
        return ended;
    /* Relaxed: a snapshot; R1's CAS validates it against handlers and scrubs. */
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    if (m & DU_PENDING)
        return 0;
    /* Nothing requested and no cookie: nothing to end.  (A cookie with an
     * empty word happens when cancel scrubbed the only bit; the cookie was
     * handed out, so it must still be cleared through R1..R3.) */
    if (m == 0 && atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed) == 0)
        return 1;
    DU_STEP(DU_STEP_RESET_BEGIN);
    /* Assigned: a request succeeded (du_cookie_get only reads it then). */
    uint32_t cnt = (uint32_t)du_cookie_get(th);
    atomic_store_explicit(&th->closing_cnt, cnt, memory_order_relaxed);
    /* Pairs with the acquire signal fence in du_request: a handler that sees
     * CLOSING sees closing_cnt. */
    atomic_signal_fence(memory_order_release);
    /* R1.  Relaxed: the partners are this thread's handlers (ordered by the
     * fences) and cancel's scrub (a failure here, then a retry). */
    if (!atomic_compare_exchange_strong_explicit(&th->mask, &m, m | DU_CLOSING,
                                                 memory_order_relaxed, memory_order_relaxed))
        return 0; /* changed under us: look again */
    DU_STEP(DU_STEP_RESET_CLOSING);
    /* R2.  Relaxed: same-thread partners (handlers read closing_cnt now). */
    atomic_store_explicit(&th->cookie_cnt, 0u, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* R2 before R3 for a handler */
    DU_STEP(DU_STEP_RESET_COOKIE_CLEARED);
    uint64_t closing = m | DU_CLOSING;
    /* R3.  Relaxed, same partners as R1. */
    if (atomic_compare_exchange_strong_explicit(&th->mask, &closing, 0,
                                                memory_order_relaxed, memory_order_relaxed)) {
        du_reset_cache(th);
        DU_STEP(DU_STEP_RESET_DONE);
        return 1;
    }
    /* Reopen: a handler accepted a request with the closing cookie under
     * CLOSING (or a scrub changed the word).  Low half first, then drop
     * CLOSING, so a handler never reads a cleared half without CLOSING. */
    atomic_store_explicit(&th->cookie_cnt, cnt, memory_order_relaxed);
    atomic_signal_fence(memory_order_release);
    /* Relaxed fetch-and: same partners as R1. */
    atomic_fetch_and_explicit(&th->mask, ~DU_CLOSING, memory_order_relaxed);
    DU_STEP(DU_STEP_RESET_REOPENED);
    return 0;
}

/* Thread context.  exiting: deliver with an empty EXITING trace and do not
 * reset (detach frees the state instead). */
int du_dispatch(struct du_thread *th, uintptr_t caller, int exiting)
{
    struct du_trace trace = {0};
    int called = 0;

    th->in_dispatch = 1;
    for (;;) {
        /* Relaxed: PENDING is set only by this thread's requests. */
        uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
        if (m & DU_PENDING) {
            called += du_round(th, caller, exiting, &trace);
            continue;
        }
        if (exiting || du_reset(th))
            break;
    }
    th->in_dispatch = 0;
    return called;
}

/* noinline: __builtin_return_address(0) is then our caller's return
 * address, which unwind.c uses to cut the library's own frames. */
__attribute__((noinline)) int du_safe_point(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (DU_UNLIKELY(!th))
        return -ESRCH;
    du_claim_repair(th); /* a load of our own line; see internal.h */
    /* Inside a callback of this thread, whatever is pending: the dispatch
     * that runs it cannot be re-entered (also in a fork child, where the
     * word was cleared: the callback that forked goes on there). */
    if (DU_UNLIKELY(th->in_dispatch))
        return -EDEADLK;
    /* Fast path: nothing requested in this context.  A request landing
     * right after this load is served at the next safe point, as in the
     * kernel, where a request after the return-to-user check waits for the
     * next return. */
    if (DU_LIKELY(atomic_load_explicit(&th->mask, memory_order_relaxed) == 0 &&
                  atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed) == 0))
        return 0;
    /* Inside a frozen region (a handler's call on this thread): a proxy may
     * be this thread's dispatcher now (proxy.c).  Relaxed: our own word. */
    if (DU_UNLIKELY(atomic_load_explicit(&th->frozen, memory_order_relaxed) != DU_FROZEN_NO) &&
        !du_hook_safe_point_in_region()) /* region-safe-point */
        return -EBUSY;
    return du_dispatch(th, (uintptr_t)__builtin_return_address(0), 0);
}
