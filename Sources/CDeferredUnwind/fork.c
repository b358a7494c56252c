/*
 * fork.c - the library across fork(): pthread_atfork handlers.
 *
 * What the child gets (the kernel initialises a forked task's unwind state
 * the same way): the forking thread stays attached with a fresh entry
 * context - requests pending at fork belong to the parent, which delivers
 * them; the child never does - every other thread's state is dropped (those
 * threads do not exist in the child), registered tracers stay registered,
 * and cancels that were in progress on vanished threads are finished.  The
 * child can attach, request, register and cancel at once: none of our locks
 * is left held and liburcu's registry holds only the forking thread.
 *
 * liburcu-bp's limit (0.13.2 and upstream): urcu_bp_before_fork takes its
 * grace-period and registry locks but not its init_lock, which every thread
 * registration and every registered thread's exit holds for a few
 * instructions.  A fork that lands in that window leaves init_lock held in
 * the child, which then hangs at its first new thread's attach or at exit.
 * Nothing outside liburcu can take that lock; not seen in the harness's
 * fork storms (Docs/Lifecycle.md).
 *
 * How: prepare takes every lock the child would need, in the one order
 * that cannot deadlock against the library's own lock holders -
 *   1. liburcu-bp's locks (urcu_bp_before_fork: grace-period and registry
 *      locks; it also blocks all signals until after fork).  First, because
 *      a thread in synchronize_rcu() holds the grace-period lock while it
 *      waits for readers, and a reader (a callback) may be waiting for our
 *      registry lock in du_tracer_register(): taking ours first would close
 *      that cycle.  Nothing holds one of our locks while it waits for a
 *      liburcu lock.
 *   2. the registry lock, 3. the thread-list lock (never held together
 *      elsewhere; cancel drops each before it waits).
 * The parent releases them in reverse; the child releases them after
 * rebuilding its state as above.
 *
 * fork() from inside a tracer callback while another thread cancels that
 * tracer is fine: callbacks run outside the read-side section, and the
 * canceller waits on the thread's `calling` word holding no lock (the child
 * clears `calling` when it finishes that cancel; registry.c).
 *
 * The variants library (DU_VARIANTS, the harness's second copy of the core)
 * registers no fork handlers: it shares liburcu-bp with the core, whose
 * fork hooks do not nest, and its own locks would have to be taken after
 * liburcu's, which the order of two libraries' atfork handlers cannot
 * promise.  The harness forks only with the core's API (Docs/Races.md).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>
#include "internal.h"

/* Bumped in each child.  Written only by the child's single thread (in the
 * child handler), read by that same thread's dispatch: relaxed. */
DU_HIDDEN _Atomic unsigned du_fork_epoch;

static void du_fork_prepare(void)
{
    urcu_bp_before_fork();
    du_registry_fork_prepare();
    du_threads_fork_prepare();
}

static void du_fork_parent(void)
{
    du_threads_fork_parent();
    du_registry_fork_parent();
    urcu_bp_after_fork_parent();
}

static void du_fork_child(void)
{
    int saved_errno = errno;
    /* A dispatch that forked from a callback stops calling the parent's
     * tracers for the parent's context (registry.c, du_registry_call). */
    atomic_fetch_add_explicit(&du_fork_epoch, 1, memory_order_relaxed);
    du_registry_fork_child();
    du_threads_fork_child();
    /* The child is one thread: whatever it decides here is seen by every
     * later request of it.  Registration is per process (mm). */
    du_membarrier_register();
    urcu_bp_after_fork_child();
    errno = saved_errno;
}

/* Context: library initialisation (thread.c), once.  0 or -errno. */
int du_fork_init(void)
{
#ifdef DU_VARIANTS
    (void)du_fork_prepare;
    (void)du_fork_parent;
    (void)du_fork_child;
    return 0;
#else
    return -pthread_atfork(du_fork_prepare, du_fork_parent, du_fork_child);
#endif
}
