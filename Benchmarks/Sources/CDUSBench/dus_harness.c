/*
 * dus_harness.c - the dus_ copy of the shipped core, driven through its
 * public API and one test hook: this thread attached, one tracer
 * registered; each iteration is a first request, and the context ends by
 * hand (du_debug_reset_context: mask, completed, the cookie's low half), so
 * seq keeps advancing and every request draws a new low half exactly as a
 * real first request does.
 */
#include "dus_prefix.h"
#include <stddef.h>
#include "deferred_unwind.h"       /* du_* -> dus_* */
#include "deferred_unwind_debug.h" /* du_debug_reset_context -> dus_ */
#include "include/dus_bench.h"

static du_tracer *dus_tracer;

static void dus_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
}

void dus_setup(void)
{
    if (du_thread_attach() != 0 ||
        du_tracer_register(dus_callback, NULL, "dus", &dus_tracer) != 0)
        dus_tracer = NULL;
}

uint64_t k_request_first_dus(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = dus_tracer;
    if (!t)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)du_request(t, &c) + c; /* dus_request: the shipped source */
        du_debug_reset_context();
    }
    return sum;
}
