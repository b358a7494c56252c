/*
 * registry.c - tracers: one bit each, found through liburcu (bp flavor);
 * cancel waits for its own tracer only.
 *
 * Three things cancel waits for, each by its own mechanism:
 *  - requests (signal handlers) that read the tracer as live: a per-thread
 *    claim counter, waited for after a membarrier (request.c,
 *    du_threads_wait_requests).  Not liburcu: its 0.13 read lock reaches
 *    its TLS through __tls_get_addr, which may allocate after a dlopen.
 *  - dispatch lookups that found the tracer: a liburcu read-side section
 *    around the lookup, waited for with synchronize_rcu().  The section
 *    ends before the callback runs, so it is a few loads long: a grace
 *    period never waits for a sleeping callback of any tracer.
 *  - that tracer's running callbacks: before leaving the section a
 *    dispatcher publishes the slot it is about to call in its du_thread
 *    (`calling`); after the grace period every dispatcher that found the
 *    tracer has published it, so cancel polls each thread until `calling`
 *    names another slot (du_threads_wait_callbacks).  Another tracer's
 *    callback, however long it sleeps, is not waited for.
 * Writers are register and cancel.
 *
 * The kernel waits with one SRCU domain for all tracers, so a slow tracer's
 * callback delays every other tracer's cancel; we pay one extra walk of the
 * thread list per cancel instead (Docs/Design.md, "Per-tracer cancel").
 *
 * Why bp: it is the only liburcu flavor that survives fork() without exec
 * (urcu_bp_before_fork/after_fork_*, called from our atfork handlers in
 * fork.c; memb, mb and qsbr require every reader to unregister before a
 * fork).  Its read side, once the thread is registered (attach does it
 * explicitly, so no read lock ever registers lazily), is memb's: a counter
 * store and a compiler barrier, grace periods by membarrier().  Measured
 * against memb in Docs/Performance.md.  qsbr needs every thread to announce
 * quiescent states, which a library that does not own its threads cannot
 * promise; signal is deprecated.  (Docs/Design.md, "Registry".)
 *
 * Rules:
 *  - du_tracer_slots[bit] is the slot of the tracer owning `bit` (below); a
 *    registered tracer's handle is in its live word, published with
 *    release and read with acquire (rcu_assign_pointer/rcu_dereference, in
 *    C11 so ThreadSanitizer sees it).
 *  - du_used is the set of bits not available for a new tracer: registered
 *    ones and ones still being cancelled.  Zero'd bits are available.
 *    Guarded by du_registry_lock.
 *  - A bit goes back to du_used's zero'd state only after every attached
 *    thread's copy of it was scrubbed, and the scrub only after the
 *    tracer's last callback returned, so the next owner of the bit never
 *    sees a request or a completed mark made for the previous one.
 *  - Cancel never holds du_registry_lock across a wait: a callback may
 *    call du_tracer_register(), which takes it.
 */
#define _GNU_SOURCE /* pthread_cond_clockwait */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-bp.h> /* urcu_bp_read_ongoing */
#include "internal.h"
#include "hooks.h"

static pthread_mutex_t du_registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Broadcast when a cancel finishes, so a concurrent second cancel (or a
 * destroy) returns only once the tracer is really quiet. */
static pthread_cond_t du_cancel_done = PTHREAD_COND_INITIALIZER;
static uint64_t du_used; /* bits of REGISTERED and CANCELLING slots; guarded by du_registry_lock */
DU_HIDDEN struct du_tracer_slot du_tracer_slots[64];

/* Context: thread; may block on the registry mutex. */
int du_tracer_register(du_callback callback, void *arg, const char *name, du_tracer **out)
{
    if (!callback || !out)
        return -EINVAL;
    pthread_mutex_lock(&du_registry_lock);
    uint64_t free_bits = ~du_used & DU_TRACER_MASK;
    if (!free_bits) {
        pthread_mutex_unlock(&du_registry_lock);
        return -EBUSY;
    }
    int bit = __builtin_ctzll(free_bits);
    struct du_tracer_slot *s = &du_tracer_slots[bit];
    uint64_t gen = atomic_load_explicit(&s->gen, memory_order_relaxed) + 1; /* under the lock */
    uint64_t h = (gen << DU_SLOT_SHIFT) | (uint64_t)bit;
    /* Relaxed: other readers of gen hold the lock, or only compare it. */
    atomic_store_explicit(&s->gen, gen, memory_order_relaxed);
    s->callback = callback;
    s->arg = arg;
    memset(s->name, 0, sizeof(s->name));
    if (name)
        strncpy(s->name, name, sizeof(s->name) - 1);
    s->state = DU_SLOT_REGISTERED;
    du_used |= (uint64_t)1 << bit;
    /* Release, partners: the acquire loads in du_tracer_live_bit (requests)
     * and du_registry_call (dispatch).  It comes after the scrub that freed
     * this bit (registry lock chain), so whoever sees h also sees its
     * thread's pending and completed words without the previous owner's
     * bit, and the callback fields above. */
    atomic_store_explicit(&s->live, h, memory_order_release);
    pthread_mutex_unlock(&du_registry_lock);
    DU_STEP(DU_STEP_REGISTER_PUBLISHED);
    *out = (du_tracer *)(uintptr_t)h;
    return 0;
}

