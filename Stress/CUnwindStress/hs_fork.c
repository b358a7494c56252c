/*
 * hs_fork.c - fork-storm: workers fork from the leaf of a context (requests
 * accepted in it, handlers and timers running, the registrar mid-cancel),
 * and the registrar forks between its calls.  Every child, alone in its
 * process, checks that it can use the library at once (invariant 11):
 *  - the forking worker is still attached, with a fresh context: no cookie,
 *    and its first safe point delivers nothing (a callback there carries a
 *    request the parent accepted before the fork: delivered twice);
 *    the forking registrar (not attached) attaches;
 *  - tracers registered in the parent keep their bits; a new tracer gets
 *    another bit;
 *  - three rounds: a request from a real signal handler answers 0, a
 *    thread-context repeat 1 with the same cookie, the safe point calls each
 *    requesting tracer exactly once with that cookie;
 *  - a new thread attaches, requests, reaches a safe point and exits
 *    attached (EXITING delivery) -- not under TSan (threads in a forked child);
 *  - cancel answers 0 then -EALREADY, also for tracers whose cancel was in
 *    progress on a thread that does not exist in the child; detach 0.
 * Then _exit(0).  The parent's side: the forking worker's context is
 * checked as usual, so requests accepted before the fork are delivered in
 * the parent exactly once; the monitor thread reaps children with the bound.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hs_internal.h"

void (*hs_child_cb_hook)(uint64_t id, uint64_t cookie, const struct du_trace *t);

/* The child's state: its own copy, one thread (plus the short-lived one,
 * joined before the main thread reads). */
static struct {
    du_tracer *own, *inh;
    uint64_t inh_id;
    int inh_bit;
    /* written by the child's handler, read by the same thread after raise():
     * a signal fence orders them (same-thread partner) */
    volatile sig_atomic_t hs_own, hs_inh;
    volatile uint64_t hc_own, hc_inh;
    int ncb_own, ncb_inh, ncb_other;
    uint64_t cb_own, cb_inh, other_id, other_cookie;
    uint32_t own_flags;
} F;

struct hs_forkinfo {
    uint64_t pre_cookie; /* the forking worker's context cookie (0: none) */
    int pre_accepted;    /* its accepted requests in that context */
};

static void hs_fork_handler(int sig)
{
    (void)sig;
    int saved = errno;
    uint64_t c = 0;
    F.hs_own = hs_api->request(F.own, &c);
    F.hc_own = c;
    if (F.inh) {
        c = 0;
        F.hs_inh = hs_api->request(F.inh, &c);
        F.hc_inh = c;
    }
    atomic_signal_fence(memory_order_release); /* partner: the fence after raise() */
    errno = saved;
}

static void hs_fork_own_cb(const struct du_trace *t, uint64_t cookie, void *arg)
{
    (void)arg;
    F.ncb_own++;
    F.cb_own = cookie;
    F.own_flags = t->flags;
}

static void hs_fork_hook(uint64_t id, uint64_t cookie, const struct du_trace *t)
{
    (void)t;
    if (F.inh && id == F.inh_id) {
        F.ncb_inh++;
        F.cb_inh = cookie;
    } else {
        F.ncb_other++;
        F.other_id = id;
        F.other_cookie = cookie;
    }
}

#ifndef HS_TSAN
/* A thread of the child: attach, request, safe point, exit attached. */
static void *hs_fork_thread(void *arg)
{
    (void)arg;
    int r = hs_api->attach();
    if (r != 0)
        hs_child_fail(INV_FORK, "expected a new thread of the child to attach (0); seen %d", r);
    uint64_t c = 0;
    r = hs_api->request(F.own, &c);
    int n = hs_api->safe_point();
    if (r != 0 || n != 1 || F.ncb_own != 1 || F.cb_own != c)
        hs_child_fail(INV_FORK, "expected a new thread's request (0) delivered once at its safe point; seen "
                                "request %d cookie %#llx, safe point %d, callbacks %d (cookie %#llx)",
                      r, (unsigned long long)c, n, F.ncb_own, (unsigned long long)F.cb_own);
    r = hs_api->request(F.own, &c); /* pending when the thread exits */
    if (r != 0)
        hs_child_fail(INV_FORK, "expected a request in a new context to answer 0; seen %d", r);
    return NULL;
}
#endif

