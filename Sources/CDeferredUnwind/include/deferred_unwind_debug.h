/*
 * deferred_unwind_debug.h - test and diagnostic entry points.
 *
 * Two groups, neither in the C library that `make` builds:
 *  - Test hooks (DU_TEST_HOOKS, defined by the SwiftPM target): counter
 *    seeding, used by tests and the stress harness to start the per-CPU
 *    counters near wrap.  They add no branch to any hot path and are hidden:
 *    linked into the tests and the harness, never exported by a shared
 *    library (.ci/run checks with nm -D).
 *  - Step points: built only with DU_STEP_POINTS (SwiftPM debug builds of the
 *    CDeferredUnwind target define it; release builds never do, and
 *    .ci/run checks the release library has no du_step symbol).  A step
 *    hook, set per thread, runs at every named atomic step of cookie
 *    assignment, request, dispatch, reset, cancel and detach, so a test can
 *    run a nested "signal" (a request) at each one, deterministically.
 */
#ifndef DEFERRED_UNWIND_DEBUG_H
#define DEFERRED_UNWIND_DEBUG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Set every per-CPU counter to `value` (its low bit is forced to 1 on use).
 * Only meaningful before requests start; racing requests keep uniqueness per
 * counter but the test loses its starting point.
 * Context: thread; lock-free; not from a handler. */
void du_cookie_seed_counters(uint32_t value);

/* Number of per-CPU counter slots (CPU numbers are taken modulo this).
 * Context: any. */
uint32_t du_cookie_slots(void);

/* ---- Step points (DU_STEP_POINTS builds only) ---------------------------- */
enum du_step {
    DU_STEP_COOKIE_CPU_READ,      /* cookie: CPU half read as 0, CPU slot chosen */
    DU_STEP_COOKIE_CPU_CLAIMED,   /* cookie: CPU half compare-exchange done */
    DU_STEP_COOKIE_COUNTER_DRAWN, /* cookie: value drawn from the slot counter */
    DU_STEP_COOKIE_COUNTER_CLAIMED, /* cookie: counter half compare-exchange done */
    DU_STEP_REQUEST_BIT_READ,     /* request: tracer bit and mask read */
    DU_STEP_REQUEST_COOKIE_READY, /* request: cookie known, before the claim */
    DU_STEP_REQUEST_CLAIMED,      /* request: fetch-or of PENDING|bit done */
    DU_STEP_DISPATCH_PENDING_CLEARED, /* dispatch: PENDING cleared, bits kept */
    DU_STEP_DISPATCH_UNWOUND,     /* dispatch: trace in the cache */
    DU_STEP_DISPATCH_CALLBACK,    /* dispatch: a tracer marked completed, before its callback */
    DU_STEP_RESET_BEGIN,          /* reset: no PENDING seen, about to close */
    DU_STEP_RESET_CLOSING,        /* reset: CLOSING set, cookie still in place */
    DU_STEP_RESET_COOKIE_CLEARED, /* reset: cookie halves cleared, CLOSING still set */
    DU_STEP_RESET_REOPENED,       /* reset: a request slipped in; cookie restored */
    DU_STEP_RESET_DONE,           /* reset: mask 0, context over */
    DU_STEP_CANCEL_MARKED,        /* cancel: tracer bit set to -1 */
    DU_STEP_CANCEL_SYNCED,        /* cancel: grace period over */
    DU_STEP_CANCEL_SCRUBBED,      /* cancel: bit cleared in every thread */
    DU_STEP_DETACH_EXITING,       /* detach: EXITING set */
    DU_STEP_DETACH_DRAINED,       /* detach: pending requests delivered */
    DU_STEP_COUNT
};

typedef void (*du_step_hook)(enum du_step step, void *arg);

/* Name of a step ("cookie.cpu-read", ...). Context: any. */
const char *du_step_name(enum du_step step);

/* Install (or clear, with NULL) the calling thread's step hook.  The hook is
 * re-entered for the steps its own nested requests reach; it must track its
 * own depth.
 * Context: thread. DU_STEP_POINTS builds only. */
void du_debug_set_step_hook(du_step_hook hook, void *arg);

/* Make the next trace-cache allocation on the calling thread fail.
 * Context: thread. DU_STEP_POINTS builds only. */
void du_debug_fail_next_cache_alloc(void);

/* Free the calling thread's trace cache, so the next unwind allocates again.
 * Context: thread, outside callbacks. DU_STEP_POINTS builds only. */
void du_debug_drop_cache(void);

/* 1 when this library was built with step points, else 0.  DU_TEST_HOOKS
 * builds only.  Context: any. */
int du_debug_step_points_built(void);

#ifdef __cplusplus
}
#endif
#endif /* DEFERRED_UNWIND_DEBUG_H */
