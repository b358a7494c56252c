/*
 * hooks.h - the points where the historical designs differ from the core.
 *
 * The stress harness must catch every historical bug of the design, so the
 * variants library (Sources/CDeferredUnwindVariants) compiles the core's
 * .c files a second time, under the duv_ prefix and with DU_VARIANTS
 * defined, and picks one historical design at run time (duv_select).  The
 * core's .c files carry no conditional for it: each place where a
 * historical design took another step calls a hook declared here.
 *
 *  - Shipped build (CDeferredUnwind, the C library, the tests): every hook
 *    is a static inline that says "the core's step", a constant the
 *    compiler folds away, so the core's code paths and atomics are exactly
 *    those written in the .c files.
 *  - Variants build (DU_VARIANTS): every hook is an out-of-line function of
 *    the variants target, which answers "the core's step" unless the
 *    selected variant took another one.  Where a whole function differs
 *    (a round, the reset, the cookie), the variants target supplies the
 *    whole historical function, as liburcu swaps whole functions per
 *    flavor; where a step is skipped, the hook says so.
 *
 * A hook that replaces a step returns nonzero when it ran the historical
 * step instead (its result in the out parameter); 0 means "run the core's".
 * Each hook names the variant(s) that use it and the file that holds the
 * historical behaviour.  Adding a hook: a no-op here, the declaration in
 * the DU_VARIANTS half, its duv_ name in CDeferredUnwindVariants/rename.h,
 * the definition in the variants target.
 */
#ifndef DU_HOOKS_H
#define DU_HOOKS_H

#include "internal.h"

#ifndef DU_VARIANTS

/* ---- cookie.c, request.c ---- */

/* The cookie of this context, assigning it if needed (request, dispatch,
 * reset).  Shipped: du_cookie_fast (internal.h), inline, so the first
 * request's claim does not call out for it.  Variants cookie48,
 * naive-percpu and return-local: the per-CPU and v4 designs
 * (CDeferredUnwindVariants/variant_cookie.c). */
static inline uint64_t du_cookie_get(struct du_thread *th) { return du_cookie_fast(th); }

/* Whether a context with a tracer bit set outside CLOSING may still have no
 * cookie low half (du_request's repeat path then assigns one).  Never in
 * the shipped design: the request that set the bit installed the half
 * first.  Variants whose halves may be 0 (cookie48 at the wrap,
 * return-local; variant_cookie.c). */
static inline int du_hook_cookie_may_be_unset(void) { return 0; }

/* The claim of du_request_claim: set DU_PENDING | bit in th->mask and
 * return the old word in *old.  Shipped: the core's fetch-or (request.c).
 * Variant nonatomic-claim: a load, a window, a store
 * (variant_hooks.c). */
static inline int du_hook_claim(struct du_thread *th, uint64_t bits, uint64_t *old)
{
    (void)th;
    (void)bits;
    (void)old;
    return 0;
}

/* ---- dispatch.c, lookup.c ---- */

/* One dispatch round, whole.  Shipped: du_round (dispatch.c).  Variant
 * pending-late: PENDING cleared after the callbacks (variant_dispatch.h,
 * compiled into v_dispatch.c next to the core's round). */
static inline int du_hook_round(struct du_thread *th, uintptr_t caller, int exiting,
                                struct du_trace *trace, int *called)
{
    (void)th;
    (void)caller;
    (void)exiting;
    (void)trace;
    (void)called;
    return 0;
}

/* The tracer bits taken for already called in this context, given the
 * value of th->completed (dispatch's round and lookup).  Shipped: that
 * value.  Variant no-completed (before v14): none, so a second round calls
 * every set bit again (variant_hooks.c). */
static inline uint64_t du_hook_completed(uint64_t completed) { return completed; }

/* The reset that ends the context, whole; *ended as du_reset returns.
 * Shipped: R1..R3 (dispatch.c).  Variant plain-reset: the kernel's CAS of
 * the word, then a plain clear of the cookie (variant_dispatch.h). */
static inline int du_hook_reset(struct du_thread *th, int *ended)
{
    (void)th;
    (void)ended;
    return 0;
}