/* Checks that make waiting impossible on this thread.  0 or -EDEADLK. */
static int du_cancel_may_wait(struct du_thread *self)
{
    /* synchronize_rcu() inside a read-side section waits for itself.  Only
     * attached threads run our read-side sections; asking liburcu-bp on
     * another thread would register it with liburcu (bp registers lazily). */
    if (self && urcu_bp_read_ongoing())
        return -EDEADLK;
    /* Inside a callback of this thread (also with mutex-dispatch, where no
     * read-side section is open): waiting would wait for ourselves. */
    if (self && self->in_dispatch)
        return -EDEADLK;
    /* From a signal handler that interrupted du_request() on this thread (a
     * contract violation), or after a handler left du_request() with
     * siglongjmp and before this thread's next safe point repaired the
     * count: the request wait would wait for ourselves. */
    if (self && atomic_load_explicit(&self->claiming, memory_order_relaxed))
        return -EDEADLK;
    return 0;
}

/* Context: thread; blocks (requests, a grace period, this tracer's running
 * callbacks); never from a handler.  A second cancel waits for the first
 * to finish.  Returns the number of dropped contexts (>= 0) or -errno. */
int du_tracer_cancel(du_tracer *t)
{
    uint64_t h = du_handle_value(t);
    unsigned bit = du_handle_slot(h);
    uint64_t gen = du_handle_gen(h);
    if (!t || bit < DU_FIRST_TRACER_BIT || gen == 0)
        return -EINVAL; /* never issued (du_handle_never_issued) */
    /* Relaxed: our own thread's word (thread.c fences it). */
    struct du_thread *self = atomic_load_explicit(&du_self, memory_order_relaxed);
    int ret = du_cancel_may_wait(self);
    if (ret)
        return ret;
    struct du_tracer_slot *s = &du_tracer_slots[bit];

    pthread_mutex_lock(&du_registry_lock);
    uint64_t cur = atomic_load_explicit(&s->gen, memory_order_relaxed); /* under the lock */
    if (gen > cur) {
        pthread_mutex_unlock(&du_registry_lock);
        return -EINVAL; /* never issued */
    }
    if (gen < cur || s->state != DU_SLOT_REGISTERED) {
        /* Cancelled before, or being cancelled by another call: wait for
         * that cancel to finish, so "returned" always means "quiet".  A
         * newer generation means the slot was freed and reused: done. */
        while (atomic_load_explicit(&s->gen, memory_order_relaxed) == gen &&
               s->state == DU_SLOT_CANCELLING) {
            /* Wake now and then: a handler that left du_request() with
             * siglongjmp while we sleep here leaks our claim count, which
             * the first canceller may be waiting for.  We are in thread
             * context past the entry check, so a raised count is a leak. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until); /* immune to clock setting */
            until.tv_nsec += 1000 * 1000;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_clockwait(&du_cancel_done, &du_registry_lock, CLOCK_MONOTONIC, &until);
            if (self)
                du_claim_repair(self);
        }
        pthread_mutex_unlock(&du_registry_lock);
        return -EALREADY;
    }
    s->state = DU_SLOT_CANCELLING;
    /* Relaxed: requests are ordered against it by the claim span
     * (du_threads_wait_requests), dispatch lookups by the grace period. */
    atomic_store_explicit(&s->live, 0, memory_order_relaxed);
    pthread_mutex_unlock(&du_registry_lock); /* the bit stays in du_used */
    DU_STEP(DU_STEP_CANCEL_MARKED);

    /* 1. Requests: every du_request() that may have read the handle as live
     * has returned, so its fetch-or is done. */
    if (!du_hook_cancel_skips_waits()) /* cancel-no-wait */
        du_threads_wait_requests();
    DU_STEP(DU_STEP_CANCEL_REQUESTS_QUIET);
    du_hook_cancel_wait_dispatch(); /* mutex-dispatch */
    /* 2. Lookups: every dispatch that found t live has left its read-side
     * section, so it has published `calling` (and marked completed); a
     * dispatch that looks later finds live 0. */
    if (!du_hook_cancel_skips_waits())
        du_rcu_synchronize();
    DU_STEP(DU_STEP_CANCEL_SYNCED);

    /* 3. Callbacks of t (only t): each has returned.  Must follow 2: before
     * the grace period a dispatcher may have found t without publishing
     * `calling` yet. */
    if (!du_hook_cancel_skips_waits())
        du_threads_wait_callbacks(bit);
    DU_STEP(DU_STEP_CANCEL_CALLBACKS_QUIET);

    /* 4. Scrub: must follow 3 (and so 2): a dispatcher between its lookup
     * and its completed mark would set t's completed bit again after the
     * scrub, and the bit's next owner would be taken for already called. */
    int dropped = 0;
    if (!du_hook_cancel_skips_scrub()) /* cancel-no-scrub */
        dropped = du_threads_scrub((uint64_t)1 << bit);
    DU_STEP(DU_STEP_CANCEL_SCRUBBED);
    /* A jump that leaked our count during the waits: repair it before we
     * return, or other cancels wait for our next safe point. */
    if (self)
        du_claim_repair(self);

    /* 5. Free: only now may register hand the bit to a new tracer. */
    pthread_mutex_lock(&du_registry_lock);
    du_used &= ~((uint64_t)1 << bit);
    s->state = DU_SLOT_FREE;
    pthread_cond_broadcast(&du_cancel_done);
    pthread_mutex_unlock(&du_registry_lock);
    DU_STEP(DU_STEP_CANCEL_FREED);
    return dropped;
}

