/*
 * up_urcu_fork.c - liburcu-bp's fork hooks, made to nest.
 *
 * The agent holds its own copy of the core, and so may the program (it
 * links libdeferred_unwind, or a Swift package's CDeferredUnwind).  Each
 * copy's atfork handlers call urcu_bp_before_fork() and one of the two
 * after-fork hooks of the ONE liburcu-bp in the process.  Those do not nest:
 * the second before_fork blocks on the registry lock the first one took,
 * and fork() hangs with every signal blocked (seen: a 10-line program that
 * links libdeferred_unwind and forks hung under the agent, profiling on or
 * off; only SIGKILL ended it).
 *
 * The agent is preloaded, so its definitions of the three hooks come first
 * in the lookup order: every copy's call lands here (the core calls them
 * through the PLT).  The first before_fork of a thread calls liburcu's and
 * makes that thread the owner; a nested one (the same thread, from the next
 * copy's prepare handler) only counts.  The after-fork hooks undo the count
 * and call liburcu's when it reaches zero.  atfork runs prepare handlers in
 * reverse registration order and parent/child handlers in order, so the
 * last after-fork hook to run belongs to the copy whose before_fork took the
 * locks.  In the child, pthread_self() is the forking thread's.
 *
 * `owner` is read and written only by threads inside fork(); it equals
 * pthread_self() only for the thread that stored it (no other thread can
 * read its own id there), so relaxed loads and stores are enough.  `depth`
 * is touched only by the owner, under liburcu's fork locks.  A second
 * thread's fork waits in liburcu's before_fork, as it would without us.
 *
 * Context: fork() (atfork handlers); never a signal handler.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "up_real.h"

_Static_assert(sizeof(pthread_t) == sizeof(unsigned long), "pthread_t is stored in an atomic_ulong");

static atomic_ulong up_urcu_fork_owner;
static unsigned up_urcu_fork_depth;

UP_EXPORT void urcu_bp_before_fork(void)
{
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load_explicit(&up_urcu_fork_owner, memory_order_relaxed) == self) {
        up_urcu_fork_depth++;
        return;
    }
    up_real_urcu_bp_before_fork()();
    atomic_store_explicit(&up_urcu_fork_owner, self, memory_order_relaxed);
    up_urcu_fork_depth = 1;
}

/* Whether this after-fork hook is the outermost one (call liburcu's). */
static int up_urcu_fork_unnest(void)
{
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load_explicit(&up_urcu_fork_owner, memory_order_relaxed) != self)
        return 1; /* unbalanced: let liburcu see it */
    if (--up_urcu_fork_depth > 0)
        return 0;
    atomic_store_explicit(&up_urcu_fork_owner, 0, memory_order_relaxed);
    return 1;
}

UP_EXPORT void urcu_bp_after_fork_parent(void)
{
    if (up_urcu_fork_unnest())
        up_real_urcu_bp_after_fork_parent()();
}

UP_EXPORT void urcu_bp_after_fork_child(void)
{
    if (up_urcu_fork_unnest())
        up_real_urcu_bp_after_fork_child()();
}
