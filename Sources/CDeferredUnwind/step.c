/*
 * step.c - step points for deterministic interruption tests.
 *
 * Compiled to nothing unless DU_STEP_POINTS is defined (SwiftPM debug
 * builds).  Release builds have no hook, no counter, no branch: DU_STEP()
 * expands to ((void)0) there, and .ci/run checks that the release library
 * exports no du_debug_set_step_hook.
 */
#include "internal.h"

#ifdef DU_STEP_POINTS
#include <stddef.h>

/* Per thread: the hook of the test driving this thread.  initial-exec, and
 * plain (not atomic): only the owning thread and its handlers touch it. */
static DU_IE_TLS du_step_hook du_hook;
static DU_IE_TLS void *du_hook_arg;
static DU_IE_TLS int du_fail_alloc;

static const char *const du_step_names[DU_STEP_COUNT] = {
    [DU_STEP_COOKIE_DRAWN] = "cookie.drawn",
    [DU_STEP_COOKIE_CLAIMED] = "cookie.claimed",
    [DU_STEP_COOKIE_SEQ_STORED] = "cookie.seq-stored",
    [DU_STEP_REQUEST_BIT_READ] = "request.bit-read",
    [DU_STEP_REQUEST_COOKIE_READY] = "request.cookie-ready",
    [DU_STEP_REQUEST_CLAIMED] = "request.claimed",
    [DU_STEP_DISPATCH_PENDING_CLEARED] = "dispatch.pending-cleared",
    [DU_STEP_DISPATCH_UNWOUND] = "dispatch.unwound",
    [DU_STEP_DISPATCH_FOUND] = "dispatch.found",
    [DU_STEP_DISPATCH_MARKED] = "dispatch.marked",
    [DU_STEP_DISPATCH_CALLBACK] = "dispatch.callback",
    [DU_STEP_DISPATCH_RETURNED] = "dispatch.returned",
    [DU_STEP_RESET_BEGIN] = "reset.begin",
    [DU_STEP_RESET_CLOSING] = "reset.closing",
    [DU_STEP_RESET_COOKIE_CLEARED] = "reset.cookie-cleared",
    [DU_STEP_RESET_REOPENED] = "reset.reopened",
    [DU_STEP_RESET_DONE] = "reset.done",
    [DU_STEP_CANCEL_MARKED] = "cancel.marked",
    [DU_STEP_CANCEL_REQUESTS_QUIET] = "cancel.requests-quiet",
    [DU_STEP_CANCEL_SYNCED] = "cancel.synced",
    [DU_STEP_CANCEL_CALLBACKS_QUIET] = "cancel.callbacks-quiet",
    [DU_STEP_CANCEL_SCRUBBED] = "cancel.scrubbed",
    [DU_STEP_CANCEL_FREED] = "cancel.freed",
    [DU_STEP_CANCEL_WAIT_POLL] = "cancel.wait-poll",
    [DU_STEP_REGISTER_PUBLISHED] = "register.published",
    [DU_STEP_DETACH_EXITING] = "detach.exiting",
    [DU_STEP_DETACH_DRAINED] = "detach.drained",
    [DU_STEP_CANCEL_WAIT_LOOKED] = "cancel.wait-looked",
};

const char *du_step_name(enum du_step step)
{
    return (unsigned)step < DU_STEP_COUNT ? du_step_names[step] : "?";
}

void du_debug_set_step_hook(du_step_hook hook, void *arg)
{
    du_hook = hook;
    du_hook_arg = arg;
}

/* Context: wherever the step is (signal handlers included); the hook decides
 * what it may do.  The hook is re-entered when it makes a request that
 * reaches further steps: that is how a test nests "signals" to depth 2; it
 * tracks its own depth. */
void du_step_reached(enum du_step step)
{
    du_step_hook hook = du_hook;
    if (hook)
        hook(step, du_hook_arg);
}

void du_debug_fail_next_cache_alloc(void) { du_fail_alloc = 1; }

int du_debug_take_alloc_failure(void)
{
    int f = du_fail_alloc;
    du_fail_alloc = 0;
    return f;
}

void du_debug_drop_cache(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (th && !th->in_dispatch)
        du_cache_free(th);
}

#endif /* DU_STEP_POINTS */

#ifdef DU_TEST_HOOKS
DU_HIDDEN int du_debug_step_points_built(void)
{
#ifdef DU_STEP_POINTS
    return 1;
#else
    return 0;
#endif
}
#endif
