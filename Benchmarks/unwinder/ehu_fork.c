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
 * A fork from a signal handler interrupting ehu would deadlock: the core's
 * fork contract must exclude it.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "ehu_cfi.h"

static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER; /* ehu.c's writers: fill, flush, stats */

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic int fork_gate;  /* 1 from fork's prepare to its end */
static _Atomic long in_phdr;   /* ehu callers inside dl_iterate_phdr */

static void fork_prepare(void)
{
    atomic_store_explicit(&fork_gate, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&in_phdr, memory_order_seq_cst))
        sched_yield();
    pthread_mutex_lock(&fill_lock);
}

static void fork_after(void) /* parent and child */
{
    pthread_mutex_unlock(&fill_lock);
    atomic_store_explicit(&fork_gate, 0, memory_order_release); /* partner: the waiters' acquire loads */
}

static void atfork_register(void) { pthread_atfork(fork_prepare, fork_after, fork_after); }

/* dl_iterate_phdr, never in progress across a fork (thread context). */
int ehu__iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    pthread_once(&atfork_once, atfork_register);
    for (;;) {
        atomic_fetch_add_explicit(&in_phdr, 1, memory_order_seq_cst);
        if (!atomic_load_explicit(&fork_gate, memory_order_seq_cst))
            break;
        atomic_fetch_sub_explicit(&in_phdr, 1, memory_order_seq_cst);
        while (atomic_load_explicit(&fork_gate, memory_order_acquire))
            sched_yield();
    }
    int r = dl_iterate_phdr(cb, arg);
    atomic_fetch_sub_explicit(&in_phdr, 1, memory_order_release); /* partner: fork_prepare's load */
    return r;
}

void ehu__lock_fill(void)
{
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&fill_lock);
}

void ehu__unlock_fill(void)
{
    pthread_mutex_unlock(&fill_lock);
}

