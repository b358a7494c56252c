/*
 * wb.c - white-box context reset for (1).  The shipped library hides its
 * internals and its test hooks (libCDeferredUnwindShared.so exports neither),
 * so the timed first-request loop runs on the duv_ build (the root package's
 * CDeferredUnwindVariants product, variant "none"), whose request path is
 * the shipped source with the variants' hooks (Sources/CDeferredUnwind/
 * hooks.h) as calls.  The context ends through its test hook,
 * duv_debug_reset_context.  The shipped du_request's first-call cost is
 * counted exactly by callgrind.sh (k_request_first_sp: public API only) and
 * timed on the dus_ copy (row 1s, CDUSBench).
 */
#include "deferred_unwind_variants.h"
#include "include/bench_support.h"

extern du_tracer *bench_duv_tracer0(void);

/* The words a context's reset clears: mask, completed and the cookie's low
 * half.  The thread's serial (high half) is fixed at attach and its `seq`
 * keeps advancing, as it does across real contexts, so every iteration draws
 * a fresh low half exactly like a real first request. */
void bench_wb_reset(void) { duv_debug_reset_context(); }

uint64_t k_request_first(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = bench_duv_tracer0();
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)duv_request(t, &c) + c;
        bench_wb_reset();
    }
    return sum;
}
