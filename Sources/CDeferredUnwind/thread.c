/*
 * thread.c - attach, detach, thread and process exit, the thread list that
 * cancel scrubs and waits on, and library initialisation.
 *
 * Rules:
 *  - du_self is the calling thread's state or NULL.  Only the owning thread
 *    writes it; its handlers read it.  It is set after the state is fully
 *    built and cleared before the state is freed, each followed by a signal
 *    fence, so a handler sees either NULL or a live state.
 *  - Every attached thread is on du_threads, guarded by du_threads_lock.
 *    Cancel's scrub and request wait (thread_wait.c) look at the list under the lock;
 *    detach unlinks under it before freeing, so neither touches freed
 *    memory.  Nobody waits while holding the lock (cancel polls: it takes
 *    the lock, looks, drops it, sleeps), so attach and detach never wait
 *    for another thread's requests.
 *  - Thread exit without detach: a pthread key destructor runs the same
 *    teardown.  TLS is still valid while key destructors run.  Process exit
 *    (exit(), return from main): key destructors do not run, so the library
 *    destructor runs the teardown for the exiting thread (see du_fini).
 *  - The library is initialised once, by a constructor and again (no-op)
 *    through pthread_once at every entry point that needs it, so the
 *    membarrier flag is written before any attach or cancel reads it.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>
#include "internal.h"
#include "hooks.h"

DU_HIDDEN DU_IE_TLS _Atomic(struct du_thread *) du_self;
DU_HIDDEN int du_have_membarrier;

DU_HIDDEN pthread_mutex_t du_threads_lock = PTHREAD_MUTEX_INITIALIZER;
DU_HIDDEN struct du_thread *du_threads; /* guarded by du_threads_lock */
static pthread_key_t du_exit_key;
static int du_init_error; /* 0 or -errno; written once in du_init */
static pthread_once_t du_init_once = PTHREAD_ONCE_INIT;

static void du_teardown(struct du_thread *th);
static void du_deliver_and_unpublish(struct du_thread *th);

static void du_exit_destructor(void *p)
{
    struct du_thread *th = p;
    /* Only this thread's state is ever stored under the key. */
    if (th && atomic_load_explicit(&du_self, memory_order_relaxed) == th)
        du_teardown(th);
}

/* Context: initialisation, and each fork child (one thread).  Registers
 * membarrier(PRIVATE_EXPEDITED) for the request side's grace period
 * (du_threads_wait_requests).  Without it requests pay a full fence. */
void du_membarrier_register(void)
{
    du_have_membarrier =
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
}

static void du_init(void)
{
    int err = pthread_key_create(&du_exit_key, du_exit_destructor);
    if (err == 0)
        err = -du_fork_init();
    du_membarrier_register();
    du_init_error = -err;
}

/* Context: thread.  pthread_once orders du_init's writes before our reads. */
int du_library_init(void)
{
    pthread_once(&du_init_once, du_init);
    return du_init_error;
}

/* Run at load (dlopen included), before any entry point can be called. */
__attribute__((constructor)) static void du_ctor(void) { (void)du_library_init(); }

/*
 * Process exit: deliver the exiting thread's accepted requests, as the
 * kernel does at task exit.  Not from inside a callback (the dispatch that
 * called exit() cannot finish).  Only what needs no lock: EXITING, the
 * delivery, du_self cleared.  The state stays on the list and allocated
 * (the process is ending), so an exit() from a signal handler that
 * interrupted this thread inside one of our locks cannot deadlock here,
 * and a cancel still running on another thread finds valid memory.  Other
 * attached threads keep running until the process ends: their state is
 * left alone (a handler on them may still run) and their pending requests
 * are not delivered.
 *
 * Run from an atexit handler registered at the first attach, so it comes
 * before the atexit handlers and C++ static destructors registered earlier
 * (a tracer's buffers set up before it attached are still there), and
 * again from the library destructor in case atexit could not register.
 */
static void du_at_exit(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (th && !th->in_dispatch)
        du_deliver_and_unpublish(th);
}

__attribute__((destructor)) static void du_fini(void) { du_at_exit(); }

static pthread_once_t du_atexit_once = PTHREAD_ONCE_INIT;
static void du_register_at_exit(void) { (void)atexit(du_at_exit); }

