/*
 * thread_wait.c - the thread list as cancel sees it: the request side's
 * grace period (membarrier, then each thread's claim count), the wait for
 * one tracer's running callbacks (each thread's `calling`), both polled with
 * no lock held while waiting, and the scrub of a cancelled tracer's bit.
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

/* What a wait waits for: requests in progress (slot 0), or a callback of
 * the tracer in `slot` running. */
struct du_wait {
    struct du_thread *self;
    unsigned slot;
};

/* Whether `th` is busy for `w`.
 * Requests: acquire load of claiming, partner: the release decrement in
 * du_claim_exit (and du_claim_repair).  The calling thread is never busy:
 * we run in thread context inside cancel, whose entry refused a raised
 * count (-EDEADLK), and a handler that ran on us since has either returned
 * (restoring the count) or left du_request with siglongjmp (leaking it) -
 * so a raised count here is a leak: repair it, or two threads' cancels
 * could each wait for the other's.
 * Callbacks: acquire load of calling, partner: the release store of 0 after
 * the callback (lookup.c); the value it was set to inside a read-side
 * section is visible because the grace period ended after that section.
 * The calling thread runs no callback (cancel refuses in_dispatch). */
static int du_busy(struct du_thread *th, const struct du_wait *w)
{
    if (th == w->self) {
        du_claim_repair(w->self);
        return 0;
    }
    if (w->slot)
        return atomic_load_explicit(&th->calling, memory_order_acquire) == w->slot;
    return atomic_load_explicit(&th->claiming, memory_order_acquire) != 0;
}

/* Whether some thread (all, or only those in `busy`, which are pruned)
 * is still busy for `w`.  du_threads_lock held. */
static size_t du_still_busy(struct du_thread **busy, size_t n, const struct du_wait *w)
{
    if (!busy) {
        size_t any = 0;
        for (struct du_thread *th = du_threads; th; th = th->next)
            any += du_busy(th, w);
        return any;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        /* Detached (not on the list): its requests and callbacks are over.
         * A thread attached since at the same address is waited for too:
         * harmless. */
        if (du_on_list(busy[i]) && du_busy(busy[i], w))
            busy[kept++] = busy[i];
    }
    return kept;
}

/*
 * Poll until no thread is busy for `w`.  One idle look per thread after the
 * caller's barrier suffices (a claim count counts nesting; a callback that
 * started after the grace period cannot be of this tracer), so the wait
 * takes ONE look at every thread on the list, records each thread it sees
 * busy, and then polls only those.  Requests never block, so a request wait
 * ends once each busy thread runs - or, for a claim leaked by siglongjmp,
 * at its next safe point or detach (du_claim_repair); a callback wait ends
 * when the callbacks return.
 *
 * Why one look, and why the record is sized by the list and not by a count
 * of busy threads (Docs/Design.md, "The request wait"): counts change
 * without the lock (handlers start and end requests on any thread at any
 * time), only the list is fixed while we hold the lock.  An earlier version
 * counted the busy threads in a first look and recorded at most that many
 * in a second: a thread ahead in the list that turned busy between the
 * looks filled the record, and a thread behind it that was busy in both
 * looks - inside du_request(t), past its live check - was never waited
 * for; cancel scrubbed and freed the bit, then that request set it (three
 * threads: a canceller and two requesters; Model/ switch CAPPED_LOOK).
 */
static void du_wait_idle(const struct du_wait *w)
{
    /* On the stack up to 64 threads, else malloc'd for the list's length
     * (thread context: cancel may allocate); without memory, every look
     * is at the whole list, which is correct but may wait for requests
     * that began after the barrier. */
    struct du_thread *on_stack[64], **busy = on_stack;
    size_t n = 0, len = 0;
    pthread_mutex_lock(&du_threads_lock);
    for (struct du_thread *th = du_threads; th; th = th->next)
        len++;
    if (len > 64)
        busy = malloc(len * sizeof(*busy));
    if (busy) {
        for (struct du_thread *th = du_threads; th; th = th->next) {
            if (du_busy(th, w))
                busy[n++] = th;
            DU_STEP(DU_STEP_CANCEL_WAIT_LOOKED);
        }
    } else {
        n = du_still_busy(NULL, 0, w);
    }
    pthread_mutex_unlock(&du_threads_lock);

    unsigned round = 0;
    while (n) {
        DU_STEP(DU_STEP_CANCEL_WAIT_POLL);
        du_backoff(&round);
        /* Thread context: a count of ours raised while we slept was leaked
         * by siglongjmp (du_busy); another canceller may wait for it. */
        if (w->self)
            du_claim_repair(w->self);
        pthread_mutex_lock(&du_threads_lock);
        n = du_still_busy(busy, n, w);
        pthread_mutex_unlock(&du_threads_lock);
    }
    if (busy != on_stack)
        free(busy);
}

