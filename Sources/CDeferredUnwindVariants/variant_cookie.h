/* variant_cookie.h - historical cookie designs, included by cookie.c in the
 * duv_ library only.  Each is the bug, kept on purpose. */
#ifndef DUV_VARIANT_COOKIE_H
#define DUV_VARIANT_COOKIE_H
#include "variant_window.h"

/* cookie48 (v4): CPU in the top 16 bits, a counter below; 0 means "none".
 * The counter is not kept odd, so CPU 0 at the wrap yields cookie 0.
 * The CPU goes in the CPU half's top 16 bits; "assigned" is any half != 0,
 * so a 0 cookie is recomputed (and is 0 again only at the wrap). */
static uint64_t duv_cookie48(struct du_thread *th)
{
    uint32_t hi = atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed);
    uint32_t lo = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if (hi | lo)
        return ((uint64_t)hi << 32) | lo;
    uint32_t slot = du_current_slot();
    uint32_t v = atomic_fetch_add_explicit(&du_slots[slot].counter, 2u, memory_order_relaxed) + 2u;
    uint32_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&th->cookie_cnt, &expected, v,
                                                 memory_order_relaxed, memory_order_relaxed))
        v = expected;
    atomic_store_explicit(&th->cookie_cpu, slot << 16, memory_order_relaxed);
    return ((uint64_t)(slot << 16) << 32) | v;
}

/* naive-percpu: the final kernel get_cookie() read literally.  A plain read
 * and write-back of this CPU's counter (two threads on one CPU draw the same
 * value) and the CPU half written after the CAS (a handler that runs on
 * another CPU after a migration writes a different one). */
static uint64_t duv_cookie_naive(struct du_thread *th)
{
    if (atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed))
        return ((uint64_t)atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed) << 32) |
               atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    uint32_t slot = du_current_slot();
    uint32_t cnt = (atomic_load_explicit(&du_slots[slot].counter, memory_order_relaxed) + 2u) | 1u;
    duv_window();
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong_explicit(&th->cookie_cnt, &expected, cnt,
                                                memory_order_relaxed, memory_order_relaxed))
        atomic_store_explicit(&du_slots[slot].counter, cnt, memory_order_relaxed);
    duv_window();
    atomic_store_explicit(&th->cookie_cpu, du_current_slot() + 1u, memory_order_relaxed);
    return ((uint64_t)atomic_load_explicit(&th->cookie_cpu, memory_order_relaxed) << 32) |
           atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
}
#endif
