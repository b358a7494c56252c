/*
 * deferred_unwind_debug.h - test and diagnostic entry points.
 *
 * Two groups, neither in the C library that `make` builds:
 *  - Test hooks (DU_TEST_HOOKS, defined by the SwiftPM target): counter
 *    seeding, used by tests and the stress harness to start a thread's
 *    context counter, or the thread serials, near the wrap.  They add no branch to any hot path and are hidden:
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

/* Set the calling thread's context counter: its next context's cookie has
 * low half (value + 2) | 1.  Attached threads only, outside a context.
 * Context: thread; lock-free; not from a handler. */
void du_cookie_seed_seq(uint32_t value);

/* Set the thread-serial counter: the next attach gets serial value + 1
 * (0 is skipped).  Context: thread; before the attaches it is meant for. */
void du_cookie_seed_serials(uint32_t value);

/* How many du_request() calls are in progress on the calling thread (thread
 * context plus nested handlers; 0 when detached): a handler that reads
 * non-zero interrupted one inside the span cancel waits for.  The stress
 * harness's held-request scenario parks there.  DU_TEST_HOOKS builds only.
 * Context: async-signal-safe, lock-free. */
uint32_t du_debug_claim_depth(void);

/* End the calling thread's context by hand, without a dispatch or an
 * unwind: clear what the safe point's reset clears (the pending word, the
 * completed bits, the cookie's low half), so the next request is the first
 * of a new context; accepted requests are dropped, not delivered.  The
 * thread serial and the context counter are kept, so the next cookie is
 * drawn as at a real context start.  For the benchmarks' timed first
 * request.  DU_TEST_HOOKS builds only.
 * Context: thread, attached, not in a callback, no handler requesting. */
void du_debug_reset_context(void);

/* ---- Step points (DU_STEP_POINTS builds only) ---------------------------- */
enum du_step {
    DU_STEP_COOKIE_DRAWN,         /* cookie: next value computed from the context counter, before the install */
    DU_STEP_COOKIE_CLAIMED,       /* cookie: low half compare-exchange done */
    DU_STEP_COOKIE_SEQ_STORED,    /* cookie: the winner stored the context counter */
    DU_STEP_REQUEST_BIT_READ,     /* request: tracer bit and mask read */
    DU_STEP_REQUEST_COOKIE_READY, /* request: cookie known, before the claim */
    DU_STEP_REQUEST_CLAIMED,      /* request: fetch-or of PENDING|bit done */
    DU_STEP_DISPATCH_PENDING_CLEARED, /* dispatch: PENDING cleared, bits kept */
    DU_STEP_DISPATCH_UNWOUND,     /* dispatch: trace in the cache */
    DU_STEP_DISPATCH_FOUND,       /* dispatch: in the read section, tracer live, bit re-checked; not yet marked */
    DU_STEP_DISPATCH_MARKED,      /* dispatch: completed marked and calling published, still in the section */
    DU_STEP_DISPATCH_CALLBACK,    /* dispatch: section left, before the callback */
    DU_STEP_DISPATCH_RETURNED,    /* dispatch: callback returned, calling cleared */
    DU_STEP_RESET_BEGIN,          /* reset: no PENDING seen, about to close */
    DU_STEP_RESET_CLOSING,        /* reset: CLOSING set, cookie still in place */
    DU_STEP_RESET_COOKIE_CLEARED, /* reset: cookie low half cleared, CLOSING still set */
    DU_STEP_RESET_REOPENED,       /* reset: a request slipped in; cookie restored */
    DU_STEP_RESET_DONE,           /* reset: mask 0, context over */
    DU_STEP_CANCEL_MARKED,        /* cancel: tracer unpublished (live 0) */
    DU_STEP_CANCEL_REQUESTS_QUIET, /* cancel: no request that saw it live still runs */
    DU_STEP_CANCEL_SYNCED,        /* cancel: RCU grace period over (no lookup still runs) */
    DU_STEP_CANCEL_CALLBACKS_QUIET, /* cancel: no callback of the tracer runs */
    DU_STEP_CANCEL_SCRUBBED,      /* cancel: bit cleared in every thread */
    DU_STEP_CANCEL_FREED,         /* cancel: bit free for the next register */
    DU_STEP_CANCEL_WAIT_POLL,     /* cancel: a wait found a busy thread, about to sleep and look again */
    DU_STEP_REGISTER_PUBLISHED,   /* register: handle published (live), lock released */
    DU_STEP_DETACH_EXITING,       /* detach: EXITING set */
    DU_STEP_DETACH_DRAINED,       /* detach: pending requests delivered */
    DU_STEP_CANCEL_WAIT_LOOKED,   /* cancel: a wait's look read one thread's count (list lock held) */
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
