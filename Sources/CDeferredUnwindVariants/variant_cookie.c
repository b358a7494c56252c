/* variant_cookie.c - historical cookie designs: the variants build's
 * du_cookie_get and du_hook_cookie_may_be_unset (../CDeferredUnwind/hooks.h).
 * Each is the bug, kept on purpose.
 *
 * Both are per-CPU designs: the high half comes from the CPU, the low half
 * from a counter per CPU shared by every thread that runs there.  The core's
 * thread serial field holds their CPU half (they rewrite it at every draw);
 * "assigned" is the low half != 0, as in the core. */
#define _GNU_SOURCE /* sched_getcpu */
#include <errno.h>
#include <sched.h>
#include "prefix.h"
#include "../CDeferredUnwind/hooks.h"
#include "deferred_unwind_variants.h"
#include "variant_window.h"

#define DUV_COOKIE_SLOTS 1024u
/* One counter per CPU (folded modulo the slot count), one per cache line. */
static struct {
    _Atomic uint32_t counter;
} __attribute__((aligned(DU_CACHELINE))) duv_slots[DUV_COOKIE_SLOTS];

static uint32_t duv_current_slot(void)
{
    int cpu = sched_getcpu(); /* may set errno: du_cookie_get restores it */
    return cpu < 0 ? 0u : (uint32_t)cpu & (DUV_COOKIE_SLOTS - 1);
}

/* cookie48 (v4): CPU in the top 16 bits, a counter below; 0 means "none".
 * The counter is not kept odd, so CPU 0 at the wrap yields cookie 0 (and a
 * low half of 0 is recomputed at each request, so it changes). */
static uint64_t duv_cookie48(struct du_thread *th)
{
    uint32_t lo = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if (lo)
        return du_cookie_make(th, lo);
    uint32_t slot = duv_current_slot();
    uint32_t v = atomic_fetch_add_explicit(&duv_slots[slot].counter, 2u, memory_order_relaxed) + 2u;
    uint32_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&th->cookie_cnt, &expected, v,
                                                 memory_order_relaxed, memory_order_relaxed))
        v = expected;
    atomic_store_explicit(&th->serial, slot << 16, memory_order_relaxed);
    return ((uint64_t)(slot << 16) << 32) | v;
}

/* naive-percpu: the final kernel get_cookie() read literally.  A plain read
 * and write-back of this CPU's counter (two threads on one CPU draw the same
 * value) and the CPU half written after the CAS (a handler that runs on
 * another CPU after a migration writes a different one). */
static uint64_t duv_cookie_naive(struct du_thread *th)
{
    if (atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed))
        return du_cookie_make(th, atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed));
    uint32_t slot = duv_current_slot();
    uint32_t cnt = (atomic_load_explicit(&duv_slots[slot].counter, memory_order_relaxed) + 2u) | 1u;
    duv_window();
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong_explicit(&th->cookie_cnt, &expected, cnt,
                                                memory_order_relaxed, memory_order_relaxed))
        atomic_store_explicit(&duv_slots[slot].counter, cnt, memory_order_relaxed);
    duv_window();
    atomic_store_explicit(&th->serial, duv_current_slot() + 1u, memory_order_relaxed);
    return du_cookie_make(th, atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed));
}

/* The historical designs, else the shipped path (du_cookie_fast, which the
 * shipped build inlines as du_cookie_get).  errno is kept: du_request's
 * contract, and the per-CPU designs call sched_getcpu().
 * Context: async-signal-safe, lock-free; owning thread or its handlers. */
uint64_t du_cookie_get(struct du_thread *th)
{
    int saved_errno = errno;
    uint64_t cookie;
    if (DUV_IS(COOKIE48)) {
        cookie = duv_cookie48(th);
    } else if (DUV_IS(NAIVE_PERCPU)) {
        cookie = duv_cookie_naive(th);
    } else {
        int first = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed) == 0;
        cookie = du_cookie_fast(th);
        if (DUV_IS(RETURN_LOCAL) && first)
            cookie = 0; /* v4: returned the local that was never assigned */
    }
    errno = saved_errno;
    return cookie;
}

/* A repeat request may find the low half 0 (cookie48 at the wrap,
 * return-local): it assigns one then.  In every variant, as before the
 * hooks; the shipped design never needs it. */
int du_hook_cookie_may_be_unset(void) { return 1; }

/* Test hook: the per-CPU counters of the historical designs. */
DU_HIDDEN void du_cookie_seed_counters(uint32_t value)
{
    for (uint32_t i = 0; i < DUV_COOKIE_SLOTS; i++)
        atomic_store_explicit(&duv_slots[i].counter, value, memory_order_relaxed);
}
