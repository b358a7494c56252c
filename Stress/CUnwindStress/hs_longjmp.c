/*
 * hs_longjmp.c - longjmp-request: handlers that siglongjmp out of
 * du_request() at random points.
 *
 * A jump injector sends a worker the outer signal and, a few microseconds
 * later, the jump signal.  The outer handler sets a sigsetjmp landing pad,
 * arms it and calls du_request() in a loop (hundreds of repeats on one to
 * three tracers) while armed; the jump handler, if the pad is armed,
 * disarms it and siglongjmp()s there -- usually from inside du_request(),
 * which never returns.  The worker then goes on and later reaches its safe
 * points.  The contract: the abandoned request leaks the thread's claim
 * counter until its next safe point or detach; until then cancel on this
 * thread answers -EDEADLK and cancel elsewhere waits.
 *
 * Logging: the entry is written, status HS_ST_INFLIGHT, before the first
 * call, and its status and cookie after it: an abandoned request stays
 * INFLIGHT, which permits one callback and requires none (hs_check.c);
 * every request that returned is checked as usual (exactly once for 0/1,
 * no callback after cancel returned).  Repeats must agree with the first
 * answer (1 with its cookie after 0/1, the same error after an error) or be
 * -ECANCELED (not after -ESRCH): RF_REPBAD otherwise.  The harness's own counters: a landing
 * closes the h_enter/h_exit section the jump abandoned, so the registrar's
 * deferred free still sees the worker quiesce.
 *
 * Checks on the worker (invariant 9): after a landing, cancel of the
 * worker's own tracer answers -EDEADLK (leaked) or 0 (the jump hit between
 * calls); after a safe point with no landing since it began, a thread that
 * saw -EDEADLK must see 0 (the safe point repaired the counter).  Progress
 * (invariant 8): the registrar's and the workers' cancels stay under the
 * watchdog bound.
 *
 * Signal path rules as in hs_signal.c.  The outer handler blocks the two
 * stress signals (only the jump signal may interrupt it); the jump signal
 * blocks them and the outer one.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "hs_internal.h"

static void hs_lj_loop(struct hs_worker *w, int depth, uint64_t r)
{
    const struct hs_scenario *sc = hs_cur;
    int span = sc->hot_tracers ? sc->hot_tracers : sc->tracers + 2;
    int reps = 100 + (int)(r % 1500);
    int k = 1 + (int)((r >> 16) % 3);
    for (int i = 0; i < k && atomic_load_explicit(&w->lj_armed, memory_order_relaxed); i++) {
        /* The pick, the Dekker section and the record's acquire loads as
         * in hs_request_some (hs_pick_begin). */
        struct hs_pick p;
        if (!hs_pick_begin(w, &w->hrng[depth], span, &p))
            return;
        if (p.t) {
            uint64_t id = p.id;
            du_tracer *t = p.t;
            int st = p.st;
            /* Only this handler appends while it runs (the stress signals
             * are blocked), so the slot is the tail read now; a landing
             * between the reservation and the last field voids it. */
            w->lj_wtail = atomic_load_explicit(&w->tail, memory_order_relaxed);
            w->lj_writing = 1;
            atomic_signal_fence(memory_order_seq_cst);
            uint32_t idx = atomic_fetch_add_explicit(&w->tail, 1, memory_order_relaxed);
            struct hs_req *e = &w->ring[idx % HS_RING];
            e->ctx = atomic_load_explicit(&w->ctx, memory_order_relaxed);
            e->phase = (uint8_t)atomic_load_explicit(&w->phase, memory_order_relaxed);
            e->cookie = 0;
            e->id = id;
            e->flags = RF_HANDLER | (st == HS_ST_CANCELLED ? RF_SAW_CANCELLED : 0); /* see hs_signal.c */
            e->depth = (uint8_t)depth;
            e->sig = 1;
            e->status = HS_ST_INFLIGHT;
            /* The entry is complete before the request starts (same-thread
             * partner: the checker, after this handler). */
            atomic_signal_fence(memory_order_seq_cst);
            w->lj_writing = 0;
            atomic_signal_fence(memory_order_seq_cst);
            for (int n = 0; n < reps && atomic_load_explicit(&w->lj_armed, memory_order_relaxed); n++) {
                uint64_t c = 0xdeadbeefULL;
                int ret = hs_api->request(t, &c);
                hs_count_request(w, ret);
                if (e->status == HS_ST_INFLIGHT) {
                    e->cookie = c;
                    atomic_signal_fence(memory_order_seq_cst); /* cookie before status */
                    e->status = ret;
                } else if (ret == -ECANCELED ? e->status == -ESRCH
                                             : e->status >= 0 ? ret != 1 || c != e->cookie : ret != e->status) {
                    /* A repeat agrees with the first answer, or says the
                     * tracer was cancelled meanwhile (checked before the
                     * thread's state, after its attachment). */
                    e->flags |= RF_REPBAD;
                }
                atomic_signal_fence(memory_order_seq_cst);
            }
        }
        hs_pick_end(w);
    }
}