/* Whether dispatch's lookup runs without liburcu's read-side section.
 * Shipped: never.  Variant mutex-dispatch (v13): its callbacks run under
 * one global mutex instead (variant_hooks.c). */
static inline int du_hook_lookup_unlocked(void) { return 0; }

/* Around the callbacks of one dispatch round (du_registry_call).  Shipped:
 * nothing.  Variant mutex-dispatch: take and drop the global callback
 * mutex (variant_hooks.c). */
static inline void du_hook_callbacks_begin(void) {}
static inline void du_hook_callbacks_end(void) {}

/* ---- registry.c (cancel) ---- */

/* Whether cancel skips its three waits (requests, grace period,
 * callbacks).  Shipped: never.  Variant cancel-no-wait (variant_hooks.c). */
static inline int du_hook_cancel_skips_waits(void) { return 0; }

/* Cancel's wait for running callbacks in a design without the per-tracer
 * wait, after the request wait.  Shipped: nothing (the grace period and
 * du_threads_wait_callbacks do it).  Variant mutex-dispatch: take and drop
 * the global callback mutex (variant_hooks.c). */
static inline void du_hook_cancel_wait_dispatch(void) {}

/* Whether cancel skips the scrub of the bit from every thread.  Shipped:
 * never.  Variant cancel-no-scrub (variant_hooks.c). */
static inline int du_hook_cancel_skips_scrub(void) { return 0; }

/* ---- thread.c ---- */

/* Whether detach and exit free the state without delivering the accepted
 * requests.  Shipped: never.  Variant exit-drops-pending
 * (variant_hooks.c). */
static inline int du_hook_exit_drops_pending(void) { return 0; }

/* ---- proxy.c, dispatch.c ---- */

/* Whether leaving a frozen region ignores a proxy's claim (leaves at once,
 * so the thread's safe point runs beside the proxy).  Shipped: never.
 * Variant leave-no-wait (variant_hooks.c). */
static inline int du_hook_leave_ignores_claim(void) { return 0; }

/* Whether the safe point dispatches inside a frozen region (a handler's
 * call), beside a proxy that may be serving the thread.  Shipped: never.
 * Variant region-safe-point (variant_hooks.c). */
static inline int du_hook_safe_point_in_region(void) { return 0; }

/* ---- fork.c ---- */

/* Whether this copy of the core registers atfork handlers and joins the
 * fork hub.  Shipped: yes.  The variants library, the harness's second
 * copy: no - its locks would have to be taken after liburcu's, which two
 * libraries' atfork order cannot promise for a copy that does not nest
 * (fork.c; variant_hooks.c). */
static inline int du_hook_fork_handlers(void) { return 1; }

#else /* DU_VARIANTS: defined by the variants target, under the duv_ prefix */

DU_HIDDEN uint64_t du_cookie_get(struct du_thread *th);
DU_HIDDEN int du_hook_cookie_may_be_unset(void);
DU_HIDDEN int du_hook_claim(struct du_thread *th, uint64_t bits, uint64_t *old);
DU_HIDDEN int du_hook_round(struct du_thread *th, uintptr_t caller, int exiting,
                            struct du_trace *trace, int *called);
DU_HIDDEN uint64_t du_hook_completed(uint64_t completed);
DU_HIDDEN int du_hook_reset(struct du_thread *th, int *ended);
DU_HIDDEN int du_hook_lookup_unlocked(void);
DU_HIDDEN void du_hook_callbacks_begin(void);
DU_HIDDEN void du_hook_callbacks_end(void);
DU_HIDDEN int du_hook_cancel_skips_waits(void);
DU_HIDDEN void du_hook_cancel_wait_dispatch(void);
DU_HIDDEN int du_hook_cancel_skips_scrub(void);
DU_HIDDEN int du_hook_exit_drops_pending(void);
DU_HIDDEN int du_hook_fork_handlers(void);
DU_HIDDEN int du_hook_leave_ignores_claim(void);
DU_HIDDEN int du_hook_safe_point_in_region(void);

#endif /* DU_VARIANTS */
#endif /* DU_HOOKS_H */
