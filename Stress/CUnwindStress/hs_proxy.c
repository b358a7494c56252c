/*
 * hs_proxy.c - the proxy scenario: frozen regions and proxy safe points
 * (Sources/CDeferredUnwind/proxy.c).
 *
 * Three parties race on every worker's context:
 *  - the requester: the worker and its handlers.  In hs_leaf the worker
 *    calls hs_frozen_block (a frame that stays on the stack), which enters a
 *    frozen region, blocks 0-2 ms (clock_nanosleep, a futex wait or ppoll,
 *    each with a timeout), leaves, and returns to hs_leaf's safe point.  The
 *    timers' handlers keep requesting meanwhile; inside the region a handler
 *    sometimes calls the safe point, which must refuse (-EBUSY) when this
 *    context has anything requested, or do nothing (0); a nested handler
 *    that lands inside a first-level handler's du_request in the region
 *    parks there 300 us (held-request's park, hs_signal.c): cancel must
 *    wait for that request although a proxy serves the thread meanwhile;
 *  - the proxies: two attached threads looping on du_proxy_serve();
 *  - the canceller: the registrar's tracer churn (cancel, re-register).
 *
 * Bookkeeping.  A callback on a proxy thread belongs to the frozen worker
 * whose cookies carry its thread half (pz_serial, learned from the worker's
 * first accepted request of the attach; a worker enters regions only once
 * it knows it).  The proxy logs the callback into that worker's pcbs and
 * counts it on the worker (n_cb, h_enter/h_exit for the registrar's
 * deferred free); the worker merges pcbs into its context's callbacks after
 * its safe point, so the usual checker sees each accepted request delivered
 * exactly once with the context's cookie, by the proxy or by the thread.
 * The hand-over is the core's: the proxy's release of the claim, the
 * worker's acquire in du_frozen_leave.
 *
 * Checks added by the scenario:
 *  - a proxy's callback runs only while its worker is inside the region
 *    (pz_state not OUT at its start and at its end): leave waits for it;
 *  - no callback on the worker's own thread inside its region;
 *  - a handler's safe point inside the region answers -EBUSY (something
 *    requested in the context) or 0 (nothing), never runs callbacks;
 *  - a proxy's trace is flagged DU_TRACE_PROXY (and only a proxy's), and
 *    starts at the return address into hs_frozen_block of its
 *    du_frozen_enter call: ips[0] is that address exactly (captured from
 *    the stack by the call stub below) and lies inside hs_frozen_block
 *    (after its entry, below the end label's address, both taken in thread
 *    context); then hs_frozen_block's return into hs_leaf, then the
 *    context's recursion.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hs_internal.h"

HS_IE_TLS int hs_proxy_me;

#if !defined(__x86_64__)
#error "the proxy scenario's call stub is x86-64 (as du_frozen_enter)"
#endif

/* int hs_frozen_call(uintptr_t *ra_out, int (*enter)(void)): store the
 * return address on top of the stack (into our caller) at *ra_out, then
 * tail-jump to enter with the stack and RBP as our caller left them: enter
 * sees exactly the frame it would see if called directly. */
int hs_frozen_call(uintptr_t *ra_out, int (*enter)(void));
__asm__(".text\n"
        ".globl hs_frozen_call\n"
        ".hidden hs_frozen_call\n"
        ".type hs_frozen_call, @function\n"
        "hs_frozen_call:\n"
        ".cfi_startproc\n"
        "    movq (%rsp), %rax\n"
        "    movq %rax, (%rdi)\n"
        "    jmp *%rsi\n"
        ".cfi_endproc\n"
        ".size hs_frozen_call, .-hs_frozen_call\n");

/* hs_frozen_block's bounds: its entry, and the address of a label at its
 * end (taken when the worker runs it, in thread context). */
static _Atomic uintptr_t hs_fb_end;

static void hs_block(struct hs_worker *w, uint32_t us, int how)
{
    if (us == 0)
        return;
    uint64_t end = hs_now_ns() + (uint64_t)us * 1000u;
    for (;;) {
        uint64_t now = hs_now_ns();
        if (now >= end)
            return;
        uint64_t left = end - now;
        struct timespec rel = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
        switch (how) {
        case 0:
            clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
            break;
        case 1:
            /* Nobody wakes the word: a futex wait with a timeout. */
            syscall(SYS_futex, &w->pz_futex, FUTEX_WAIT_PRIVATE, 0u, &rel, NULL, 0);
            break;
        default:
            ppoll(NULL, 0, &rel, NULL);
            break;
        }
    }
}

/* The frame that stays on the stack across the region: calls down only
 * (du_frozen_enter, the block, du_frozen_leave). */
