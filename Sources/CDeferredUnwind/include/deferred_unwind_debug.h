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
/*
 * The protocol's steps: one table, from which the step enum, the step
 * names (step.c), the interleaving tests' footprints
 * (Tests/C/interleavings/il_reduce.c) and the model check of the step map
 * (StepTableTests: Model/steps.tsv) are made.  One row per step, in enum
 * order (append: the enum's values are not part of any ABI, but keep them
 * stable for logs):
 *
 *   X(ID, name, file, label, fp_a, fp_b)
 *     ID     the enumerator DU_STEP_<ID>
 *     name   du_step_name(): "<part>.<step>"
 *     file   the core file whose DU_STEP() reaches it (Sources/CDeferredUnwind)
 *     label  the Promela label of the model step that completes there
 *            (the .pml files of Model/; Model/steps.tsv is the model's side
 *            of the map)
 *     fp_a   footprint of a requester's segment from this step to its next
 *            park, fp_b the same for the canceller/registrar
 *            (il_reduce.c: FP(reads, writes) of its IL_* bits, IL_FP_ALL
 *            when the thread never parks there).  Tokens for the tests
 *            only: nothing here expands them.
 *
 * Changing a step: this row, the DU_STEP() in `file`, Model/steps.tsv and
 * the model (Scripts/model-check.sh), the footprints if the segment after
 * the step changed; StepTableTests fails when the code, the table and the
 * model's map disagree.
 */
