/*
 * ehu_fork.c - ehu's writer lock and its fork handling (see ehu.c).
 *
 * (1) A child forked while another thread holds fill_lock would
 * block on its first miss: the lock is held across fork.  (2) glibc 2.36
 * does not reset the loader's dl_load_write_lock in a child: a child forked
 * while another thread is inside dl_iterate_phdr hangs in its first
 * dl_iterate_phdr or dlopen (measured: 38 of 40 children with a thread
 * looping on dl_iterate_phdr).  Walks call it all the time, so fork waits
 * until no ehu caller is inside (a Dekker handshake: the caller's seq_cst
 * increment of in_phdr then load of fork_gate, against fork_prepare's
 * seq_cst store of fork_gate then load of in_phdr: one sees the other).
 * fork.c registers the two handlers in every copy of the core, before its
 * own, so that they run last in prepare and first after fork: both locks
 * are leaves (a thread holding fill_lock or inside dl_iterate_phdr here
 * waits for nothing of the core's), so fork's prepare may wait for them
 * while it holds the core's locks.  (dl_iterate_phdr's loader lock is held
 * by dlopen only while it edits the object list, not across constructors,
 * so a constructor waiting for a core lock does not hold it.)
 *
 * A fork from a signal handler that interrupted this very thread inside
 * ehu would wait for itself: `inside` (below) says so.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "ehu_cfi.h"

static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER; /* ehu.c's writers: fill, flush, stats */

static _Atomic int fork_gate; /* 1 from fork's prepare to its end */
static _Atomic long in_phdr;  /* ehu callers inside dl_iterate_phdr */

/* Whether this thread is inside one of the two sections (a handler can
 * interrupt it and fork): bit 0 dl_iterate_phdr (possibly counted in
 * in_phdr), bit 1 fill_lock held.  A handler's fork that finds a bit set
 * skips that wait, or the lock (in the child the interrupted code finishes
 * and unlocks); with bit 0 set it cannot wait for the other threads inside
 * either: such a child may hang in glibc's loader lock, as it would
 * without us.  Only this thread and its handlers touch `inside`: signal
 * fences order it against them. */
static __thread __attribute__((tls_model("initial-exec"))) unsigned inside;
/* Whether this thread's fork skipped the lock (it held it): prepare and
 * the after-fork handlers run on the forking thread. */
static __thread __attribute__((tls_model("initial-exec"))) int prepare_skipped_lock;

/* Context: fork's prepare handler (fork.c), after the core's locks. */
void ehu_fork_prepare(void)
{
    unsigned own = inside;
    atomic_store_explicit(&fork_gate, 1, memory_order_seq_cst); /* Dekker: partner ehu__iterate_phdr's load */
    /* Without the wait, a child forked while another thread is inside
     * dl_iterate_phdr hangs in its own first one (glibc 2.36). */
    while (!(own & 1u) && atomic_load_explicit(&in_phdr, memory_order_seq_cst))
        sched_yield();
    prepare_skipped_lock = (own >> 1) & 1u;
    if (!prepare_skipped_lock)
        pthread_mutex_lock(&fill_lock);
}

/* Context: fork's parent and child handlers (fork.c), before the core's. */
void ehu_fork_after(void)
{
    if (!prepare_skipped_lock)
        pthread_mutex_unlock(&fill_lock);
    atomic_store_explicit(&fork_gate, 0, memory_order_release); /* partner: the waiters' acquire loads */
}

/* dl_iterate_phdr, never in progress across a fork (thread context). */
int ehu__iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    /* The bit covers every moment this thread may be counted in in_phdr
     * (set before the increment, cleared after the decrement): a handler's
     * fork that sees it clear may wait for in_phdr to reach 0. */
    inside |= 1u;
    atomic_signal_fence(memory_order_seq_cst);
    for (;;) {
        atomic_fetch_add_explicit(&in_phdr, 1, memory_order_seq_cst);
        if (!atomic_load_explicit(&fork_gate, memory_order_seq_cst))
            break;
        atomic_fetch_sub_explicit(&in_phdr, 1, memory_order_seq_cst);
        while (atomic_load_explicit(&fork_gate, memory_order_acquire))
            sched_yield();
    }
    int r = dl_iterate_phdr(cb, arg);
    atomic_fetch_sub_explicit(&in_phdr, 1, memory_order_release); /* partner: ehu_fork_prepare's load */
    atomic_signal_fence(memory_order_seq_cst);
    inside &= ~1u;
    return r;
}

void ehu__lock_fill(void)
{
    pthread_mutex_lock(&fill_lock);
    inside |= 2u;
    atomic_signal_fence(memory_order_seq_cst);
}

void ehu__unlock_fill(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    inside &= ~2u;
    pthread_mutex_unlock(&fill_lock);
}
