/*
 * wb.c - white-box context reset for (1).  The shipped library hides its
 * internals (du_self is hidden in libCDeferredUnwindShared.so), so the timed
 * first-request loop runs on the duv_ build linked into this executable,
 * whose request path is the shipped source plus one DUV_IS(NONATOMIC_CLAIM)
 * test.  The shipped du_request's first-call cost is counted exactly by
 * callgrind.sh (k_request_first_sp: public API only).
 */
#include "prefix.h"   /* root Sources/CDeferredUnwindVariants: du_* -> duv_* */
#include "internal.h" /* root Sources/CDeferredUnwind */
#include "include/bench_support.h"

extern du_tracer *bench_duv_tracer0(void);

/* The words a context's reset clears: mask, completed and the cookie's low
 * half.  The thread's serial (high half) is fixed at attach and its `seq`
 * keeps advancing, as it does across real contexts, so every iteration draws
 * a fresh low half exactly like a real first request. */
void bench_wb_reset(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    atomic_store_explicit(&th->mask, 0, memory_order_relaxed);
    atomic_store_explicit(&th->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&th->cookie_cnt, 0, memory_order_relaxed);
}

uint64_t k_request_first(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = bench_duv_tracer0();
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)du_request(t, &c) + c; /* duv_request */
        bench_wb_reset();
    }
    return sum;
}