/*
 * Cancel's request-side grace period.  Context: thread; blocks, holding no
 * lock while it waits.  Partner: du_claim_enter/exit (request.c).  After the
 * membarrier, a thread whose counter reads 0 has no request in progress that
 * could have read the handle as live; a request that starts later sees it
 * cancelled.
 */
void du_threads_wait_requests(void)
{
    (void)du_library_init(); /* du_have_membarrier is settled before we read it */
    struct du_wait w = {atomic_load_explicit(&du_self, memory_order_relaxed), 0};
    du_membarrier_all();
    du_wait_idle(&w);
}

/* Cancel's callback wait for the tracer in `slot` (after synchronize_rcu:
 * see lookup.c and registry.c).  Context: thread; blocks, holding no lock while it
 * waits (a callback may attach threads or take any lock of its own). */
void du_threads_wait_callbacks(unsigned slot)
{
    struct du_wait w = {atomic_load_explicit(&du_self, memory_order_relaxed), slot};
    du_wait_idle(&w);
}

/* Per slot: accepted requests of threads that left the list before the
 * slot's cancel scrubbed them (their exit delivery found the tracer
 * cancelled).  Guarded by du_threads_lock; the scrub adds them to its
 * count, so each dropped context is counted once, by its tracer's cancel. */
static uint32_t du_dropped_gone[64];

/* Context: thread leaving the list; du_threads_lock held.  After the exit
 * delivery, a tracer bit set and not completed is one whose cancel began
 * before the delivery looked (EXITING stops new requests), and whose scrub
 * has not run (it would have cleared the bit under this lock). */
void du_threads_count_gone(struct du_thread *th)
{
    /* Relaxed: this thread's own words (no request can run: EXITING, and
     * du_self is already cleared); the lock orders us against the scrub. */
    uint64_t left = atomic_load_explicit(&th->mask, memory_order_relaxed) & DU_TRACER_MASK &
                    ~atomic_load_explicit(&th->completed, memory_order_relaxed);
    for (; left; left &= left - 1)
        du_dropped_gone[__builtin_ctzll(left)]++;
}

/* Context: fork child, du_threads_lock held. */
void du_threads_forget_gone(void)
{
    for (unsigned i = 0; i < 64; i++)
        du_dropped_gone[i] = 0;
}

/* Cancel's scrub: clear `bit` in every attached thread.  Returns the
 * number of entry contexts that held an accepted request for it whose
 * callback never started - on threads still attached, and on threads that
 * left since the cancel began: those stacks will never reach the tracer.
 * Context: thread; takes du_threads_lock. */
int du_threads_scrub(uint64_t bit)
{
    unsigned slot = (unsigned)__builtin_ctzll(bit);
    pthread_mutex_lock(&du_threads_lock);
    int dropped = (int)du_dropped_gone[slot];
    du_dropped_gone[slot] = 0;
    for (struct du_thread *th = du_threads; th; th = th->next) {
        /* Relaxed fetch-ands: the waits already ordered every claim of this
         * bit, every lookup and every callback of the tracer before us; the
         * registry lock chain orders us before the bit's next owner is
         * published (registry.c). */
        /* `completed` first: a delivered request's mark cannot be lost
         * between the two (the reset clears the word, then completed; read
         * in this order, a mark seen missing was never there, since no
         * dispatch can find the tracer any more).  Mask first would count a
         * request delivered just before the reset (found by the Spin model). */
        uint64_t c = atomic_fetch_and_explicit(&th->completed, ~bit, memory_order_relaxed);
        uint64_t m = atomic_fetch_and_explicit(&th->mask, ~bit, memory_order_relaxed);
        dropped += (m & bit) && !(c & bit);
    }
    pthread_mutex_unlock(&du_threads_lock);
    return dropped;
}
