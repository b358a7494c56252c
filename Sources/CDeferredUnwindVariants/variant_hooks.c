/* variant_hooks.c - the variants build's one-step hooks
 * (../CDeferredUnwind/hooks.h): each answers "the core's step" unless the
 * selected historical design (variant.c) took another.  Each is the bug,
 * kept on purpose (mutex-dispatch: a correct, slow design).  The whole
 * functions that differ are in variant_cookie.c and variant_dispatch.h. */
#include <errno.h>
#include <pthread.h>
#include "prefix.h"
#include "../CDeferredUnwind/hooks.h"
#include "variant_window.h"

/* nonatomic-claim: check, then set.  A handler between the two claims the
 * same bit (both answer 0) or sets another bit that the store then drops.
 * errno kept (du_request's contract; the window yields). */
int du_hook_claim(struct du_thread *th, uint64_t bits, uint64_t *old)
{
    if (!DUV_IS(NONATOMIC_CLAIM))
        return 0;
    int saved_errno = errno;
    *old = atomic_load_explicit(&th->mask, memory_order_relaxed);
    duv_claim_window();
    atomic_store_explicit(&th->mask, *old | bits, memory_order_relaxed);
    errno = saved_errno;
    return 1;
}

/* no-completed (before v14): nothing remembers who was called, so every
 * set bit is called again in every round. */
uint64_t du_hook_completed(uint64_t completed)
{
    return DUV_IS(NO_COMPLETED) ? 0 : completed;
}

/* mutex-dispatch (v13): every thread's callbacks run under this one lock,
 * with no read-side section; its cancel takes the lock, which waits for any
 * running callback - another tracer's sleeping one too. */
static pthread_mutex_t duv_callback_lock = PTHREAD_MUTEX_INITIALIZER;

int du_hook_lookup_unlocked(void) { return DUV_IS(MUTEX_DISPATCH); }

void du_hook_callbacks_begin(void)
{
    if (DUV_IS(MUTEX_DISPATCH))
        pthread_mutex_lock(&duv_callback_lock);
}

void du_hook_callbacks_end(void)
{
    if (DUV_IS(MUTEX_DISPATCH))
        pthread_mutex_unlock(&duv_callback_lock);
}

void du_hook_cancel_wait_dispatch(void)
{
    if (DUV_IS(MUTEX_DISPATCH)) {
        /* A running callback holds the lock; taking it waits for it. */
        pthread_mutex_lock(&duv_callback_lock);
        pthread_mutex_unlock(&duv_callback_lock);
    }
}

/* cancel-no-wait: cancel waits for no request, grace period or callback. */
int du_hook_cancel_skips_waits(void) { return DUV_IS(CANCEL_NO_WAIT); }

/* cancel-no-scrub: cancel leaves the bit set in attached threads. */
int du_hook_cancel_skips_scrub(void) { return DUV_IS(CANCEL_NO_SCRUB); }

/* exit-drops-pending: detach and exit free the state without delivering. */
int du_hook_exit_drops_pending(void) { return DUV_IS(EXIT_DROPS_PENDING); }

/* Not a variant: this copy of the core registers no atfork handlers and
 * joins no fork hub, whatever the variant (fork.c explains why). */
int du_hook_fork_handlers(void) { return 0; }

/* leave-no-wait: leaving a frozen region ignores a proxy serving it. */
int du_hook_leave_ignores_claim(void) { return DUV_IS(LEAVE_NO_WAIT); }

/* region-safe-point: the safe point dispatches inside a frozen region. */
int du_hook_safe_point_in_region(void) { return DUV_IS(REGION_SAFE_POINT); }