static void hs_fork_round(int round)
{
    F.ncb_own = F.ncb_inh = F.ncb_other = 0;
    F.hs_own = F.hs_inh = -999;
    hs_child_step("request from a signal handler");
    hs_child_raise(hs_sig_child, hs_fork_handler);
    atomic_signal_fence(memory_order_acquire); /* partner: the handler's fence */
    if (F.hs_own != 0 || F.hc_own == 0)
        hs_child_fail(INV_FORK, "round %d: expected the child's first request of a context, from a signal "
                                "handler, to answer 0 with a cookie; seen %d, cookie %#llx",
                      round, (int)F.hs_own, (unsigned long long)F.hc_own);
    if (F.inh && (F.hs_inh != 0 || F.hc_inh != F.hc_own))
        hs_child_fail(INV_FORK, "round %d: expected a request of the inherited tracer #%llu to answer 0 with the "
                                "context's cookie %#llx; seen %d, cookie %#llx",
                      round, (unsigned long long)F.inh_id, (unsigned long long)F.hc_own, (int)F.hs_inh,
                      (unsigned long long)F.hc_inh);
    hs_child_step("request from thread context");
    uint64_t c2 = 0;
    int r = hs_api->request(F.own, &c2);
    if (r != 1 || c2 != F.hc_own)
        hs_child_fail(INV_FORK, "round %d: expected a thread-context repeat to answer 1 with cookie %#llx; seen "
                                "%d, cookie %#llx",
                      round, (unsigned long long)F.hc_own, r, (unsigned long long)c2);
    hs_child_step("safe point");
    int n = hs_api->safe_point();
    int want = F.inh ? 2 : 1;
    if (n != want || F.ncb_own != 1 || F.cb_own != F.hc_own || (F.inh && (F.ncb_inh != 1 || F.cb_inh != F.hc_own)) ||
        F.ncb_other)
        hs_child_fail(INV_FORK, "round %d: expected exactly one callback per requesting tracer with the child's "
                                "cookie %#llx (%d in all); seen safe point %d, own %d (cookie %#llx), inherited "
                                "%d (cookie %#llx), other %d (tracer #%llu, cookie %#llx)",
                      round, (unsigned long long)F.hc_own, want, n, F.ncb_own, (unsigned long long)F.cb_own,
                      F.ncb_inh, (unsigned long long)F.cb_inh, F.ncb_other, (unsigned long long)F.other_id,
                      (unsigned long long)F.other_cookie);
    HS_LC_ADD(LCC_CHILD_CBS, (uint64_t)n);
}

/* Tracers the registrar was cancelling, or had cancelled and not yet freed,
 * when the fork happened: cancel must not wait for the vanished thread. */
static void hs_fork_cancel_inherited(void)
{
    /* Relaxed loads here and in hs_fork_child_main: the child's own copy of
     * the records, no other thread of it writes them. */
    int done = 0;
    for (int i = 0; i < HS_REG_POOL && done < 2; i++) {
        struct hs_rec *rec = &hs_pool[i];
        int st = atomic_load_explicit(&rec->state, memory_order_relaxed);
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
        if ((st != HS_ST_CANCELLING && st != HS_ST_CANCELLED) || !t)
            continue;
        hs_child_step(st == HS_ST_CANCELLING ? "cancel of a tracer whose cancel was in progress at fork"
                                          : "cancel of a tracer cancelled before the fork");
        int r = hs_api->cancel(t);
        if (r < 0 && r != -EALREADY)
            hs_child_fail(INV_FORK, "expected cancel of tracer #%llu (%s at fork) to answer >= 0 or -EALREADY; seen %d",
                          (unsigned long long)atomic_load(&rec->id),
                          st == HS_ST_CANCELLING ? "being cancelled" : "cancelled", r);
        done++;
    }
}

