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
#define DU_STEP_NAME_(id, name, file, label, fp_a, fp_b) [DU_STEP_##id] = name,
    DU_STEP_TABLE(DU_STEP_NAME_)
#undef DU_STEP_NAME_
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