__attribute__((noinline)) int hs_frozen_block(struct hs_worker *w, uint64_t r)
{
    w->pz_ra1 = (uintptr_t)__builtin_return_address(0);
    w->pz_ctx_region = 1;
    atomic_store_explicit(&w->pz_state, HS_PZ_ENTERING, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->op, HS_OP_FROZEN, memory_order_release);
    int e = hs_frozen_call(&w->pz_ra0, hs_api->frozen_enter);
    if (e != 0)
        hs_violation(9, "expected du_frozen_enter() == 0 on an attached worker outside callbacks and regions; "
                        "seen %s (worker %d)",
                     hs_status_name(e), w->slot);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&w->pz_state, HS_PZ_IN, memory_order_relaxed);
    HS_LC_ADD(LCC_REGIONS, 1);
    /* Block 0-2 ms (the handlers request meanwhile). */
    hs_block(w, (uint32_t)(r % 2001u) * (uint32_t)hs_tsan_scale, (int)((r >> 16) % 3));
    atomic_store_explicit(&w->pz_state, HS_PZ_LEAVING, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    int l = hs_api->frozen_leave();
    /* seq_cst: a proxy's callback still running reads OUT (leave-no-wait). */
    atomic_store_explicit(&w->pz_state, HS_PZ_OUT, memory_order_seq_cst);
    atomic_store_explicit(&w->op, HS_OP_NONE, memory_order_release);
    if (l != 0 && l != 1)
        hs_violation(9, "expected du_frozen_leave() to answer 0 or 1 in a region; seen %s (worker %d)",
                     hs_status_name(l), w->slot);
    if (l == 1)
        HS_LC_ADD(LCC_LEAVE_WAITS, 1);
    __asm__ volatile("" ::: "memory");
end:
    __asm__ volatile("" ::: "memory");
    atomic_store_explicit(&hs_fb_end, (uintptr_t)&&end, memory_order_relaxed);
    return l;
}

uint64_t hs_proxy_region_draw(struct hs_worker *w)
{
    uint64_t r = hs_rng_next(&w->hrng[0]);
    /* Regions in most contexts; only once a cookie told us our serial. */
    if (r % 8 == 0 || !atomic_load_explicit(&w->pz_serial, memory_order_relaxed))
        return 0;
    return (r >> 8) | 1;
}

void hs_proxy_handler(struct hs_worker *w, int depth, int accepted)
{
    uint64_t r = hs_rng_next(&w->hrng[depth]);
    if (r % 3 != 0)
        return;
    int ret = hs_api->safe_point();
    HS_LC_ADD(LCC_REGION_SP, 1);
    if (ret > 0 || (ret != 0 && ret != -EBUSY) || (accepted && ret != -EBUSY))
        hs_violation(9, "expected du_safe_point() in a handler inside a frozen region to answer -EBUSY (something "
                        "requested in the context) or 0 (nothing); seen %s after %s accepted request in this "
                        "handler (worker %d)",
                     hs_status_name(ret), accepted ? "an" : "no", w->slot);
}

struct hs_worker *hs_proxy_target(uint64_t id, uint64_t cookie, const struct du_trace *t)
{
    uint32_t serial = (uint32_t)(cookie >> 32);
    struct hs_worker *found = NULL;
    for (int i = 0; i < hs_nworkers; i++) {
        struct hs_worker *w = &hs_workers[i];
        if (serial && atomic_load_explicit(&w->pz_serial, memory_order_relaxed) == serial &&
            atomic_load_explicit(&w->alive, memory_order_relaxed)) {
            if (found)
                hs_violation(3, "expected one attached thread per cookie thread half; seen %#x on workers %d "
                                "and %d (proxy callback of tracer #%llu)",
                             serial, found->slot, w->slot, (unsigned long long)id);
            found = w;
        }
    }
    if (!found)
        hs_violation(5, "expected a proxy's callback only for a worker in a frozen region; seen tracer #%llu's "
                        "with cookie %#llx (flags %#x) whose thread half names no live worker",
                     (unsigned long long)id, (unsigned long long)cookie, t->flags);
    if (!(t->flags & DU_TRACE_PROXY))
        hs_violation(7, "expected DU_TRACE_PROXY on every callback du_proxy_serve() runs; seen flags %#x "
                        "(tracer #%llu, cookie %#llx, worker %d)",
                     t->flags, (unsigned long long)id, (unsigned long long)cookie, found->slot);
    int zs = atomic_load_explicit(&found->pz_state, memory_order_seq_cst);
    if (zs == HS_PZ_OUT)
        hs_violation(4, "expected a proxy's callback only while its worker is in a frozen region; seen tracer "
                        "#%llu's (cookie %#llx) start on a proxy after worker %d's du_frozen_leave() returned",
                     (unsigned long long)id, (unsigned long long)cookie, found->slot);
    return found;
}