static __attribute__((noreturn)) void hs_fork_child_main(struct hs_worker *w, const struct hs_forkinfo *fi)
{
    hs_child_cb_hook = hs_fork_hook;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hs_fork_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(hs_sig_child, &sa, NULL);
    hs_child_step("attachment");
    int att = hs_api->is_attached(), r;
    if (w) {
        if (att != 1)
            hs_child_fail(INV_FORK, "expected the forking worker %d to stay attached in the child; seen "
                                    "du_thread_is_attached() == %d",
                          w->slot, att);
        uint64_t c0 = hs_api->current_cookie();
        if (c0)
            hs_child_fail(INV_FORK, "expected the forking worker %d to start the child with a fresh context "
                                    "(du_current_cookie() == 0: requests pending at fork are the parent's); seen "
                                    "cookie %#llx (the parent's context: %d accepted requests, cookie %#llx)",
                          w->slot, (unsigned long long)c0, fi->pre_accepted, (unsigned long long)fi->pre_cookie);
    } else {
        if (att != 0)
            hs_child_fail(INV_FORK, "expected the forking registrar (never attached) to be detached in the child; "
                                    "seen du_thread_is_attached() == %d",
                          att);
        hs_child_step("attach");
        if ((r = hs_api->attach()) != 0)
            hs_child_fail(INV_FORK, "expected du_thread_attach() == 0 in a child forked at any moment; seen %d", r);
    }
    hs_child_step("safe point before any request");
    int n = hs_api->safe_point();
    if (n != 0 || F.ncb_other)
        hs_child_fail(INV_FORK, "expected nothing delivered at the child's first safe point (nothing requested in "
                                "the child); seen %d callbacks (tracer #%llu, cookie %#llx%s)",
                      n, (unsigned long long)F.other_id, (unsigned long long)F.other_cookie,
                      F.other_cookie && F.other_cookie == fi->pre_cookie
                          ? ": the cookie of requests the parent accepted before the fork, delivered twice"
                          : "");
    for (int i = 0; i < HS_REG_POOL && !F.inh; i++) {
        struct hs_rec *rec = &hs_pool[i];
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
        if (atomic_load_explicit(&rec->state, memory_order_relaxed) == HS_ST_LIVE && t) {
            F.inh = t;
            F.inh_id = atomic_load_explicit(&rec->id, memory_order_relaxed);
            F.inh_bit = rec->bit;
        }
    }
    if (F.inh && (r = hs_api->bit(F.inh)) != F.inh_bit)
        hs_child_fail(INV_FORK, "expected tracer #%llu, registered in the parent, to keep its bit %d in the child; "
                                "seen du_tracer_bit() == %d",
                      (unsigned long long)F.inh_id, F.inh_bit, r);
    hs_child_step("register");
    if ((r = hs_api->reg(hs_fork_own_cb, NULL, "fork-child", &F.own)) != 0)
        hs_child_fail(INV_FORK, "expected du_tracer_register() == 0 in the child; seen %d", r);
    int bit = hs_api->bit(F.own);
    for (int i = 0; i < HS_REG_POOL; i++)
        if (atomic_load_explicit(&hs_pool[i].state, memory_order_relaxed) == HS_ST_LIVE && hs_pool[i].t &&
            hs_pool[i].bit == bit)
            hs_child_fail(INV_FORK, "expected the child's new tracer to get a free bit; seen bit %d, held by "
                                    "tracer #%llu registered in the parent",
                          bit, (unsigned long long)atomic_load(&hs_pool[i].id));
    for (int round = 0; round < 3; round++)
        hs_fork_round(round);
#ifndef HS_TSAN
    hs_child_step("a new thread: attach, request, safe point, exit attached");
    F.ncb_own = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, hs_fork_thread, NULL) == 0) {
        pthread_join(th, NULL);
        if (F.ncb_own != 2 || !(F.own_flags & DU_TRACE_EXITING))
            hs_child_fail(INV_FORK, "expected the request pending when the child's thread exited to be delivered "
                                    "flagged DU_TRACE_EXITING; seen %d callbacks in all (2 expected), last flags %#x",
                          F.ncb_own, F.own_flags);
    }
#endif
    hs_child_step("cancel");
    if ((r = hs_api->cancel(F.own)) < 0 || hs_api->bit(F.own) != -1)
        hs_child_fail(INV_FORK, "expected cancel >= 0 and bit -1 in the child; seen %d, bit %d", r, hs_api->bit(F.own));
    uint64_t c = 0;
    if ((r = hs_api->cancel(F.own)) != -EALREADY || (n = hs_api->request(F.own, &c)) != -ECANCELED)
        hs_child_fail(INV_FORK, "expected a second cancel -EALREADY and a request -ECANCELED; seen %d and %d", r, n);
    hs_fork_cancel_inherited();
    if (F.inh) {
        hs_child_step("cancel of a tracer registered in the parent");
        if ((r = hs_api->cancel(F.inh)) < 0)
            hs_child_fail(INV_FORK, "expected cancel of the inherited tracer #%llu >= 0; seen %d",
                          (unsigned long long)F.inh_id, r);
    }
    hs_child_step("detach");
    if ((r = hs_api->detach()) != 0)
        hs_child_fail(INV_FORK, "expected du_thread_detach() == 0 in the child; seen %d", r);
    _exit(0);
}

/* From the leaf of a worker's context, in thread context. */
void hs_fork_worker(struct hs_worker *w)
{
    struct hs_forkinfo fi = {0, 0};
    /* Relaxed: this worker's own words (its handlers are the only writers). */
    uint64_t k = atomic_load_explicit(&w->ctx, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
    for (uint32_t i = atomic_load_explicit(&w->head, memory_order_relaxed); i != t; i++) {
        const struct hs_req *e = &w->ring[i % HS_RING];
        if (e->ctx == k && e->status >= 0) {
            fi.pre_cookie = e->cookie;
            fi.pre_accepted++;
        }
    }
    char who[48];
    snprintf(who, sizeof who, "worker %d", w->slot);
    atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->op, HS_OP_FORK, memory_order_release); /* partner: the watchdog's acquire */
    pid_t pid = hs_child_fork(LC_FORK, who, 1, NULL);
    if (pid == 0)
        hs_fork_child_main(w, &fi);
    atomic_store_explicit(&w->op, HS_OP_NONE, memory_order_release); /* partner: the watchdog's acquire */
    if (pid > 0)
        HS_LC_ADD(LCC_FORKS, 1);
}

/* From the registrar, between its calls. */
void hs_fork_registrar(void)
{
    struct hs_forkinfo fi = {0, 0};
    pid_t pid = hs_child_fork(LC_FORK, "the registrar", 1, NULL);
    if (pid == 0)
        hs_fork_child_main(NULL, &fi);
    if (pid > 0)
        HS_LC_ADD(LCC_FORKS, 1);
}
