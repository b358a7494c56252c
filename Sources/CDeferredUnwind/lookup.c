/*
 * lookup.c - the dispatch's read side: find each requesting tracer inside a
 * liburcu (bp) read-side section, publish it in the thread's `calling`,
 * leave the section, call it; and the grace period that cancel waits for.
 * The registry's rules (registry.c) govern the slots read here; Docs/Design.md
 * ("Per-tracer cancel") has the ordering argument.
 */
#include <pthread.h>
#include <urcu/urcu-bp.h>
#include "internal.h"
#include "hooks.h"

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

/* Enter/leave the lookup's read-side section.  Context: thread (dispatch)
 * on an attached (urcu-registered) thread.  mutex-dispatch has no section:
 * its callbacks run under one lock instead. */
static inline void du_lookup_begin(void)
{
    if (du_hook_lookup_unlocked()) /* mutex-dispatch */
        return;
    urcu_bp_read_lock();
}

static inline void du_lookup_end(void)
{
    if (du_hook_lookup_unlocked()) /* mutex-dispatch */
        return;
    DU_TSAN_READER_DONE();
    urcu_bp_read_unlock();
}

/* Context: thread; blocks until every lookup section that began before it
 * has ended (short: no callback runs inside one). */
void du_rcu_synchronize(void)
{
    urcu_bp_synchronize_rcu();
    DU_TSAN_GP_DONE();
}

/*
 * Call each tracer in `todo` that is still registered and not completed.
 * Thread context (dispatch).  Returns the number of callbacks run.
 */
int du_registry_call(struct du_thread *th, uint64_t todo, const struct du_trace *trace,
                     uint64_t cookie)
{
    int called = 0;
    /* A callback that forks continues in the child, where this context's
     * requests belong to the parent: deliver nothing more of them there. */
    unsigned epoch = atomic_load_explicit(&du_fork_epoch, memory_order_relaxed);

    du_hook_callbacks_begin(); /* mutex-dispatch */
    while (todo) {
        int bit = __builtin_ctzll(todo);
        uint64_t b = (uint64_t)1 << bit;
        todo &= ~b;
        struct du_tracer_slot *t = &du_tracer_slots[bit];
        /* The lookup runs in a read-side section; the callback does not. */
        du_lookup_begin();
        /* rcu_dereference.  Acquire, partner: the release of live in register. */
        if (!atomic_load_explicit(&t->live, memory_order_acquire)) {
            du_lookup_end();
            continue; /* cancelled: its bit is scrubbed after this section */
        }
        /* Re-read the bit after finding its owner: if `t` reuses a bit that
         * was scrubbed, the acquire above makes the scrub visible here, so a
         * stale request is not delivered to the new owner.  Relaxed: the
         * ordering comes from that acquire. */
        uint64_t now = atomic_load_explicit(&th->mask, memory_order_relaxed);
        uint64_t done = du_hook_completed(atomic_load_explicit(&th->completed, memory_order_relaxed));
        if (!(now & b) || (done & b)) {
            du_lookup_end();
            continue;
        }
        DU_STEP(DU_STEP_DISPATCH_FOUND);
        /* Mark before calling: a request from inside the callback then
         * answers 1 and no round calls it twice.  Relaxed fetch-or, partner:
         * cancel's scrub (fetch-and), ordered after this section by the
         * grace period. */
        atomic_fetch_or_explicit(&th->completed, b, memory_order_relaxed);
        /* Published inside the section.  Relaxed: the grace period orders
         * it before cancel's acquire load in du_threads_wait_callbacks (a
         * reader's stores in its section precede the end of any grace period
         * that waited for it). */
        atomic_store_explicit(&th->calling, (uint8_t)bit, memory_order_relaxed);
        du_callback cb = t->callback;
        void *arg = t->arg;
        DU_STEP(DU_STEP_DISPATCH_MARKED);
        du_lookup_end();
        DU_STEP(DU_STEP_DISPATCH_CALLBACK);
        cb(trace, cookie, arg);
        called++;
        /* Release, partner: the acquire load in du_threads_wait_callbacks:
         * everything the callback did happens before its cancel returns. */
        atomic_store_explicit(&th->calling, 0, memory_order_release);
        DU_STEP(DU_STEP_DISPATCH_RETURNED);
        /* Thread context again: a count raised now was leaked by a handler
         * that left du_request() with siglongjmp during the callback.  Only
         * on the thread itself: on a proxy (proxy.c) `th` is the frozen
         * thread, whose handlers may be inside du_request() right now; a
         * repair would end cancel's request wait early (the harness's
         * `proxy` scenario caught it: a held request set a freed bit). */
        if (th == atomic_load_explicit(&du_self, memory_order_relaxed)) /* own word */
            du_claim_repair(th);
        /* Relaxed: written by this same thread (the fork child handler). */
        if (DU_UNLIKELY(atomic_load_explicit(&du_fork_epoch, memory_order_relaxed) != epoch))
            break;
    }
    du_hook_callbacks_end(); /* mutex-dispatch */
    return called;
}