static void hs_lj_outer(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int saved_errno = errno;
    struct hs_worker *w = hs_self;
    if (w) {
        int d = hs_handler_enter(w);
        int lvl = d > 3 ? 3 : d;
        uint64_t r = hs_rng_next(&w->hrng[lvl]);
        /* Sections already open below us (thread context or a handler we
         * interrupted): a landing must not close those. */
        w->lj_base = atomic_load_explicit(&w->h_enter, memory_order_relaxed) -
                     atomic_load_explicit(&w->h_exit, memory_order_relaxed);
        w->lj_writing = 0;
        if (sigsetjmp(w->lj_pad, 1) == 0) {
            /* Relaxed + signal fences: the partner is the jump handler on
             * this thread. */
            atomic_store_explicit(&w->lj_armed, 1, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst);
            hs_lj_loop(w, lvl, r);
            atomic_store_explicit(&w->lj_armed, 0, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst);
        } else {
            if (w->lj_writing && atomic_load_explicit(&w->tail, memory_order_relaxed) == w->lj_wtail + 1) {
                struct hs_req *e = &w->ring[w->lj_wtail % HS_RING];
                e->ctx = atomic_load_explicit(&w->ctx, memory_order_relaxed);
                e->status = HS_ST_VOID;
            }
            w->lj_writing = 0;
            uint64_t open = atomic_load_explicit(&w->h_enter, memory_order_relaxed) -
                            atomic_load_explicit(&w->h_exit, memory_order_relaxed) - w->lj_base;
            /* Release, partner: the registrar's seq_cst loads in hs_reap. */
            if (open)
                atomic_fetch_add_explicit(&w->h_exit, open, memory_order_release);
            /* Relaxed: read by this thread (hs_lj_*_safe_point) and counted. */
            atomic_fetch_add_explicit(&w->lj_landed, 1, memory_order_relaxed);
            HS_LC_ADD(LCC_LANDINGS, 1);
        }
        atomic_fetch_sub_explicit(&w->hdepth, 1, memory_order_relaxed);
    }
    errno = saved_errno;
}

static void hs_lj_jump(int sig)
{
    (void)sig;
    struct hs_worker *w = hs_self;
    if (w && atomic_load_explicit(&w->lj_armed, memory_order_relaxed)) {
        atomic_store_explicit(&w->lj_armed, 0, memory_order_relaxed); /* partner: the outer handler */
        siglongjmp(w->lj_pad, 1);
    }
}

void hs_lj_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hs_lj_outer;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, hs_sig_a);
    sigaddset(&sa.sa_mask, hs_sig_b);
    sigaction(hs_sig_outer, &sa, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hs_lj_jump;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, hs_sig_a);
    sigaddset(&sa.sa_mask, hs_sig_b);
    sigaddset(&sa.sa_mask, hs_sig_outer);
    sigaction(hs_sig_jump, &sa, NULL);
}