/* Context: thread; may block (mutexes, liburcu registry). */
int du_thread_attach(void)
{
    if (atomic_load_explicit(&du_self, memory_order_relaxed))
        return -EEXIST;
    if (du_library_init() != 0)
        return -EAGAIN;
    pthread_once(&du_atexit_once, du_register_at_exit);

    struct du_thread *th = aligned_alloc(DU_CACHELINE, sizeof(*th));
    if (!th)
        return -ENOMEM;
    *th = (struct du_thread){0};
    /* The cookie's high half (cookie.c).  Relaxed: published to handlers
     * with du_self below, to nothing else. */
    atomic_store_explicit(&th->serial, du_serial_next(), memory_order_relaxed);
    if (pthread_setspecific(du_exit_key, th) != 0) {
        free(th);
        return -ENOMEM;
    }
    /* Load the unwinder now (it may dlopen and allocate), not in the first
     * safe point; and register the reader explicitly, so no read lock in a
     * dispatch ever registers lazily (bp would take a mutex and mmap). */
    du_unwind_warm_up();
    urcu_bp_register_thread();

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

static void du_unlink(struct du_thread *th) /* du_threads_lock held */
{
    if (th->prev)
        th->prev->next = th->next;
    else
        du_threads = th->next;
    if (th->next)
        th->next->prev = th->prev;
}

/* The part of the teardown that needs no lock (detach, thread exit and
 * process exit): refuse, deliver, unpublish. */
static void du_deliver_and_unpublish(struct du_thread *th)
{
    /* Thread exit inside a frozen region (cancellation, pthread_exit from
     * below the region's frame): wait for a proxy serving it, end it. */
    du_frozen_end(th);
    /* Thread context: no request of this thread is running, so a nonzero
     * claim count was leaked by a handler that left du_request() with
     * siglongjmp.  Repair it before anything waits on it. */
    du_claim_repair(th);
    /* From here requests answer -ESHUTDOWN.  Relaxed: the partners are this
     * thread's handlers (which run between our instructions) and cancel's
     * scrub, which never touches EXITING. */
    atomic_fetch_or_explicit(&th->mask, DU_EXITING, memory_order_relaxed);
    DU_STEP(DU_STEP_DETACH_EXITING);
    /* Deliver what was accepted before EXITING, with an empty trace. */
    if (!du_hook_exit_drops_pending()) /* exit-drops-pending */
        du_dispatch(th, 0, 1);
    DU_STEP(DU_STEP_DETACH_DRAINED);

    /* Relaxed + signal fence: the only readers are this thread's handlers. */
    atomic_store_explicit(&du_self, NULL, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* no handler sees th past this */
}

static void du_teardown(struct du_thread *th)
{
    du_deliver_and_unpublish(th);
    pthread_setspecific(du_exit_key, NULL);

    pthread_mutex_lock(&du_threads_lock);
    du_threads_count_gone(th); /* for cancels that have not scrubbed it */
    du_unlink(th);
    pthread_mutex_unlock(&du_threads_lock);

    /* liburcu-bp drops the reader at thread exit (its own key, whose
     * destructor runs before ours: at thread exit the delivery above
     * registers the reader again, lazily, and bp's destructor runs once
     * more).  A detached thread that stays alive keeps an idle reader slot,
     * about 0.1 us per grace period (bp's unregister is a no-op). */
    du_cache_free(th);
    free(th);
}

/* Context: thread; may block (callbacks, mutexes); not from a handler. */
int du_thread_detach(void)
{
    /* Inside our own frozen region detaching is misuse (-EBUSY): the
     * region's leave would find no state. */
    struct du_thread *th;
    int err = du_self_free(&th);
    if (err)
        return err;
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

/* ---- fork (fork.c) ------------------------------------------------------ */

void du_threads_fork_prepare(void) { pthread_mutex_lock(&du_threads_lock); }
void du_threads_fork_parent(void) { pthread_mutex_unlock(&du_threads_lock); }

/* Context: the only thread of a new child, lock held since prepare.  Every
 * other thread's state goes (those threads do not exist here; nothing can
 * reach their state but the list).  The forking thread, if attached, keeps
 * its state with a fresh context: its pending requests are the parent's
 * (clearing its whole word also drops the bits of cancels finished for
 * vanished threads). */
void du_threads_fork_child(void)
{
    struct du_thread *self = atomic_load_explicit(&du_self, memory_order_relaxed);
    struct du_thread *th = du_threads;
    while (th) {
        struct du_thread *next = th->next;
        if (th != self) {
            du_cache_free(th);
            free(th);
        }
        th = next;
    }
    du_threads = self;
    du_threads_forget_gone(); /* the parent's cancels count those */
    if (self) {
        self->next = self->prev = NULL;
        /* Relaxed: one thread; a handler on it sees program order.  EXITING
         * stays (a fork from a callback run by detach: detach goes on). */
        uint64_t m = atomic_load_explicit(&self->mask, memory_order_relaxed);
        atomic_store_explicit(&self->mask, m & DU_EXITING, memory_order_relaxed);
        atomic_store_explicit(&self->completed, 0, memory_order_relaxed);
        atomic_store_explicit(&self->closing_cnt, 0, memory_order_relaxed);
        atomic_store_explicit(&self->cookie_cnt, 0, memory_order_relaxed);
        /* `calling` stays: a fork from a callback is still in it here. */
        self->unwound = 0;
        /* A fork from a handler inside our region keeps the region (its
         * leave comes), but no proxy exists here to release a claim. */
        if (atomic_load_explicit(&self->frozen, memory_order_relaxed) == DU_FROZEN_CLAIMED)
            atomic_store_explicit(&self->frozen, DU_FROZEN_YES, memory_order_relaxed);
    }
    pthread_mutex_unlock(&du_threads_lock);
}
