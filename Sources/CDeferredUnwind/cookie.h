/*
 * cookie.h - the cookie's inline fast path: the handler-local
 * compare-exchange and the draw-then-install of a context's low half
 * (cookie.c explains both; the rules of cookie_cnt and seq are above
 * struct du_thread in internal.h).  Included by internal.h, at its end.
 */
#ifndef DU_COOKIE_H
#define DU_COOKIE_H

/*
 * Compare-exchange of a word that only the owning thread and handlers
 * nested on it write (cookie_cnt): it needs atomicity against a handler,
 * which runs between two instructions, not against other CPUs.  On x86 one
 * cmpxchg without the lock prefix is one instruction, so a handler sees it
 * either not started or done, and the bus lock (about 7 ns of a first
 * request here, Docs/Performance.md) buys nothing: the kernel's local_t and
 * this_cpu_cmpxchg make the same argument for interrupts on one CPU.
 * Elsewhere, and under ThreadSanitizer (which cannot see inline asm), the
 * C11 compare-exchange.  Returns the old value (0 when it installed).
 * Partner: the same CAS in a nested handler.
 */
static inline uint32_t du_local_cas32(_Atomic uint32_t *p, uint32_t expected, uint32_t desired)
{
#if (defined(__x86_64__) || defined(__i386__)) && !defined(DU_TSAN)
    __asm__ volatile("cmpxchgl %2, %1"
                     : "+a"(expected), "+m"(*(volatile uint32_t *)p)
                     : "r"(desired)
                     : "memory", "cc");
    return expected;
#else
    atomic_compare_exchange_strong_explicit(p, &expected, desired, memory_order_relaxed,
                                            memory_order_relaxed);
    return expected;
#endif
}

/* Cookie assignment, shipped path (cookie.c explains the draw and the
 * install), inline so the first request's claim does not call out for it.
 * Context: async-signal-safe, lock-free; owning thread or its handlers. */
static inline uint64_t du_cookie_fast(struct du_thread *th)
{
    uint32_t cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if (cnt == 0) {
        /* 1. Draw (no store yet).  Partner: the winner's store of seq in
         * a nested handler (same thread: program order). */
        uint32_t c = (atomic_load_explicit(&th->seq, memory_order_relaxed) + 2u) | 1u;
        atomic_signal_fence(memory_order_seq_cst); /* draw before install */
        DU_STEP(DU_STEP_COOKIE_DRAWN);
        /* 2. Install: the first of thread and handlers fixes the cookie; a
         * loser adopts the value it found. */
        uint32_t old = du_local_cas32(&th->cookie_cnt, 0, c);
        DU_STEP(DU_STEP_COOKIE_CLAIMED);
        if (old == 0) {
            /* 3. Only the winner advances seq, after its install: one draw
             * per context reaches seq, in context order.  (Storing it
             * before the CAS lets a depth-2 nest move seq backwards: the
             * interrupted code stores its stale draw after a nested
             * handler's larger one won, and a later context repeats that
             * cookie - found by the Spin model, Docs/Model.md.) */
            atomic_signal_fence(memory_order_seq_cst);
            atomic_store_explicit(&th->seq, c, memory_order_relaxed);
            DU_STEP(DU_STEP_COOKIE_SEQ_STORED);
        }
        cnt = old ? old : c;
    }
    return du_cookie_make(th, cnt);
}

#endif /* DU_COOKIE_H */