void *hs_lj_injector_main(void *arg)
{
    const struct hs_lc_arg *a = arg;
    uint64_t rng = a->seed;
    uint32_t pause = hs_cur->lc_us * (uint32_t)hs_load_scale;
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng), pick = r;
        if ((r >> 62) & 1) {
            /* Half the time aim at a worker inside its own cancel: a leak
             * there must not make the cancel wait for its own thread. */
            for (int i = 0; i < hs_nworkers; i++)
                if (atomic_load_explicit(&hs_workers[i].op, memory_order_relaxed) == HS_OP_CANCEL) /* a hint */
                    pick = (uint64_t)i;
        }
        struct hs_worker *w = hs_target_get(pick);
        if (w) {
            pthread_kill(w->thread, hs_sig_outer);
            /* Let the outer handler start its loop, then jump into it. */
            uint64_t until = hs_now_ns() + (r >> 8) % 12000;
            while (hs_now_ns() < until)
                ;
            pthread_kill(w->thread, hs_sig_jump);
            hs_target_put(w);
        }
        hs_pause_us((uint32_t)((r >> 32) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

/* ---- the worker's own tracer: cancel on this thread -------------------------- */
static void hs_lj_own_cb(const struct du_trace *t, uint64_t cookie, void *arg)
{
    (void)t;
    hs_violation(5, "expected no callback of worker %d's own tracer (never requested); seen one with cookie %#llx",
                 (int)(uintptr_t)arg, (unsigned long long)cookie);
}

static int hs_lj_call(struct hs_worker *w, int op)
{
    atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->op, op, memory_order_release); /* partner: the watchdog's acquire */
    int r = op == HS_OP_REGISTER ? hs_api->reg(hs_lj_own_cb, (void *)(uintptr_t)w->slot, "longjmp-own", &w->lj_own)
                              : hs_api->cancel(w->lj_own);
    atomic_store_explicit(&w->op, HS_OP_NONE, memory_order_release);
    /* A cancel's dropped count (>= 0) is success here: this job checks
     * the claim counter, not deliveries. */
    return r > 0 ? 0 : r;
}

void hs_lj_worker_start(struct hs_worker *w)
{
    w->lj_own = NULL;
    w->lj_expect_repair = 0;
    w->lj_checked = w->lj_seen = atomic_load_explicit(&w->lj_landed, memory_order_relaxed);
    int r = hs_lj_call(w, HS_OP_REGISTER);
    if (r != 0)
        hs_violation(9, "expected du_tracer_register() == 0 for worker %d's own tracer; seen %s", w->slot,
                     hs_status_name(r));
}

void hs_lj_before_safe_point(struct hs_worker *w)
{
    uint64_t landed = atomic_load_explicit(&w->lj_landed, memory_order_relaxed);
    /* After a landing, and every 32nd context as a probe (jumps then land
     * during this thread's own cancel too: the injector aims at it). */
    int probe = (atomic_load_explicit(&w->ctx, memory_order_relaxed) & 31) == 0;
    if ((landed != w->lj_checked || probe) && w->lj_own && !w->lj_expect_repair) {
        uint64_t checked = w->lj_checked;
        int r = hs_lj_call(w, HS_OP_CANCEL);
        uint64_t after = atomic_load_explicit(&w->lj_landed, memory_order_relaxed);
        if (r == -EDEADLK && after != checked) {
            w->lj_expect_repair = 1; /* the jump left du_request: leaked until the safe point */
        } else if (r == 0) {
            hs_lj_worker_start(w); /* nothing leaked (the jump hit between calls) */
        } else {
            hs_violation(9, "expected cancel on worker %d to answer 0, or -EDEADLK after a siglongjmp out of its "
                            "request loop since its last check (%s); seen %s",
                         w->slot, after != checked ? "there was one" : "there was none", hs_status_name(r));
        }
        w->lj_checked = landed; /* a landing during the call is checked next time */
    }
    w->lj_seen = atomic_load_explicit(&w->lj_landed, memory_order_relaxed);
}

void hs_lj_after_safe_point(struct hs_worker *w)
{
    if (!w->lj_expect_repair)
        return;
    int r = hs_lj_call(w, HS_OP_CANCEL);
    uint64_t after = atomic_load_explicit(&w->lj_landed, memory_order_relaxed);
    if (r == 0) {
        HS_LC_ADD(LCC_REPAIRS, 1);
        hs_lj_worker_start(w);
    } else if (r != -EDEADLK || after == w->lj_seen) {
        hs_violation(9, "expected the safe point to repair worker %d's claim counter, leaked by a siglongjmp out "
                        "of du_request (cancel on the thread then answers 0); seen %s with no jump since the safe "
                        "point began",
                     w->slot, hs_status_name(r));
    }
    w->lj_checked = after;
}

/* Before the thread leaves: cancel its own tracer; if the counter is leaked
 * now, the exit path detaches (which repairs it) and cancels after. */
void hs_lj_worker_exit(struct hs_worker *w)
{
    if (!w->lj_own)
        return;
    int r = hs_lj_call(w, HS_OP_CANCEL);
    if (r == 0)
        w->lj_own = NULL;
    else if (r != -EDEADLK)
        hs_violation(9, "expected cancel of worker %d's own tracer to answer 0 or -EDEADLK; seen %s", w->slot,
                     hs_status_name(r));
}

void hs_lj_worker_detached(struct hs_worker *w)
{
    if (!w->lj_own)
        return;
    int r = hs_lj_call(w, HS_OP_CANCEL);
    if (r != 0)
        hs_violation(9, "expected cancel of worker %d's own tracer, after detach repaired its claim counter, to "
                        "answer 0; seen %s",
                     w->slot, hs_status_name(r));
    w->lj_own = NULL;
}
