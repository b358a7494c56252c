/*
 * cookie.c - entry-context cookies: async-signal-safe, 32-bit compare-exchange.
 *
 * A cookie is (slot + 1) << 32 | counter, where `slot` names one of the
 * per-CPU counters below and `counter` is a value drawn from that counter.
 *
 * Why not the kernel's literal algorithm.  The kernel reads this CPU's
 * counter, compare-exchanges the task's counter half, writes the counter back
 * and then writes the CPU half; with interrupts off the task and every NMI on
 * top of it share one CPU, so all of them write the same CPU half and only
 * one of them bumps that CPU's counter at a time.  A user thread can migrate
 * at any instruction, and two threads can share a CPU: a handler can write a
 * different CPU half than the code it interrupted (they disagree), and two
 * threads can read the same counter value before either writes it back (they
 * collide).  The `naive-percpu` variant of the stress harness is exactly that.
 *
 * What we do instead:
 *  1. The CPU half is claimed first, by a 32-bit compare-exchange from 0.
 *     Whoever wins (the thread or the innermost handler) fixes which counter
 *     slot this context draws from; everyone else adopts the winner's half.
 *  2. The counter half is then drawn from *that* slot, not from the CPU we
 *     run on now: an atomic fetch-add makes each drawn value unique to its
 *     drawer even when many threads share (or migrate across) the slot.  It
 *     is claimed by a 32-bit compare-exchange from 0; a loser's drawn value
 *     is simply skipped.
 * So the pair (slot, value) exists once per draw: unique across all threads
 * until that slot's counter wraps (2^31 draws), and every requester in the
 * context (thread and nested handlers at any depth) returns the halves the
 * two compare-exchanges installed.  Migration only changes which slot is
 * used, i.e. cache locality, never correctness.  sched_getcpu() is a hint.
 *
 * Zero'd halves are unassigned.  The counter is advanced by 2 and the drawn
 * value has its low bit forced to 1, so the counter half is never 0, even at
 * the wrap; the CPU half is slot + 1, never 0.
 *
 * All cookie atomics are relaxed: the only parties are the owning thread and
 * handlers nested on it, which see each other's effects in program order
 * (signal delivery is same-thread); atomicity is what matters.  The
 * atomic_signal_fence()s stop the compiler from moving a step across the
 * previous one, so a step point (or a real signal) between two steps sees
 * exactly the state the comments describe.
 */
#define _GNU_SOURCE
#include <sched.h>
#include "internal.h"

/* Number of counter slots; CPU numbers are folded modulo this. */
#define DU_COOKIE_SLOTS 1024u
_Static_assert((DU_COOKIE_SLOTS & (DU_COOKIE_SLOTS - 1)) == 0, "slots: power of two");
_Static_assert(DU_COOKIE_SLOTS < UINT32_MAX, "slot + 1 must fit the CPU half");

/* One counter per cache line: threads on different CPUs never share a line. */
struct du_slot {
    /* Partner: every fetch-add on the same slot, from any thread.  Relaxed:
     * uniqueness needs only the RMW's atomicity (one total modification
     * order per object); nothing else is published through it. */
    _Atomic uint32_t counter;
} __attribute__((aligned(DU_CACHELINE)));

static struct du_slot du_slots[DU_COOKIE_SLOTS];

static uint32_t du_current_slot(void)
{
    /* rseq/vDSO read in glibc; may set errno, which du_request restores. */
    int cpu = sched_getcpu();
    return cpu < 0 ? 0u : (uint32_t)cpu & (DU_COOKIE_SLOTS - 1);
}

static uint32_t du_slot_draw(uint32_t slot)
{
    uint32_t v = atomic_fetch_add_explicit(&du_slots[slot].counter, 2u, memory_order_relaxed);
    return (v + 2u) | 1u; /* odd: never 0, also across the wrap */
}

#ifdef DU_VARIANTS
#include "../CDeferredUnwindVariants/variant_cookie.h"
#endif

