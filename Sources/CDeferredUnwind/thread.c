/*
 * thread.c - attach, detach, thread exit, and the list cancel scrubs.
 *
 * Rules:
 *  - du_self is the calling thread's state or NULL.  Only the owning thread
 *    writes it; its handlers read it.  It is set after the state is fully
 *    built and cleared before the state is freed, each followed by a signal
 *    fence, so a handler sees either NULL or a live state.
 *  - Every attached thread is on du_threads, guarded by du_threads_lock.
 *    Cancel's scrub walks the list under the lock; detach unlinks under it
 *    before freeing, so the scrub never touches freed memory.
 *  - Thread exit without detach: a pthread key destructor runs the same
 *    teardown.  TLS is still valid while key destructors run.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>
#include "internal.h"

DU_HIDDEN DU_IE_TLS _Atomic(struct du_thread *) du_self;
DU_HIDDEN int du_have_membarrier;

static pthread_mutex_t du_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct du_thread *du_threads; /* guarded by du_threads_lock */
static pthread_key_t du_exit_key;
static pthread_once_t du_exit_key_once = PTHREAD_ONCE_INIT;

static void du_teardown(struct du_thread *th);

static void du_exit_destructor(void *p)
{
    struct du_thread *th = p;
    /* Only this thread's state is ever stored under the key. */
    if (th && atomic_load_explicit(&du_self, memory_order_relaxed) == th)
        du_teardown(th);
}

static void du_make_exit_key(void)
{
    /* No way to report failure from pthread_once; attach checks the key. */
    if (pthread_key_create(&du_exit_key, du_exit_destructor) != 0)
        du_exit_key = (pthread_key_t)-1;
    /* The request side's grace period (du_threads_wait_requests) uses
     * membarrier(PRIVATE_EXPEDITED); it must be registered once.  Without
     * it requests pay a full fence instead.  Written before any thread is
     * attached (pthread_once orders it before every attach returns). */
    du_have_membarrier =
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
}

/* Context: thread; may block (mutexes, liburcu registry). */
int du_thread_attach(void)
{
    if (atomic_load_explicit(&du_self, memory_order_relaxed))
        return -EEXIST;
    pthread_once(&du_exit_key_once, du_make_exit_key);
    if (du_exit_key == (pthread_key_t)-1)
        return -EAGAIN;

    struct du_thread *th = aligned_alloc(DU_CACHELINE, sizeof(*th));
    if (!th)
        return -ENOMEM;
    *th = (struct du_thread){0};
    if (pthread_setspecific(du_exit_key, th) != 0) {
        free(th);
        return -ENOMEM;
    }
    /* Load the unwinder now (it may dlopen and allocate), not in the first
     * safe point; and register the reader before any request can run. */
    du_unwind_warm_up();
    urcu_memb_register_thread();

    pthread_mutex_lock(&du_threads_lock);
    th->next = du_threads;
    if (du_threads)
        du_threads->prev = th;
    du_threads = th;
    pthread_mutex_unlock(&du_threads_lock);

    /* Fully built before a handler can see it.  Same-thread partner only. */
    atomic_signal_fence(memory_order_release);
    atomic_store_explicit(&du_self, th, memory_order_relaxed);
    return 0;
}

static void du_teardown(struct du_thread *th)
{
    /* From here requests answer -ESHUTDOWN.  Relaxed: the partners are this
     * thread's handlers (which run between our instructions) and cancel's
     * scrub, which never touches EXITING. */
    atomic_fetch_or_explicit(&th->mask, DU_EXITING, memory_order_relaxed);
    DU_STEP(DU_STEP_DETACH_EXITING);
    /* Deliver what was accepted before EXITING, with an empty trace. */
#ifdef DU_VARIANTS
    if (!DUV_IS(EXIT_DROPS_PENDING))
#endif
    du_dispatch(th, 0, 1);
    DU_STEP(DU_STEP_DETACH_DRAINED);

    /* Relaxed + signal fence: the only readers are this thread's handlers. */
    atomic_store_explicit(&du_self, NULL, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* no handler sees th past this */
    pthread_setspecific(du_exit_key, NULL);

    pthread_mutex_lock(&du_threads_lock);
    if (th->prev)
        th->prev->next = th->next;
    else
        du_threads = th->next;
    if (th->next)
        th->next->prev = th->prev;
    pthread_mutex_unlock(&du_threads_lock);

    urcu_memb_unregister_thread();
    du_cache_free(th);
    free(th);
}

/* Context: thread; may block (callbacks, mutexes); not from a handler. */
int du_thread_detach(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return -ESRCH;
    if (th->in_dispatch)
        return -EDEADLK;
    du_teardown(th);
    return 0;
}

int du_thread_is_attached(void)
{
    return atomic_load_explicit(&du_self, memory_order_relaxed) != NULL; /* own thread's word */
}

uint32_t du_thread_footprint(void) { return (uint32_t)sizeof(struct du_thread); }
uint32_t du_trace_cache_bytes(void) { return DU_CACHE_BYTES; }
uint32_t du_trace_capacity(void) { return DU_CACHE_CAPACITY; }

/* Cancel's request-side grace period.  Context: thread; blocks.
 * Partner: du_claim_enter/exit (request.c).  The membarrier is a full
 * barrier on every CPU running one of our threads, pairing with the
 * compiler-only barrier after a request's counter increment; the acquire
 * load pairs with the release decrement.  A thread whose counter reads 0
 * has no request in progress that could have read the bit before it was
 * marked; a request that starts later reads -1.  Nonzero: yield and look
 * again; requests never block, so this ends once the thread runs.  Any one
 * 0 suffices: the counter counts nesting, so 0 means none in progress. */
void du_threads_wait_requests(void)
{
    if (du_have_membarrier)
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0);
    else
        atomic_thread_fence(memory_order_seq_cst);
    pthread_mutex_lock(&du_threads_lock);
    for (struct du_thread *th = du_threads; th; th = th->next) {
        while (atomic_load_explicit(&th->claiming, memory_order_acquire) != 0)
            sched_yield();
    }
    pthread_mutex_unlock(&du_threads_lock);
}

/* Cancel's scrub: clear `bit` in every attached thread.  Context: thread;
 * takes du_threads_lock. */
void du_threads_scrub(uint64_t bit)
{
    pthread_mutex_lock(&du_threads_lock);
    for (struct du_thread *th = du_threads; th; th = th->next) {
        /* Relaxed fetch-ands: the grace period already ordered every claim
         * of this bit before us; the registry lock chain orders us before
         * the bit's next owner is published (registry.c). */
        atomic_fetch_and_explicit(&th->mask, ~bit, memory_order_relaxed);
        atomic_fetch_and_explicit(&th->completed, ~bit, memory_order_relaxed);
    }
    pthread_mutex_unlock(&du_threads_lock);
}
