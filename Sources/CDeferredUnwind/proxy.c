/*
 * proxy.c - frozen regions and proxy safe points.
 *
 * A thread blocked in a long call never reaches its safe point.  Its stack
 * above the blocking call does not change meanwhile, so another thread can
 * do what the safe point would: unwind that stack once per context, call
 * each requesting tracer, mark it completed.  The thread declares the
 * region (du_frozen_enter/du_frozen_leave around the call); any attached
 * thread serves (du_proxy_serve).
 *
 * The frame: du_frozen_enter is an assembly stub that hands its caller's
 * return address, stack pointer after the return and RBP to the C entry,
 * exactly the registers ehu starts a walk from at a safe point.  The walk
 * reads only the caller's frame and those above it (every read is at or
 * above that stack pointer, below the thread's stack top), which the
 * contract freezes: the caller only calls down until it leaves.  Its own
 * calls write below that stack pointer, never into what the walk reads.
 * (A context captured by a signal handler inside the blocking call would
 * include the libc wrapper's frame, which runs again when the call returns,
 * before the region's end can be announced: not a frozen frame.)
 *
 * Rules for du_thread.frozen (the second cache line, internal.h):
 *   NO -> YES      the owning thread, enter: the frame fields are written
 *                  first, then frozen with release.
 *   YES -> CLAIMED a proxy, compare-exchange with acquire, under the
 *                  thread-list mutex (the thread is in the list).
 *   CLAIMED -> YES the same proxy, release, after its last access to the
 *                  thread's state and under the list mutex again (it reads
 *                  `next` before the thread may leave and detach).
 *   YES -> NO      the owning thread: leave, detach, exit; compare-exchange
 *                  (acquire); it waits while the word is CLAIMED.
 * Partners: enter's release / the claim's acquire: the proxy sees the frame
 * fields, the stack the thread wrote before the region, the requests and
 * the cookie made before it, and every context the thread ended before
 * (the reset's clears).  The proxy's release / leave's acquire: the thread
 * sees the proxy's completed marks, cache, `unwound` and `calling` writes
 * before its own safe point reads them.
 *
 * While the word is CLAIMED the proxy acts as the thread's dispatcher:
 * it reads the thread's pending word and cookie, writes its trace cache
 * and `unwound`, and runs du_registry_call on the thread's state (marks
 * `completed`, publishes `calling` for cancel's callback wait), exactly
 * as the thread's own round (dispatch.c) would.  The thread's own dispatch
 * cannot run meanwhile: the thread is blocked, or it is in leave waiting,
 * or a handler on it reaches du_safe_point, which refuses inside a region
 * (-EBUSY).  Its handlers may still request: a new tracer's bit and PENDING
 * are served by the thread's safe point after the region (or by the next
 * proxy); a repeat request of a served tracer answers 1 with the same
 * cookie, as after a safe point's callback.
 *
 * The cookie: no context ends inside a region (only the thread's safe
 * point resets, and it refuses there), so the low half the proxy reads is
 * 0 (no request yet: nothing to serve) or the one value of this context.
 * Relaxed reads of mask and cookie then suffice: the pending bits the proxy
 * sees belong to that one context.
 */
#include <errno.h>
#include <sched.h>
#include "ehu.h"
#include "internal.h"
#include "hooks.h"

_Static_assert(sizeof(uintptr_t) == 8, "x86-64: the stub passes 64-bit registers");

/* Called by the stub with the caller's registers as the caller will see
 * them after the stub returns. */
__attribute__((visibility("hidden"), used, noinline)) int du__frozen_enter_at(uintptr_t rip, uintptr_t rsp,
                                                                              uintptr_t rbp)
{
    struct du_thread *th;
    int err = du_self_free(&th); /* (no claim can come before YES) */
    if (err)
        return err;
    if (atomic_load_explicit(&th->mask, memory_order_relaxed) & DU_EXITING)
        return -EBUSY;
    th->frozen_rip = rip;
    th->frozen_rsp = rsp;
    th->frozen_rbp = rbp;
    th->stack_hi = ehu_stack_hi(); /* computed at attach (the unwinder's warm-up) */
    /* Release, partner: the proxy's acquire claim (proxy.c's header). */
    atomic_store_explicit(&th->frozen, DU_FROZEN_YES, memory_order_release);
    DU_STEP(DU_STEP_FROZEN_ENTERED);
    return 0;
}

/* du_frozen_enter(): rip = our return address, rsp = the caller's stack
 * pointer after the return, rbp as the caller has it; tail-jumps to
 * du__frozen_enter_at.  Names through the preprocessor: a second copy of
 * the core renames them (rename.h). */
#define DU_STR_(x) #x
#define DU_STR(x) DU_STR_(x)
__asm__(".text\n"
        ".globl " DU_STR(du_frozen_enter) "\n"
        ".type " DU_STR(du_frozen_enter) ", @function\n"
        DU_STR(du_frozen_enter) ":\n"
        ".cfi_startproc\n"
        "    movq (%rsp), %rdi\n"
        "    leaq 8(%rsp), %rsi\n"
        "    movq %rbp, %rdx\n"
        "    jmp " DU_STR(du__frozen_enter_at) "\n"
        ".cfi_endproc\n"
        ".size " DU_STR(du_frozen_enter) ", .-" DU_STR(du_frozen_enter) "\n");

