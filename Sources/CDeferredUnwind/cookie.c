/*
 * cookie.c - entry-context cookies owned by the thread: one 32-bit
 * compare-exchange, no CPU number, no shared counter.
 *
 * A cookie is serial << 32 | cnt:
 *  - serial: the thread's serial, drawn once at attach (thread context) from
 *    a process-wide counter; never 0, not reused until 2^32 attaches.
 *  - cnt: this context's value of the thread's own counter `seq`, advanced
 *    by 2 with the low bit forced, so it is odd: never 0, also at the wrap,
 *    and distinct for 2^31 consecutive contexts of the thread.
 *
 * Why the thread and not the CPU.  The kernel takes the CPU half from the
 * CPU because, with interrupts off, a task and every NMI nested on it run
 * on one CPU and nothing else runs there meanwhile: the CPU serialises a
 * context with its handlers.  In user space the unit that does that is the
 * thread: a handler runs on the thread it interrupted, to completion,
 * between two of its instructions, whatever CPU either is on; two threads
 * on one CPU interleave, and a thread migrates at any instruction.  So the
 * per-thread counter needs no RMW against other threads, and the CPU-half
 * claim, the shared per-CPU counters and the migration argument of the
 * per-CPU design go away (the `naive-percpu` and `cookie48` variants of the
 * stress harness keep the historical per-CPU designs).
 *
 * Assignment, in the first request of a context (du_cookie_fast, internal.h):
 *  1. Draw: c = (seq + 2) | 1, from a load of seq (no store yet).
 *  2. Install: compare-exchange cnt from 0 to c (the kernel's one CAS32),
 *     a "local" one (du_local_cas32, internal.h): cnt is written only by
 *     this thread and its handlers, and a handler runs between two
 *     instructions, so on x86 a cmpxchg without the lock prefix is atomic
 *     against it - as the kernel's local_t and this_cpu_cmpxchg are against
 *     interrupts on their CPU.  The first to succeed - the thread or the
 *     innermost handler - fixes the context's cookie; a loser adopts it.
 *  3. The winner, and only it, stores seq = c (the kernel writes its
 *     per-CPU counter back the same way, after a successful CAS).
 * Without the CAS, code interrupted between its check of cnt and its draw
 * by a handler that completed a whole assignment would overwrite that
 * handler's cookie with the next value.  Storing seq before the CAS would
 * let depth-2 nesting move it backwards (interrupted code stores its stale
 * draw after a nested winner's), and a later context would repeat a cookie.
 *
 * All cookie atomics are relaxed: the only parties are the owning thread and
 * handlers nested on it, which see each other's effects in program order
 * (signal delivery is same-thread); atomicity is what matters.  The
 * atomic_signal_fence()s stop the compiler from moving a step across the
 * previous one, so a step point (or a real signal) between two steps sees
 * exactly the state the comments describe.
 */
#include "internal.h"

/* Thread serials.  Partner: every other attach's fetch-add.  Relaxed:
 * uniqueness needs only the RMW's atomicity; nothing is published through
 * it.  Context: thread (attach), never a handler. */
static _Atomic uint32_t du_serials;

uint32_t du_serial_next(void)
{
    uint32_t s;
    do
        s = atomic_fetch_add_explicit(&du_serials, 1u, memory_order_relaxed) + 1u;
    while (DU_UNLIKELY(s == 0)); /* once per 2^32 attaches */
    return s;
}

#ifdef DU_TEST_HOOKS
/* Context: thread, attached, outside a context (tests and the stress
 * harness start counters near the wrap).  Hidden: never exported. */
DU_HIDDEN void du_cookie_seed_seq(uint32_t value)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (th)
        atomic_store_explicit(&th->seq, value, memory_order_relaxed);
}

/* Context: thread, before the attaches it is meant for. */
DU_HIDDEN void du_cookie_seed_serials(uint32_t value)
{
    atomic_store_explicit(&du_serials, value, memory_order_relaxed);
}

/* Context: async-signal-safe, lock-free.  Relaxed: the calling thread's own
 * word (its handlers see program order). */
DU_HIDDEN uint32_t du_debug_claim_depth(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    return th ? atomic_load_explicit(&th->claiming, memory_order_relaxed) : 0;
}

/* Context: thread, attached, no handler requesting.  Relaxed: the calling
 * thread's own words, as in the reset (dispatch.c), whose other partner,
 * cancel's scrub, only clears. */
DU_HIDDEN void du_debug_reset_context(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return;
    atomic_store_explicit(&th->mask, 0, memory_order_relaxed);
    atomic_store_explicit(&th->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&th->cookie_cnt, 0, memory_order_relaxed);
}
#endif

/* Context: async-signal-safe, lock-free. */
uint64_t du_current_cookie(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return DU_COOKIE_NONE;
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    atomic_signal_fence(memory_order_acquire); /* pairs with the reset's fence before CLOSING */
    uint32_t cnt = (m & DU_CLOSING) ? atomic_load_explicit(&th->closing_cnt, memory_order_relaxed)
                                    : atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    return cnt ? du_cookie_make(th, cnt) : DU_COOKIE_NONE;
}
