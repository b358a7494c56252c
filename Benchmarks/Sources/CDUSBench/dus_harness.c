/*
 * dus_harness.c - the state the dus_ request path reads, set up by hand:
 * one thread state (serial from dus_serial_next, as attach does), one
 * registered tracer slot (bit 3, generation 1), membarrier assumed (as in
 * the shipped library on this kernel: the claim span is signal fences).
 * White box: the reset clears what a real context end clears (mask,
 * completed, the cookie's low half); seq keeps advancing, so every request
 * draws a new low half exactly as a real first request does.
 */
#include "dus_prefix.h"
#include "../../../Sources/CDeferredUnwind/internal.h"
#include "include/dus_bench.h"

DU_HIDDEN DU_IE_TLS _Atomic(struct du_thread *) du_self;
DU_HIDDEN int du_have_membarrier = 1;
DU_HIDDEN struct du_tracer_slot du_tracer_slots[64];

static struct du_thread dus_thread; /* one cache line, aligned by its type */
enum { DUS_BIT = DU_FIRST_TRACER_BIT };
#define DUS_HANDLE (((uint64_t)1 << DU_SLOT_SHIFT) | DUS_BIT)

void dus_setup(void)
{
    atomic_store_explicit(&dus_thread.serial, du_serial_next(), memory_order_relaxed);
    atomic_store_explicit(&du_tracer_slots[DUS_BIT].gen, 1, memory_order_relaxed);
    atomic_store_explicit(&du_tracer_slots[DUS_BIT].live, DUS_HANDLE, memory_order_release);
    atomic_store_explicit(&du_self, &dus_thread, memory_order_relaxed);
}

static inline void dus_reset(struct du_thread *th)
{
    atomic_store_explicit(&th->mask, 0, memory_order_relaxed);
    atomic_store_explicit(&th->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&th->cookie_cnt, 0, memory_order_relaxed);
}

uint64_t k_request_first_dus(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = (du_tracer *)(uintptr_t)DUS_HANDLE;
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)du_request(t, &c) + c; /* dus_request: the shipped source */
        dus_reset(th);
    }
    return sum;
}