int hs_proxy_trace_ok(struct hs_worker *w, const struct du_trace *trace, char *why, size_t whylen)
{
    if (trace->flags & DU_TRACE_TRUNCATED) {
        snprintf(why, whylen, "proxy trace flagged TRUNCATED for a %d-frame call path", w->depth + 3);
        return 0;
    }
    int d = w->depth;
    if (trace->nr < (uint32_t)d + 3 || !trace->ips) {
        snprintf(why, whylen, "proxy trace has %u frames, the frozen call path has at least %d", trace->nr, d + 3);
        return 0;
    }
    uintptr_t lo = (uintptr_t)&hs_frozen_block;
    uintptr_t hi = atomic_load_explicit(&hs_fb_end, memory_order_relaxed);
    if (trace->ips[0] != w->pz_ra0 || trace->ips[0] <= lo || (hi > lo && trace->ips[0] > hi)) {
        snprintf(why, whylen,
                 "proxy trace ips[0]=%#lx is not the return address %#lx into hs_frozen_block [%#lx, %#lx] of "
                 "its du_frozen_enter call",
                 (unsigned long)trace->ips[0], (unsigned long)w->pz_ra0, (unsigned long)lo, (unsigned long)hi);
        return 0;
    }
    if (trace->ips[1] != w->pz_ra1) {
        snprintf(why, whylen, "proxy trace ips[1]=%#lx is not hs_frozen_block's return into hs_leaf %#lx",
                 (unsigned long)trace->ips[1], (unsigned long)w->pz_ra1);
        return 0;
    }
    for (int j = 1; j <= d + 1; j++) {
        uintptr_t want = w->expect[d + 2 - j];
        if (trace->ips[j + 1] != want) {
            snprintf(why, whylen,
                     "proxy trace ips[%d]=%#lx but recursion level %d of this context returns to %#lx (depth %d)",
                     j + 1, (unsigned long)trace->ips[j + 1], d + 2 - j, (unsigned long)want, d);
            return 0;
        }
    }
    return 1;
}

void hs_proxy_merge(struct hs_worker *w)
{
    /* Acquire: nothing to pair in the shipped core (du_frozen_leave's
     * acquire already ordered the proxy's writes); it keeps a variant's
     * late writer (leave-no-wait) from tearing the copy silently. */
    uint32_t n = atomic_load_explicit(&w->npcb, memory_order_acquire);
    if (n > HS_PCBMAX)
        n = HS_PCBMAX;
    for (uint32_t i = 0; i < n; i++) {
        if (w->ncb >= HS_CBMAX)
            hs_violation(4, "expected at most one callback per tracer per context; seen more than %d callbacks "
                            "in one context of worker %d (with a proxy's)",
                         HS_CBMAX, w->slot);
        w->cbs[w->ncb++] = w->pcbs[i];
    }
    atomic_store_explicit(&w->npcb, 0, memory_order_relaxed);
    w->pz_ctx_region = 0;
}

/* A proxy thread: attached, serving frozen workers until the slice ends. */
void *hs_proxy_main(void *arg)
{
    const struct hs_lc_arg *a = arg;
    struct hs_opslot *op = &hs_opslots[a->index];
    uint64_t rng = a->seed;
    uint32_t pause = hs_cur->lc_us * (uint32_t)hs_tsan_scale;
    hs_proxy_me = a->index + 1;
    int r = hs_api->attach();
    if (r != 0)
        hs_fatal("proxy: thread attach failed: %d", r);
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t x = hs_rng_next(&rng);
        hs_op_begin(op, HS_OP_PROXY);
        int n = hs_api->proxy_serve();
        hs_op_end(op);
        if (n < 0)
            hs_violation(9, "expected du_proxy_serve() >= 0 on an attached thread outside callbacks and regions; "
                            "seen %s (%s)",
                         hs_status_name(n), op->who);
        if (x % 16 == 0) {
            /* Our own safe point: we never request, so nothing (0). */
            int s = hs_api->safe_point();
            if (s != 0)
                hs_violation(9, "expected du_safe_point() == 0 on a proxy that never requests; seen %s (%s)",
                             hs_status_name(s), op->who);
        }
        if (pause && (x >> 8) % 4 == 0)
            hs_pause_us((uint32_t)((x >> 16) % (2 * (uint64_t)pause + 1)));
        else
            sched_yield();
    }
    hs_api->detach();
    return NULL;
}