/* Context: thread; may block; never from a handler.  Handles own no
 * memory, so this is cancel with "already cancelled" counted as success:
 * any number of concurrent destroys and cancels of one tracer are safe. */
int du_tracer_destroy(du_tracer *t)
{
    int ret = du_tracer_cancel(t);
    return ret == -EALREADY ? 0 : ret; /* the dropped count of cancel, or 0 */
}

int du_tracer_bit(const du_tracer *t) { return du_tracer_live_bit(t); }

const char *du_tracer_name(const du_tracer *t)
{
    uint64_t h = du_handle_value(t);
    unsigned slot = du_handle_slot(h);
    if (!t || slot < DU_FIRST_TRACER_BIT)
        return NULL;
    /* Relaxed: a name lookup; the slot's name changes only at reuse, after
     * which the old handle's generation no longer matches. */
    if (atomic_load_explicit(&du_tracer_slots[slot].gen, memory_order_relaxed) != du_handle_gen(h))
        return NULL;
    return du_tracer_slots[slot].name;
}

/* ---- fork (thread.c's atfork handlers) ---------------------------------- */

/* Context: the forking thread, prepare handler (after liburcu's). */
void du_registry_fork_prepare(void) { pthread_mutex_lock(&du_registry_lock); }

/* Context: the forking thread, in the parent after fork. */
void du_registry_fork_parent(void) { pthread_mutex_unlock(&du_registry_lock); }

/*
 * Context: the only thread of a new child.  A cancel in progress on a
 * thread that does not exist here can never finish: finish it.  Its tracer
 * is already unreachable (live 0); no request is in flight on a vanished
 * thread; a callback can run here only on this thread, in the callback
 * that forked, and that dispatch delivers nothing more (du_fork_epoch).
 * The bits are scrubbed by du_threads_fork_child, which clears the one
 * remaining thread's whole word.
 */
void du_registry_fork_child(void)
{
    uint64_t finished = 0;
    for (int bit = DU_FIRST_TRACER_BIT; bit < 64; bit++) {
        if (du_tracer_slots[bit].state == DU_SLOT_CANCELLING) {
            du_tracer_slots[bit].state = DU_SLOT_FREE;
            finished |= (uint64_t)1 << bit;
        }
    }
    du_used &= ~finished;
    /* A fork from inside a callback of a tracer whose cancel we just
     * finished: the callback goes on here, but its slot may now go to a new
     * tracer, whose cancel must not wait for the old tracer's callback (a
     * child that cancels the new tracer from another thread while this
     * callback waits for that thread would deadlock).  Relaxed: one thread. */
    struct du_thread *self = atomic_load_explicit(&du_self, memory_order_relaxed);
    unsigned calling = self ? atomic_load_explicit(&self->calling, memory_order_relaxed) : 0;
    if (calling && (finished & ((uint64_t)1 << calling)))
        atomic_store_explicit(&self->calling, 0, memory_order_relaxed);
    /* Its waiters were other threads: gone.  Start it afresh. */
    pthread_cond_init(&du_cancel_done, NULL);
    pthread_mutex_unlock(&du_registry_lock);
}
