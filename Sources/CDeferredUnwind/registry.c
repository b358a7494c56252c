/*
 * registry.c - tracers: one bit each, SRCU-style on liburcu (memb flavor).
 *
 * Two kinds of readers, two grace periods:
 *  - dispatch: callbacks run inside a liburcu read-side section and may
 *    sleep there; cancel waits for them with synchronize_rcu();
 *  - du_request (signal handlers): a per-thread claim counter (request.c);
 *    cancel waits for it with du_threads_wait_requests() (membarrier, then
 *    each thread's counter).  Not liburcu: its 0.13 read lock reaches its
 *    TLS through __tls_get_addr, which may allocate after a dlopen.
 * Writers are register and cancel.
 *
 * Why memb for dispatch: its read side is a per-thread counter store plus a
 * compiler barrier, nestable; grace periods use membarrier(), so readers pay
 * no fence.  mb costs a full fence per read lock (~50 ns); bp registers
 * lazily (mutex, mmap); qsbr needs every thread to announce quiescent
 * states, which a library that does not own its threads cannot promise;
 * signal is deprecated.  (Docs/Design.md, "Registry".)
 *
 * Rules:
 *  - du_tracers[bit] is the registered tracer owning `bit`, or NULL.
 *    Published with release, read with acquire (rcu_assign_pointer /
 *    rcu_dereference; C11 spelled out so ThreadSanitizer sees it).
 *  - du_used is the set of bits not available for a new tracer: registered
 *    ones and ones still being cancelled.  Zero'd bits are available.
 *    Guarded by du_registry_lock.
 *  - A bit goes back to du_used's zero'd state only after every attached
 *    thread's copy of it was scrubbed, so the next owner of the bit never
 *    sees a request made for the previous one.
 *  - Cancel never holds du_registry_lock across the grace period: a
 *    callback (a reader) may call du_tracer_register(), which takes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>
#include "internal.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define DU_TSAN 1
#endif

#ifdef DU_TSAN
/* liburcu 0.13 orders readers and writers with membarrier() and inline asm
 * that ThreadSanitizer cannot see.  Readers release a token as they leave
 * the section; the writer acquires it after the grace period: exactly the
 * happens-before edge the grace period provides. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char du_tsan_gp_token;
#define DU_TSAN_READER_DONE() __tsan_release(&du_tsan_gp_token)
#define DU_TSAN_GP_DONE() __tsan_acquire(&du_tsan_gp_token)
#else
#define DU_TSAN_READER_DONE() ((void)0)
#define DU_TSAN_GP_DONE() ((void)0)
#endif

static pthread_mutex_t du_registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Broadcast when a cancel finishes, so a concurrent second cancel (or a
 * destroy) returns only once the tracer is really quiet. */
static pthread_cond_t du_cancel_done = PTHREAD_COND_INITIALIZER;
static uint64_t du_used; /* guarded by du_registry_lock */
static _Atomic(struct du_tracer *) du_tracers[64];

#ifdef DU_VARIANTS
/* mutex-dispatch (v13): every thread's callbacks run under this one lock. */
static pthread_mutex_t duv_callback_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

/* Context: thread (dispatch) on an attached (urcu-registered) thread. */
void du_rcu_read_lock(void) { urcu_memb_read_lock(); }

void du_rcu_read_unlock(void)
{
    DU_TSAN_READER_DONE();
    urcu_memb_read_unlock();
}

/* Context: thread; may block on the registry mutex. */
int du_tracer_register(du_callback callback, void *arg, const char *name, du_tracer **out)
{
    if (!callback || !out)
        return -EINVAL;
    struct du_tracer *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->callback = callback;
    t->arg = arg;
    if (name) {
        strncpy(t->name, name, sizeof(t->name) - 1);
    }

    pthread_mutex_lock(&du_registry_lock);
    uint64_t free_bits = ~du_used & DU_TRACER_MASK;
    if (!free_bits) {
        pthread_mutex_unlock(&du_registry_lock);
        free(t);
        return -EBUSY;
    }
    int bit = __builtin_ctzll(free_bits);
    du_used |= (uint64_t)1 << bit;
    /* Release, partner: the acquire load in du_request.  It comes after the
     * scrub that freed this bit (registry lock chain), so a request that
     * sees this bit also sees its thread's mask and completed word without
     * the previous owner's bit, however the caller passed it t. */
    atomic_store_explicit(&t->bit, bit, memory_order_release);
    /* Release, partner: the acquire in du_registry_call.  A dispatcher that
     * sees t also sees t's fields, and (through the registry lock chain)
     * the scrub that freed this bit, so its later load of the pending word
     * cannot return the previous owner's request. */
    atomic_store_explicit(&du_tracers[bit], t, memory_order_release);
    pthread_mutex_unlock(&du_registry_lock);
    *out = t;
    return 0;
}

/* Context: thread; blocks for two grace periods (requests, callbacks);
 * never from a handler.  A second cancel waits for the first to finish. */