/* 1 if it waited for a proxy, 0 if not, -EINVAL outside a region. */
static int du_frozen_release(struct du_thread *th)
{
    int waited = 0;
    unsigned expected = DU_FROZEN_YES;
    if (du_hook_leave_ignores_claim()) /* leave-no-wait */
        return atomic_exchange_explicit(&th->frozen, DU_FROZEN_NO, memory_order_acquire) == DU_FROZEN_NO
                   ? -EINVAL : 0;
    /* Acquire, partner: the proxy's release store of YES (proxy.c's header). */
    while (!atomic_compare_exchange_weak_explicit(&th->frozen, &expected, DU_FROZEN_NO,
                                                  memory_order_acquire, memory_order_relaxed)) {
        if (expected == DU_FROZEN_NO)
            return -EINVAL;
        if (expected == DU_FROZEN_CLAIMED) {
            if (!waited)
                DU_STEP(DU_STEP_FROZEN_WAITING);
            waited = 1;
            sched_yield(); /* the proxy's unwind and callbacks: no lock held here */
        }
        expected = DU_FROZEN_YES;
    }
    DU_STEP(DU_STEP_FROZEN_LEFT);
    return waited;
}

int du_frozen_leave(void)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return -ESRCH;
    return du_frozen_release(th);
}

void du_frozen_end(struct du_thread *th)
{
    (void)du_frozen_release(th);
}

/* The claimed thread's round, as dispatch.c's du_round with the thread's
 * own state, on this thread.  Returns callbacks run. */
static int du_proxy_round(struct du_thread *th)
{
    /* Relaxed: one context inside the region (the header's "The cookie"). */
    uint64_t m = atomic_load_explicit(&th->mask, memory_order_relaxed);
    uint32_t cnt = atomic_load_explicit(&th->cookie_cnt, memory_order_relaxed);
    if ((m & (DU_CLOSING | DU_EXITING)) || cnt == 0)
        return 0;
    /* Relaxed: completed's writers are the thread (ordered by the claim)
     * and cancel's scrub, which du_registry_call re-checks after its
     * acquire of the tracer's live handle, as the thread's own round does. */
    uint64_t todo = m & DU_TRACER_MASK &
                    ~du_hook_completed(atomic_load_explicit(&th->completed, memory_order_relaxed));
    if (!todo)
        return 0;
    struct du_trace trace;
    du_unwind_frozen(th, &trace);
    DU_STEP(DU_STEP_PROXY_UNWOUND);
    return du_registry_call(th, todo, &trace, du_cookie_make(th, cnt));
}

int du_proxy_serve(void)
{
    struct du_thread *self;
    int err = du_self_free(&self);
    if (err)
        return err;
    unsigned epoch = atomic_load_explicit(&du_fork_epoch, memory_order_relaxed);
    int called = 0;
    /* Our callbacks' calls of cancel, detach and safe point answer -EDEADLK,
     * as in our own dispatch: cancel would wait for a `calling` we set. */
    self->in_dispatch = 1;
    pthread_mutex_lock(&du_threads_lock);
    for (struct du_thread *th = du_threads; th;) {
        unsigned expected = DU_FROZEN_YES;
        /* Relaxed peeks first: most threads are not frozen or have nothing. */
        if (th == self || atomic_load_explicit(&th->frozen, memory_order_relaxed) != DU_FROZEN_YES ||
            !(atomic_load_explicit(&th->mask, memory_order_relaxed) & DU_TRACER_MASK)) {
            th = th->next;
            continue;
        }
        /* Still under the list lock: between the peek and the claim the
         * thread may leave (the claim then fails) but cannot detach, whose
         * unlink takes this lock, so `th` is not freed under the claim. */
        DU_STEP(DU_STEP_PROXY_PEEKED);
        if (!atomic_compare_exchange_strong_explicit(&th->frozen, &expected, DU_FROZEN_CLAIMED,
                                                     memory_order_acquire, memory_order_relaxed)) {
            th = th->next;
            continue;
        }
        DU_STEP(DU_STEP_PROXY_CLAIMED);
        /* The thread stays in the list while claimed: its leave, detach
         * and exit wait for our release below, which we make under the
         * lock after reading `next`. */
        pthread_mutex_unlock(&du_threads_lock);
        called += du_proxy_round(th);
        /* A callback forked: this is the child, where `th` is gone and the
         * list holds only us (registry.c's fork rule for dispatches). */
        if (DU_UNLIKELY(atomic_load_explicit(&du_fork_epoch, memory_order_relaxed) != epoch)) {
            self->in_dispatch = 0;
            return called;
        }
        pthread_mutex_lock(&du_threads_lock);
        struct du_thread *next = th->next;
        /* Release, partner: the owner's acquire in du_frozen_release.  A
         * compare-exchange, not a store: only this proxy holds CLAIMED, but
         * the variant leave-no-wait's owner may have left meanwhile. */
        unsigned claimed = DU_FROZEN_CLAIMED;
        atomic_compare_exchange_strong_explicit(&th->frozen, &claimed, DU_FROZEN_YES,
                                                memory_order_release, memory_order_relaxed);
        DU_STEP(DU_STEP_PROXY_RELEASED);
        th = next;
    }
    pthread_mutex_unlock(&du_threads_lock);
    self->in_dispatch = 0;
    return called;
}