/* Context: async-signal-safe, lock-free; owning thread or its handlers. */
uint64_t du_cookie_get(struct du_thread *th)
{
#ifdef DU_VARIANTS
    if (DUV_IS(COOKIE48))
        return duv_cookie48(th);
    if (DUV_IS(NAIVE_PERCPU))
        return duv_cookie_naive(th);
    int first = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed) == 0;
#endif
    uint32_t cpu = atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed);
    uint32_t cnt;

    if (cpu == 0) {
        uint32_t mine = du_current_slot() + 1u;
        uint32_t expected = 0;
        DU_STEP(DU_STEP_COOKIE_CPU_READ);
        /* Partner: the same CAS in a nested handler.  The first to succeed
         * fixes the slot; a loser reads the winner's half from `expected`. */
        if (atomic_compare_exchange_strong_explicit(&th->cookie_cpu, &expected, mine,
                                                    memory_order_relaxed, memory_order_relaxed))
            cpu = mine;
        else
            cpu = expected;
        DU_STEP(DU_STEP_COOKIE_CPU_CLAIMED);
    }
    atomic_signal_fence(memory_order_seq_cst); /* CPU half settled before the counter half */

    cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if (cnt == 0) {
        uint32_t drawn = du_slot_draw(cpu - 1u);
        uint32_t expected = 0;
        DU_STEP(DU_STEP_COOKIE_COUNTER_DRAWN);
        /* Partner: the same CAS in a nested handler; a loser's draw is
         * skipped (a gap in the counter, never a duplicate). */
        if (atomic_compare_exchange_strong_explicit(&th->cookie_cnt, &expected, drawn,
                                                    memory_order_relaxed, memory_order_relaxed))
            cnt = drawn;
        else
            cnt = expected;
        DU_STEP(DU_STEP_COOKIE_COUNTER_CLAIMED);
    }
#ifdef DU_VARIANTS
    if (DUV_IS(RETURN_LOCAL) && first)
        return 0; /* v4: returned the local that was never assigned */
#endif
    return ((uint64_t)cpu << 32) | cnt;
}

/* Context: owning thread, inside the reset while CLOSING is set (handlers
 * then read closing_cookie, not the halves, so the order of the two stores
 * does not matter).  Relaxed: same-thread partners only. */
void du_cookie_clear(struct du_thread *th)
{
    atomic_store_explicit(&th->cookie_cnt, 0u, memory_order_relaxed);
    atomic_store_explicit(&th->cookie_cpu, 0u, memory_order_relaxed);
}

/* Context: owning thread, while CLOSING is still set (see du_cookie_clear). */
void du_cookie_restore(struct du_thread *th, uint64_t cookie)
{
    atomic_store_explicit(&th->cookie_cpu, du_cookie_cpu_half(cookie), memory_order_relaxed);
    atomic_store_explicit(&th->cookie_cnt, du_cookie_counter_half(cookie), memory_order_relaxed);
}

#ifdef DU_TEST_HOOKS
/* Context: thread, before requests start (tests and the stress harness).
 * Hidden: linked into the tests and the harness, never exported. */
DU_HIDDEN void du_cookie_seed_counters(uint32_t value)
{
    for (uint32_t i = 0; i < DU_COOKIE_SLOTS; i++)
        atomic_store_explicit(&du_slots[i].counter, value, memory_order_relaxed);
}

DU_HIDDEN uint32_t du_cookie_slots(void) { return DU_COOKIE_SLOTS; }
#endif

/* Context: async-signal-safe, lock-free. */
uint64_t du_current_cookie(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return DU_COOKIE_NONE;
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    atomic_signal_fence(memory_order_acquire); /* pairs with the reset's fence before CLOSING */
    if (m & DU_CLOSING)
        return atomic_load_explicit(&th->closing_cookie, memory_order_relaxed);
    uint32_t cpu = atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed);
    uint32_t cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    return (cpu && cnt) ? ((uint64_t)cpu << 32) | cnt : DU_COOKIE_NONE;
}