int du_tracer_cancel(du_tracer *t)
{
    if (!t)
        return -EINVAL;
    /* synchronize_rcu() inside a read-side section waits for itself. */
    if (urcu_memb_read_ongoing())
        return -EDEADLK;
    /* Inside a callback of this thread (also with mutex-dispatch, where no
     * read-side section is open): waiting would wait for ourselves. */
    struct du_thread *self = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (self && self->in_dispatch)
        return -EDEADLK;
    /* From a signal handler that interrupted du_request() on this thread
     * (a contract violation): the request wait would wait for ourselves. */
    if (self && atomic_load_explicit(&self->claiming, memory_order_relaxed))
        return -EDEADLK;

    pthread_mutex_lock(&du_registry_lock);
    if (t->cancel_state != DU_REGISTERED) {
        /* Cancelled before, or being cancelled by another thread: wait for
         * that cancel to finish, so "returned" always means "quiet". */
        while (t->cancel_state != DU_CANCELLED)
            pthread_cond_wait(&du_cancel_done, &du_registry_lock);
        pthread_mutex_unlock(&du_registry_lock);
        return -EALREADY;
    }
    t->cancel_state = DU_CANCELLING;
    int bit = atomic_load_explicit(&t->bit, memory_order_relaxed); /* written under this lock only */
    /* Relaxed: requests are ordered against it by the claim span
     * (du_threads_wait_requests), not by this store's order. */
    atomic_store_explicit(&t->bit, -1, memory_order_relaxed);
    /* rcu_assign_pointer(NULL): no new dispatch finds t after the grace period. */
    atomic_store_explicit(&du_tracers[bit], NULL, memory_order_release);
    pthread_mutex_unlock(&du_registry_lock); /* the bit stays in du_used */
    DU_STEP(DU_STEP_CANCEL_MARKED);

    /* Requests: every du_request() that may have read bit >= 0 has
     * returned (so its fetch-or is done and it no longer reads t). */
#ifdef DU_VARIANTS
    if (!DUV_IS(CANCEL_NO_WAIT))
#endif
    du_threads_wait_requests();
#ifdef DU_VARIANTS
    if (DUV_IS(MUTEX_DISPATCH)) {
        /* v13: a running callback holds the lock; taking it waits for it. */
        pthread_mutex_lock(&duv_callback_lock);
        pthread_mutex_unlock(&duv_callback_lock);
    }
    if (!DUV_IS(CANCEL_NO_WAIT))
#endif
    /* Callbacks: every callback of t that was running (even sleeping) has
     * returned, and no dispatch can find t any more. */
    urcu_memb_synchronize_rcu();
    DU_TSAN_GP_DONE();
    DU_STEP(DU_STEP_CANCEL_SYNCED);

#ifdef DU_VARIANTS
    if (!DUV_IS(CANCEL_NO_SCRUB))
#endif
    du_threads_scrub((uint64_t)1 << bit);
    DU_STEP(DU_STEP_CANCEL_SCRUBBED);

    pthread_mutex_lock(&du_registry_lock);
    du_used &= ~((uint64_t)1 << bit);
    t->cancel_state = DU_CANCELLED;
    pthread_cond_broadcast(&du_cancel_done);
    pthread_mutex_unlock(&du_registry_lock);
    return 0;
}

/* Context: thread; may block; never from a handler. */
int du_tracer_destroy(du_tracer *t)
{
    if (!t)
        return -EINVAL;
    int ret = du_tracer_cancel(t);
    if (ret == -EALREADY)
        ret = 0;
    if (ret == 0)
        free(t);
    return ret;
}

int du_tracer_bit(const du_tracer *t)
{
    /* Relaxed: a diagnostic snapshot; nothing is read through it. */
    return t ? atomic_load_explicit(&((du_tracer *)t)->bit, memory_order_relaxed) : -EINVAL;
}

const char *du_tracer_name(const du_tracer *t) { return t ? t->name : NULL; }

/*
 * Call each tracer in `todo` that is still registered and not completed.
 * Thread context (dispatch).  Returns the number of callbacks run.
 */
int du_registry_call(struct du_thread *th, uint64_t todo, const struct du_trace *trace,
                     uint64_t cookie)
{
    int called = 0;

#ifdef DU_VARIANTS
    if (DUV_IS(MUTEX_DISPATCH))
        pthread_mutex_lock(&duv_callback_lock);
    else
#endif
    du_rcu_read_lock();
    while (todo) {
        int bit = __builtin_ctzll(todo);
        uint64_t b = (uint64_t)1 << bit;
        todo &= ~b;
        /* rcu_dereference.  Acquire, partner: the release in register. */
        struct du_tracer *t = atomic_load_explicit(&du_tracers[bit], memory_order_acquire);
        if (!t)
            continue; /* cancelled: its bit is scrubbed after this section */
        /* Re-read the bit after finding its owner: if `t` reuses a bit that
         * was scrubbed, the acquire above makes the scrub visible here, so a
         * stale request is not delivered to the new owner.  Relaxed: the
         * ordering comes from that acquire. */
        uint64_t now = atomic_load_explicit(&th->mask, memory_order_relaxed);
        uint64_t done = atomic_load_explicit(&th->completed, memory_order_relaxed);
#ifdef DU_VARIANTS
        if (DUV_IS(NO_COMPLETED))
            done = 0; /* before v14: nothing remembers who was called */
#endif
        if (!(now & b) || (done & b))
            continue;
        /* Mark before calling: a request from inside the callback then
         * answers 1 and no round calls it twice.  Relaxed fetch-or, partner:
         * cancel's scrub (fetch-and), ordered after this section by the
         * grace period. */
        atomic_fetch_or_explicit(&th->completed, b, memory_order_relaxed);
        DU_STEP(DU_STEP_DISPATCH_CALLBACK);
        t->callback(trace, cookie, t->arg);
        called++;
    }
#ifdef DU_VARIANTS
    if (DUV_IS(MUTEX_DISPATCH))
        pthread_mutex_unlock(&duv_callback_lock);
    else
#endif
    du_rcu_read_unlock();
    return called;
}