#define DU_STEP_TABLE(X) \
    X(COOKIE_DRAWN, "cookie.drawn", "cookie.h", "cookie_seq_read", \
      FP(0, 0), IL_FP_ALL) /* cookie: next value computed from the context counter, before the install */ \
    X(COOKIE_CLAIMED, "cookie.claimed", "cookie.h", "cookie_claimed", \
      FP(0, 0), IL_FP_ALL) /* cookie: low half compare-exchange done */ \
    X(COOKIE_SEQ_STORED, "cookie.seq-stored", "cookie.h", "cookie_seq_stored", \
      FP(0, 0), IL_FP_ALL) /* cookie: the winner stored the context counter */ \
    X(REQUEST_BIT_READ, "request.bit-read", "request.c", "request_bit_read", \
      FP(IL_H, IL_CL | IL_O | IL_K), IL_FP_ALL) /* request: tracer bit and mask read */ \
    X(REQUEST_COOKIE_READY, "request.cookie-ready", "request.c", "request_cookie_ready", \
      FP(IL_M, IL_M), IL_FP_ALL) /* request: cookie known, before the claim */ \
    X(REQUEST_CLAIMED, "request.claimed", "request.c", "request_claimed", \
      FP(IL_H, IL_CL | IL_O | IL_K), IL_FP_ALL) /* request: fetch-or of PENDING|bit done */ \
    X(DISPATCH_PENDING_CLEARED, "dispatch.pending-cleared", "dispatch.c", "dispatch_pending_cleared", \
      FP(IL_M, IL_M | IL_O), IL_FP_ALL) /* dispatch: PENDING cleared, bits kept */ \
    X(DISPATCH_UNWOUND, "dispatch.unwound", "dispatch.c", "round_todo", \
      FP(IL_M | IL_L | IL_R, IL_R | IL_M | IL_CL | IL_O), IL_FP_ALL) /* dispatch: trace in the cache */ \
    X(DISPATCH_FOUND, "dispatch.found", "lookup.c", "dispatch_found", \
      FP(IL_M | IL_L, IL_M | IL_K), IL_FP_ALL) /* dispatch: in the read section, tracer live, bit re-checked; not yet marked */ \
    X(DISPATCH_MARKED, "dispatch.marked", "lookup.c", "dispatch_marked", \
      FP(0, IL_R), IL_FP_ALL) /* dispatch: completed marked and calling published, still in the section */ \
    X(DISPATCH_CALLBACK, "dispatch.callback", "lookup.c", "dispatch_callback", \
      il_fp_callback(acts), IL_FP_ALL) /* dispatch: section left, before the callback */ \
    X(DISPATCH_RETURNED, "dispatch.returned", "lookup.c", "dispatch_returned", \
      FP(IL_M | IL_L | IL_R, IL_R | IL_M | IL_CL | IL_O), IL_FP_ALL) /* dispatch: callback returned, calling cleared */ \
    X(RESET_BEGIN, "reset.begin", "dispatch.c", "reset_cookie_check", \
      FP(IL_M, IL_M | IL_O), IL_FP_ALL) /* reset: no PENDING seen, about to close */ \
    X(RESET_CLOSING, "reset.closing", "dispatch.c", "reset_closing", \
      FP(0, 0), IL_FP_ALL) /* reset: CLOSING set, cookie still in place */ \
    X(RESET_COOKIE_CLEARED, "reset.cookie-cleared", "dispatch.c", "reset_cookie_cleared", \
      FP(IL_M, IL_M | IL_O), IL_FP_ALL) /* reset: cookie low half cleared, CLOSING still set */ \
    X(RESET_REOPENED, "reset.reopened", "dispatch.c", "reset_reopened", \
      FP(IL_M, IL_M | IL_O), IL_FP_ALL) /* reset: a request slipped in; cookie restored */ \
    X(RESET_DONE, "reset.done", "dispatch.c", "reset_done", \
      FP(0, 0), IL_FP_ALL) /* reset: mask 0, context over */ \
    X(CANCEL_MARKED, "cancel.marked", "registry.c", "cancel_marked", \
      IL_FP_ALL, FP(IL_T | IL_CL | IL_K, 0)) /* cancel: tracer unpublished (live 0) */ \
    X(CANCEL_REQUESTS_QUIET, "cancel.requests-quiet", "registry.c", "cancel_requests_poll", \
      IL_FP_ALL, FP(0, 0)) /* cancel: no request that saw it live still runs */ \
    X(CANCEL_SYNCED, "cancel.synced", "registry.c", "cancel_sync_poll", \
      IL_FP_ALL, FP(IL_T | IL_CL | IL_K, 0)) /* cancel: RCU grace period over (no lookup still runs) */ \
    X(CANCEL_CALLBACKS_QUIET, "cancel.callbacks-quiet", "registry.c", "cancel_quiet_poll", \
      IL_FP_ALL, FP(IL_T | IL_M, IL_T | IL_M)) /* cancel: no callback of the tracer runs */ \
    X(CANCEL_SCRUBBED, "cancel.scrubbed", "registry.c", "cancel_scrubbed", \
      IL_FP_ALL, FP(IL_U, IL_U)) /* cancel: bit cleared in every thread */ \
    X(CANCEL_FREED, "cancel.freed", "registry.c", "cancel_freed", \
      IL_FP_ALL, FP(0, IL_O)) /* cancel: bit free for the next register */ \
    X(CANCEL_WAIT_POLL, "cancel.wait-poll", "thread_wait.c", "cancel_requests_poll", \
      IL_FP_ALL, FP(IL_T | IL_CL | IL_K, 0)) /* cancel: a wait found a busy thread, about to sleep and look again */ \
    X(REGISTER_PUBLISHED, "register.published", "registry.c", "register_published", \
      FP(IL_L | IL_M, IL_H | IL_CL | IL_O), FP(0, IL_H | IL_O)) /* register: handle published (live), lock released */ \
    X(DETACH_EXITING, "detach.exiting", "thread.c", "detach_exiting", \
      FP(IL_M, IL_M | IL_O), IL_FP_ALL) /* detach: EXITING set */ \
    X(DETACH_DRAINED, "detach.drained", "thread.c", "dispatch_load", \
      FP(IL_M | IL_T, IL_T | IL_O), IL_FP_ALL) /* detach: pending requests delivered */ \
    X(CANCEL_WAIT_LOOKED, "cancel.wait-looked", "thread_wait.c", "cancel_requests_look", \
      IL_FP_ALL, FP(IL_T | IL_CL | IL_K, 0)) /* cancel: a wait's look read one thread's count (list lock held) */ \
    X(FROZEN_ENTERED, "frozen.entered", "proxy.c", "frozen_entered", \
      FP(0, 0), IL_FP_ALL) /* frozen region: frame recorded, frozen published (release) */ \
    X(PROXY_PEEKED, "proxy.peeked", "proxy.c", "proxy_peeked", \
      FP(IL_M | IL_F | IL_T, IL_F | IL_O), IL_FP_ALL) /* proxy: a thread seen frozen with requests (list lock held), before the claim */ \
    X(PROXY_CLAIMED, "proxy.claimed", "proxy.c", "proxy_claimed", \
      FP(IL_M | IL_F | IL_T, IL_M | IL_F | IL_O), IL_FP_ALL) /* proxy: claim taken (acquire), list lock about to be dropped */ \
    X(PROXY_UNWOUND, "proxy.unwound", "proxy.c", "proxy_unwound", \
      FP(IL_L | IL_M | IL_R | IL_F | IL_T, IL_R | IL_F | IL_O), IL_FP_ALL) /* proxy: the frozen stack in the thread's cache */ \
    X(PROXY_RELEASED, "proxy.released", "proxy.c", "proxy_released", \
      FP(IL_T, 0), IL_FP_ALL) /* proxy: claim released (release), list lock held */ \
    X(FROZEN_WAITING, "frozen.waiting", "proxy.c", "frozen_waiting", \
      FP(IL_F, IL_F), IL_FP_ALL) /* leave: found the claim, waits for the proxy */ \
    X(FROZEN_LEFT, "frozen.left", "proxy.c", "frozen_left", \
      FP(IL_F, IL_O), IL_FP_ALL) /* leave: out of the region (acquire) */ \
    /* end of DU_STEP_TABLE */

enum du_step {
#define DU_STEP_ENUM_(id, name, file, label, fp_a, fp_b) DU_STEP_##id,
    DU_STEP_TABLE(DU_STEP_ENUM_)
#undef DU_STEP_ENUM_
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
