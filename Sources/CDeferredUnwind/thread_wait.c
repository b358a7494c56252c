/*
 * thread_wait.c - the thread list as cancel sees it: the request side's
 * grace period (membarrier, then each thread's claim count, polled with no
 * lock held while waiting) and the scrub of a cancelled tracer's bit.
 * The list and its lock belong to thread.c (rules there).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

/* A full barrier on every CPU running one of our threads (partner: the
 * compiler-only barrier in du_claim_enter), or, without membarrier, a
 * fence that pairs with the request side's own fence. */
static void du_membarrier_all(void)
{
    if (!du_have_membarrier) {
        atomic_thread_fence(memory_order_seq_cst);
        return;
    }
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
        return;
    /* Registered, yet refused: requests are not fencing themselves, so
     * only a process-wide barrier is correct.  GLOBAL needs no
     * registration (slower: it waits for every CPU to pass a quiescent
     * state).  If that fails too there is no correct way on: say so. */
    int err = errno;
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0) == 0)
        return;
    fprintf(stderr, "deferred_unwind: membarrier(PRIVATE_EXPEDITED) failed (%s) and "
            "membarrier(GLOBAL) failed (%s): cannot order du_tracer_cancel against "
            "running du_request calls; aborting\n", strerror(err), strerror(errno));
    abort();
}

static int du_on_list(const struct du_thread *t) /* du_threads_lock held */
{
    for (struct du_thread *th = du_threads; th; th = th->next)
        if (th == t)
            return 1;
    return 0;
}

/* Sleep a little between polls: yield first (a request takes well under a
 * microsecond), then 100 us naps (a claim leaked by siglongjmp lasts until
 * that thread's next safe point). */
static void du_backoff(unsigned *round)
{
    if ((*round)++ < 64) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, 100 * 1000};
    nanosleep(&ts, NULL);
}

/* Whether `th` has a request in progress.  Acquire load, partner: the
 * release decrement in du_claim_exit (and du_claim_repair).  The calling
 * thread is never busy: we run in thread context inside cancel, whose entry
 * refused a raised count (-EDEADLK), and a handler that ran on us since has
 * either returned (restoring the count) or left du_request with siglongjmp
 * (leaking it) - so a raised count here is a leak: repair it, or two
 * threads' cancels could each wait for the other's. */
static int du_claim_busy(struct du_thread *th, struct du_thread *self)
{
    if (th == self) {
        du_claim_repair(self);
        return 0;
    }
    return atomic_load_explicit(&th->claiming, memory_order_acquire) != 0;
}

/* Whether some thread (all, or only those in `busy`, which are pruned)
 * still has a request in progress.  du_threads_lock held. */
static size_t du_still_busy(struct du_thread **busy, size_t n, struct du_thread *self)
{
    if (!busy) {
        size_t any = 0;
        for (struct du_thread *th = du_threads; th; th = th->next)
            any += du_claim_busy(th, self);
        return any;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        /* Detached (not on the list): its requests are over.  A thread
         * attached since at the same address is waited for too: harmless. */
        if (du_on_list(busy[i]) && du_claim_busy(busy[i], self))
            busy[kept++] = busy[i];
    }
    return kept;
}

/*
 * Cancel's request-side grace period.  Context: thread; blocks, holding no
 * lock while it waits.  Partner: du_claim_enter/exit (request.c).  After the
 * membarrier, a thread whose counter reads 0 has no request in progress that
 * could have read the handle as live; a request that starts later sees it
 * cancelled.  One 0 per thread suffices (the counter counts nesting), so
 * the threads seen busy in the first look are the only ones looked at
 * again.  Requests never block, so the wait ends once each busy thread
 * runs - or, for a claim leaked by siglongjmp, at its next safe point or
 * detach (du_claim_repair).
 */
void du_threads_wait_requests(void)
{
    (void)du_library_init(); /* du_have_membarrier is settled before we read it */
    struct du_thread *self = atomic_load_explicit(&du_self, memory_order_relaxed);
    du_membarrier_all();
    /* The threads busy at the first look; only they are looked at again.
     * On the stack up to 64, else malloc'd; without memory, all threads. */
    struct du_thread *on_stack[64], **busy = on_stack;
    pthread_mutex_lock(&du_threads_lock);
    size_t cap = du_still_busy(NULL, 0, self), n = 0;
    if (cap > 64)
        busy = malloc(cap * sizeof(*busy));
    if (busy) {
        /* Counts change without the lock (handlers start requests), so a
         * second look may find more busy threads than the first counted:
         * keep `cap`.  One that was idle at the first look has read 0 once
         * after the membarrier already, which is all we need of it. */
        for (struct du_thread *th = du_threads; th && n < cap; th = th->next)
            if (du_claim_busy(th, self))
                busy[n++] = th;
    } else {
        n = cap;
    }
    pthread_mutex_unlock(&du_threads_lock);

    unsigned round = 0;
    while (n) {
        du_backoff(&round);
        /* Thread context: a count of ours raised while we slept was leaked
         * by siglongjmp (du_claim_busy); another canceller may wait for it. */
        if (self)
            du_claim_repair(self);
        pthread_mutex_lock(&du_threads_lock);
        n = du_still_busy(busy, n, self);
        pthread_mutex_unlock(&du_threads_lock);
    }
    if (busy != on_stack)
        free(busy);
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
