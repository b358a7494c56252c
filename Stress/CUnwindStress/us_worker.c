/*
 * us_worker.c - workers, the tracer callback, and the per-context checker
 * (invariants 1-7 and 9; 8 is the watchdog in us_run.c).
 *
 * How a context is checked.  The worker logs (context id, phase, tracer
 * instance, status, cookie) for every request made on its thread: in thread
 * context (phase RUN), from its handlers (any phase), from callbacks (SP).
 * Callbacks log (instance, cookie, trace verdict).  After du_safe_point()
 * returns, the worker bumps its context id and reads du_current_cookie():
 *  - RUN entries of the old id were made before the safe point: they belong
 *    to the context it ended;
 *  - SP entries (a handler or callback ran inside the safe point) belong to
 *    the ended context, unless their cookie is the new context's cookie
 *    (the handler ran after the reset): those carry over to the next check;
 *  - the callbacks of this safe point are the ended context's deliveries.
 * A thread's last context (detach or exit) is checked by the main thread
 * after pthread_join, with every accepted request expected to be delivered
 * by the exit drain with an empty DU_TRACE_EXITING trace.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "us_internal.h"

pthread_key_t us_exit_key;
static _Atomic uintptr_t us_leaf_ra;

/* ---- cookie uniqueness (invariant 3): a two-generation window ------------- */
#define US_SET_BITS 20
#define US_SET_SIZE (1u << US_SET_BITS)
struct us_set {
    uint64_t key[US_SET_SIZE];
    uint64_t owner[US_SET_SIZE];
    uint32_t n;
};
static struct us_set us_sets[2];
static int us_set_cur;
static pthread_mutex_t us_set_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t us_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t us_set_lookup(struct us_set *s, uint64_t key, uint32_t *slot)
{
    uint32_t i = (uint32_t)us_mix(key) & (US_SET_SIZE - 1);
    for (;;) {
        if (s->key[i] == key) {
            *slot = i;
            return s->owner[i];
        }
        if (s->key[i] == 0) {
            *slot = i;
            return 0;
        }
        i = (i + 1) & (US_SET_SIZE - 1);
    }
}

void us_cookies_reset(void)
{
    pthread_mutex_lock(&us_set_lock);
    memset(&us_sets, 0, sizeof(us_sets));
    us_set_cur = 0;
    pthread_mutex_unlock(&us_set_lock);
}

/* Returns the previous owner of `cookie`, or 0 after inserting it. */
static uint64_t us_cookie_insert(uint64_t cookie, uint64_t owner)
{
    uint32_t slot;
    pthread_mutex_lock(&us_set_lock);
    uint64_t prev = us_set_lookup(&us_sets[us_set_cur ^ 1], cookie, &slot);
    if (!prev) {
        struct us_set *s = &us_sets[us_set_cur];
        prev = us_set_lookup(s, cookie, &slot);
        if (!prev) {
            s->key[slot] = cookie;
            s->owner[slot] = owner;
            if (++s->n >= US_SET_SIZE / 2) {
                us_set_cur ^= 1;
                memset(&us_sets[us_set_cur], 0, sizeof(struct us_set));
            }
        }
    }
    pthread_mutex_unlock(&us_set_lock);
    return prev;
}

/* ---- helpers -------------------------------------------------------------- */
uint64_t us_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void us_pause_us(uint32_t us)
{
    if (us == 0)
        return;
    uint64_t end = us_now_ns() + (uint64_t)us * 1000u;
    if (us < 50) {
        while (us_now_ns() < end)
            sched_yield();
        return;
    }
    /* Absolute deadline: a signal storm (EINTR every few µs) cannot keep
     * restarting a relative sleep forever. */
    struct timespec ts = {.tv_sec = (time_t)(end / 1000000000u), .tv_nsec = (long)(end % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static const char *us_status_name(int s)
{
    switch (s) {
    case 0: return "0 (queued)";
    case 1: return "1 (already queued/delivered)";
    case -EINVAL: return "-EINVAL";
    case -ECANCELED: return "-ECANCELED";
    case -ESRCH: return "-ESRCH";
    case -ESHUTDOWN: return "-ESHUTDOWN";
    case -EDEADLK: return "-EDEADLK";
    case -EBUSY: return "-EBUSY";
    default: {
        static _Thread_local char buf[32];
        snprintf(buf, sizeof(buf), "%d", s);
        return buf;
    }
    }
}

static const char *us_phase_name(int p)
{
    return p == PH_RUN ? "thread-context" : p == PH_SP ? "inside-safe-point" : p == PH_EXIT ? "exit/detach" : "?";
}

static uint64_t us_cancel_of(uint64_t id)
{
    return atomic_load_explicit(&us_cancel_seq[id % US_CSEQ], memory_order_seq_cst);
}

/* ---- the tracer callback ---------------------------------------------------- */
static int us_trace_ok(struct us_worker *w, const struct du_trace *trace, int phase, char *why,
                       size_t whylen)
{
    if (trace->flags & DU_TRACE_EXITING) {
        if (phase != PH_EXIT) {
            snprintf(why, whylen, "EXITING trace delivered at a safe point (phase %s)", us_phase_name(phase));
            return 0;
        }
        if (trace->nr != 0) {
            snprintf(why, whylen, "EXITING trace with %u frames, expected empty", trace->nr);
            return 0;
        }
        atomic_fetch_add_explicit(&w->n_exiting_cb, 1, memory_order_relaxed);
        return 1;
    }
    if (phase == PH_EXIT) {
        snprintf(why, whylen, "trace without DU_TRACE_EXITING delivered by detach/exit (flags %#x, %u frames)",
                 trace->flags, trace->nr);
        return 0;
    }
    if (trace->flags & DU_TRACE_NOMEM) {
        atomic_fetch_add_explicit(&w->n_nomem, 1, memory_order_relaxed);
        if (trace->nr == 0)
            return 1;
        snprintf(why, whylen, "NOMEM trace with %u frames", trace->nr);
        return 0;
    }
    if (trace->flags & DU_TRACE_TRUNCATED) {
        snprintf(why, whylen, "trace flagged TRUNCATED for a %d-frame call path", w->depth + 2);
        return 0;
    }
    int d = w->depth;
    if (trace->nr < (uint32_t)d + 2 || !trace->ips) {
        snprintf(why, whylen, "trace has %u frames, the call path has at least %d", trace->nr, d + 2);
        return 0;
    }
    uintptr_t expect0 = 0;
    if (!atomic_compare_exchange_strong(&us_leaf_ra, &expect0, trace->ips[0]))
        if (expect0 != trace->ips[0]) {
            snprintf(why, whylen, "ips[0]=%#lx is not the leaf's call site %#lx",
                     (unsigned long)trace->ips[0], (unsigned long)expect0);
            return 0;
        }
    for (int j = 1; j <= d + 1; j++) {
        uintptr_t want = w->expect[d + 2 - j];
        if (trace->ips[j] != want) {
            snprintf(why, whylen,
                     "ips[%d]=%#lx but recursion level %d of this context returns to %#lx (depth %d)", j,
                     (unsigned long)trace->ips[j], d + 2 - j, (unsigned long)want, d);
            return 0;
        }
    }
    return 1;
}

void us_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct us_worker *w = us_self;
    if (!w)
        us_violation(5, "expected callbacks only on worker threads (requests are for the calling thread); "
                        "seen a callback of tracer #%llu on a non-worker thread",
                     (unsigned long long)id);
    atomic_fetch_add_explicit(&w->h_enter, 1, memory_order_seq_cst);
    struct us_rec *rec = &us_pool[id % US_POOL];
    int phase = atomic_load_explicit(&w->phase, memory_order_relaxed);
    uint64_t rid = atomic_load_explicit(&rec->id, memory_order_acquire);
    int st = atomic_load_explicit(&rec->state, memory_order_acquire);
    if (rid != id || st == ST_CANCELLED)
        us_violation(6, "expected no callback of tracer #%llu after its cancel returned; seen one start "
                        "(cookie %#llx) on worker %d, its state already poisoned",
                     (unsigned long long)id, (unsigned long long)cookie, w->slot);
    char why[200];
    if (!us_trace_ok(w, trace, phase, why, sizeof why))
        us_violation(7, "expected the delivered trace to be the context's call path; seen: %s "
                        "(tracer #%llu, cookie %#llx, worker %d)",
                     why, (unsigned long long)id, (unsigned long long)cookie, w->slot);
    if (w->ncb < US_CBMAX) {
        struct us_cb *c = &w->cbs[w->ncb++];
        c->id = id;
        c->cookie = cookie;
        c->tflags = trace->flags;
        c->phase = (uint16_t)phase;
        c->bad = 0;
        c->nr = trace->nr;
    } else {
        us_violation(4, "expected at most one callback per tracer per context; seen more than %d callbacks "
                        "in one safe point on worker %d (tracer #%llu, cookie %#llx)",
                     US_CBMAX, w->slot, (unsigned long long)id, (unsigned long long)cookie);
    }
    atomic_fetch_add_explicit(&w->n_cb, 1, memory_order_relaxed);

    uint64_t r = us_rng_next(&w->hrng[0]);
    w->in_cb++;
    if (rec->sleep && (r % 100) < (uint64_t)us_cur->cb_sleep_pct)
        us_pause_us(50 + (uint32_t)((r >> 8) % (us_cur->cb_sleep_us + 1)));
    if (rec->yield && ((r >> 16) % 100) < (uint64_t)us_cur->cb_yield_pct)
        sched_yield();
    if (rec->rereq && ((r >> 24) % 100) < (uint64_t)us_cur->cb_rereq_pct) {
        /* Ask for ourselves again: the callback for this context ran, so 1. */
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
        uint64_t c2 = 0;
        int ret = us_api->request(t, &c2);
        atomic_fetch_add_explicit(&w->n_req, 1, memory_order_relaxed);
        us_log_request(w, id, c2, ret, RF_CB, 0);
        if (ret == 0)
            us_violation(9, "expected status 1 for a request from inside the tracer's own callback "
                            "(delivered in this context); seen 0 (tracer #%llu, cookie %#llx)",
                         (unsigned long long)id, (unsigned long long)c2);
        /* And for some others: served before the safe point returns. */
        us_request_some(w, 1 + (int)((r >> 32) % 3), 0, RF_CB);
    }
    if (rec->deadlk && ((r >> 40) % 100) < (uint64_t)us_cur->cb_deadlk_pct) {
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
        int a = us_api->cancel(t);
        int b = us_api->safe_point();
        int c = us_api->detach();
        atomic_fetch_add_explicit(&w->n_deadlk, 1, memory_order_relaxed);
        if (a != -EDEADLK || b != -EDEADLK || c != -EDEADLK)
            us_violation(9, "expected -EDEADLK from cancel, safe point and detach inside a callback; seen "
                            "cancel=%s safe_point=%d detach=%d (tracer #%llu)",
                         us_status_name(a), b, c, (unsigned long long)id);
    }
    w->in_cb--;
    st = atomic_load_explicit(&rec->state, memory_order_acquire);
    if (st == ST_CANCELLED)
        us_violation(6, "expected cancel of tracer #%llu to wait for its running callback; seen the cancel "
                        "return (state poisoned) while the callback still ran on worker %d",
                     (unsigned long long)id, w->slot);
    atomic_fetch_add_explicit(&w->h_exit, 1, memory_order_release);
}

/* ---- the per-context check ------------------------------------------------- */
struct us_inst {
    uint64_t id;
    int n0, n1, ncb, nrej;
    uint64_t cb_cookie;
};
#define US_INST 2048
_Static_assert(sizeof(struct us_inst) * US_INST <= sizeof(((struct us_worker *)0)->itab), "checker scratch");

static struct us_inst *us_inst_get(struct us_inst *tab, uint32_t *used, uint32_t *nused, uint64_t id)
{
    uint32_t h = (uint32_t)(us_mix(id) & (US_INST - 1));
    for (uint32_t i = 0; i < US_INST; i++) {
        uint32_t k = (h + i) & (US_INST - 1);
        if (tab[k].id == id)
            return &tab[k];
        if (tab[k].id == 0) {
            tab[k] = (struct us_inst){.id = id};
            used[(*nused)++] = k;
            return &tab[k];
        }
    }
    return NULL;
}

/* Checker scratch: per thread, but heap-allocated on first use (static TLS
 * would eat the thread stacks). */
static _Thread_local struct us_inst *us_itab;
static _Thread_local uint32_t *us_iused;
static struct us_inst us_itab_main[US_INST]; /* the main thread's (us_check_exited) */
static uint32_t us_iused_main[US_INST];

/* Check one ended context: requests E[0..n), callbacks w->cbs[0..w->ncb).
 * S: the global cancel clock read after the context's delivery ended. */
void us_check_context(struct us_worker *w, const struct us_req *E, uint32_t n, int exiting,
                      uint64_t S, uint64_t ctxid)
{
    uint32_t nused = 0;
    uint64_t C = 0;
    if (!us_itab) {
        /* The worker's own scratch, or the main thread's when it checks
         * the last context of a joined worker. */
        us_itab = us_self ? (struct us_inst *)w->itab : us_itab_main;
        us_iused = us_self ? w->iused : us_iused_main;
    }
    const struct us_req *first = NULL;
    const char *where = exiting ? "last context (exit/detach)" : "context";

    for (uint32_t i = 0; i < n; i++) {
        const struct us_req *e = &E[i];
        int s = e->status;
        int ok = s == 0 || s == 1 || s == -ECANCELED ||
                 (e->phase == PH_EXIT && (s == -ESHUTDOWN || s == -ESRCH));
        if (!ok)
            us_violation(9, "expected status 0, 1 or -ECANCELED from a request on an attached thread "
                            "(-ESHUTDOWN/-ESRCH only while exiting); seen %s (tracer #%llu, %s, worker %d, "
                            "ctx %#llx)",
                         us_status_name(s), (unsigned long long)e->id, us_phase_name(e->phase), w->slot,
                         (unsigned long long)ctxid);
        if (s == -ECANCELED && us_cancel_of(e->id) == 0)
            us_violation(9, "expected -ECANCELED only after the tracer's cancel began; seen it for tracer "
                            "#%llu whose cancel never began (worker %d)",
                         (unsigned long long)e->id, w->slot);
        if (s < 0)
            continue;
        if (e->flags & RF_SAW_CANCELLED)
            us_violation(6, "expected -ECANCELED for a request made after cancel returned; seen %s with "
                            "cookie %#llx (tracer #%llu, worker %d)",
                         us_status_name(s), (unsigned long long)e->cookie, (unsigned long long)e->id,
                         w->slot);
        if (e->cookie == 0)
            us_violation(1, "expected a nonzero cookie from a successful request; seen 0 with status %s "
                            "(tracer #%llu, %s, depth %d, worker %d)",
                         us_status_name(s), (unsigned long long)e->id, us_phase_name(e->phase), e->depth,
                         w->slot);
        if (!first) {
            first = e;
            C = e->cookie;
        } else if (e->cookie != C) {
            us_violation(2, "expected every request of one %s to get the same cookie; seen %#llx (tracer #%llu, "
                            "%s, depth %d) and %#llx (tracer #%llu, %s, depth %d) on worker %d",
                         where, (unsigned long long)C, (unsigned long long)first->id,
                         us_phase_name(first->phase), first->depth, (unsigned long long)e->cookie,
                         (unsigned long long)e->id, us_phase_name(e->phase), e->depth, w->slot);
        }
        struct us_inst *in = us_inst_get(us_itab, us_iused, &nused, e->id);
        if (!in)
            break;
        if (s == 0)
            in->n0++;
        else
            in->n1++;
    }
    for (uint32_t i = 0; i < w->ncb; i++) {
        const struct us_cb *c = &w->cbs[i];
        if (C && c->cookie != C)
            us_violation(2, "expected the callback to receive the context's cookie %#llx; seen %#llx "
                            "(tracer #%llu, worker %d)",
                         (unsigned long long)C, (unsigned long long)c->cookie, (unsigned long long)c->id,
                         w->slot);
        struct us_inst *in = us_inst_get(us_itab, us_iused, &nused, c->id);
        if (!in)
            break;
        in->ncb++;
        in->cb_cookie = c->cookie;
    }
    for (uint32_t k = 0; k < nused; k++) {
        struct us_inst *in = &us_itab[us_iused[k]];
        uint64_t cs = us_cancel_of(in->id);
        int cancelled = cs != 0 && cs <= S;
        if (in->ncb > 1)
            us_violation(4, "expected exactly one callback per (context, tracer); seen %d callbacks of tracer "
                            "#%llu with cookie %#llx in one %s (worker %d)",
                         in->ncb, (unsigned long long)in->id, (unsigned long long)in->cb_cookie, where,
                         w->slot);
        if (in->n0 + in->n1 == 0 && in->ncb > 0)
            us_violation(5, "expected a callback only for a tracer that requested in the context; seen a "
                            "callback of tracer #%llu (cookie %#llx) with no request for it in that %s "
                            "(worker %d)",
                         (unsigned long long)in->id, (unsigned long long)in->cb_cookie, where, w->slot);
        if (in->n0 > 1)
            us_violation(9, "expected one request to queue the work (status 0) per (context, tracer); seen "
                            "%d requests of tracer #%llu return 0 with cookie %#llx (worker %d)",
                         in->n0, (unsigned long long)in->id, (unsigned long long)C, w->slot);
        if (in->n0 + in->n1 > 0 && in->ncb == 0 && !cancelled)
            us_violation(4, "expected exactly one callback for an accepted request (status %s, cookie %#llx, "
                            "tracer #%llu, not cancelled); seen none in the %s (worker %d, %d queued, %d "
                            "repeat)",
                         in->n0 ? "0" : "1", (unsigned long long)C, (unsigned long long)in->id, where, w->slot,
                         in->n0, in->n1);
        if (in->n0 == 0 && in->n1 > 0 && !cancelled)
            us_violation(9, "expected status 1 only after some request queued the work in the context; "
                            "seen %d requests of tracer #%llu return 1 and none return 0 (cookie %#llx, "
                            "worker %d)",
                         in->n1, (unsigned long long)in->id, (unsigned long long)C, w->slot);
        us_itab[us_iused[k]].id = 0;
    }
    if (C == 0 && w->ncb > 0)
        us_violation(5, "expected no callback in a context without an accepted request; seen %u "
                        "(tracer #%llu, cookie %#llx, worker %d)",
                     w->ncb, (unsigned long long)w->cbs[0].id, (unsigned long long)w->cbs[0].cookie, w->slot);
    if (C) {
        uint64_t owner = ((uint64_t)(w->slot + 1) << 56) | (ctxid & ((1ull << 56) - 1));
        uint64_t prev = us_cookie_insert(C, owner);
        if (prev && prev != owner)
            us_violation(3, "expected a cookie unique to its context; seen %#llx in worker %d ctx %#llx "
                            "and before in worker %d ctx %#llx",
                         (unsigned long long)C, w->slot, (unsigned long long)ctxid, (int)(prev >> 56) - 1,
                         (unsigned long long)(prev & ((1ull << 56) - 1)));
    }
    w->ncb = 0;
}

/* ---- the known call path ---------------------------------------------------- */

static int us_rec_a(struct us_worker *w, int level, uint64_t pattern);
static int us_rec_b(struct us_worker *w, int level, uint64_t pattern);

/* The leaf: thread-context work, then the safe point.  noinline, so the
 * trace's ips[0] is a return address in this function, constant. */
__attribute__((noinline)) static int us_leaf(struct us_worker *w)
{
    w->expect[w->depth + 1] = (uintptr_t)__builtin_return_address(0);
    const struct us_scenario *sc = us_cur;
    uint64_t r = us_rng_next(&w->hrng[0]);
    int nreq = sc->thread_reqs ? (int)(r % (uint64_t)(sc->thread_reqs + 1)) : 0;
    for (int i = 0; i < nreq; i++) {
        us_request_some(w, 1, 0, RF_THREAD);
        if (sc->ctx_spin) {
            uint32_t spin = (uint32_t)(us_rng_next(&w->hrng[0]) % (sc->ctx_spin + 1));
            for (volatile uint32_t k = 0; k < spin; k++)
                ;
        }
    }
    if (sc->ctx_sleep_pct && (r >> 32) % 100 < (uint64_t)sc->ctx_sleep_pct)
        us_pause_us(50 + (uint32_t)((r >> 40) % (sc->ctx_sleep_us + 1)));
    atomic_store_explicit(&w->phase, PH_SP, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&w->op_start, us_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->op, OP_SAFEPOINT, memory_order_release);
    int ret = us_api->safe_point();
    atomic_store_explicit(&w->op, OP_NONE, memory_order_release);
    __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
    return ret;
}

#define US_REC_BODY(self_pad)                                                              \
    volatile char pad[self_pad];                                                           \
    pad[0] = (char)level;                                                                  \
    w->expect[level] = (uintptr_t)__builtin_return_address(0);                              \
    int ret;                                                                               \
    if (level >= w->depth)                                                                 \
        ret = us_leaf(w);                                                                  \
    else if ((pattern >> level) & 1)                                                       \
        ret = us_rec_a(w, level + 1, pattern);                                             \
    else                                                                                   \
        ret = us_rec_b(w, level + 1, pattern);                                             \
    __asm__ volatile("" ::: "memory");                                                     \
    return ret + (pad[0] & 0);

__attribute__((noinline)) static int us_rec_a(struct us_worker *w, int level, uint64_t pattern)
{
    US_REC_BODY(16)
}

__attribute__((noinline)) static int us_rec_b(struct us_worker *w, int level, uint64_t pattern)
{
    US_REC_BODY(48)
}

/* End of context `k`: bump, classify the log, check.  Thread context. */
static void us_end_context(struct us_worker *w, uint64_t k)
{
    atomic_store_explicit(&w->ctx, k + 1, memory_order_relaxed);
    atomic_store_explicit(&w->phase, PH_RUN, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    uint64_t cur = us_api->current_cookie();
    uint64_t S = atomic_load_explicit(&us_cancel_clock, memory_order_seq_cst);
    uint32_t T = atomic_load_explicit(&w->tail, memory_order_relaxed);
    atomic_signal_fence(memory_order_acquire);
    uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
    uint32_t nb = 0, nc = 0;
    /* The ended context's cookie: from its requests made before the safe
     * point (carried-in ones included), else from this safe point's
     * callbacks; 0 when nothing was delivered or requested. */
    uint64_t ck = 0;
    for (uint32_t i = 0; i < w->ncarry && !ck; i++)
        if (w->carry[i].status >= 0)
            ck = w->carry[i].cookie;
    for (uint32_t i = h; i != T && !ck; i++) {
        const struct us_req *e = &w->ring[i % US_RING];
        if (e->ctx == k && e->phase == PH_RUN && e->status >= 0)
            ck = e->cookie;
    }
    if (!ck && w->ncb)
        ck = w->cbs[0].cookie;
    for (uint32_t i = 0; i < w->ncarry; i++)
        w->batch[nb++] = w->carry[i];
    for (uint32_t i = h; i != T; i++) {
        const struct us_req *e = &w->ring[i % US_RING];
        /* A request made inside the safe point belongs to the ended context
         * if it got that context's cookie; one that got another cookie ran
         * after the reset (the new context: `cur`) -- or is a bug the next
         * check reports (a cookie nobody delivers). */
        int next = e->ctx != k ||
                   (e->phase == PH_SP && e->status >= 0 &&
                    (ck ? (e->cookie != ck && (cur == 0 || e->cookie == cur))
                        /* Nothing delivered and nothing asked before the
                         * safe point: the request is the new context's only
                         * if it holds the new context's cookie; else it was
                         * the ended context's (its tracer cancelled, so no
                         * callback). */
                        : (cur != 0 && e->cookie == cur)));
        if (next)
            w->carry[nc++] = *e;
        else
            w->batch[nb++] = *e;
    }
    w->ncarry = nc;
    atomic_store_explicit(&w->head, T, memory_order_relaxed);
    us_check_context(w, w->batch, nb, 0, S, k);
}

/* The main thread checks the last context of a joined worker. */
void us_check_exited(struct us_worker *w)
{
    uint64_t S = atomic_load_explicit(&us_cancel_clock, memory_order_seq_cst);
    uint32_t T = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
    static struct us_req batch[2 * US_RING];
    uint32_t nb = 0;
    for (uint32_t i = 0; i < w->ncarry; i++)
        batch[nb++] = w->carry[i];
    for (uint32_t i = h; i != T; i++)
        batch[nb++] = w->ring[i % US_RING];
    /* Every entry is of the last context: mark the phase so statuses of the
     * exit path are judged as such only if they were logged there. */
    us_check_context(w, batch, nb, 1, S, atomic_load_explicit(&w->ctx, memory_order_relaxed));
    w->ncarry = 0;
    atomic_store_explicit(&w->head, T, memory_order_relaxed);
}

/* Our thread-exit destructor: created after the library's key, so glibc
 * (which runs destructors in key order) runs it after the library's
 * teardown: signals keep arriving during the exit drain.  Then the liveness
 * handshake: no injector or migrator targets this thread afterwards. */
static void us_exit_destructor(void *p)
{
    struct us_worker *w = p;
    for (int k = 0; k < w->has_timer; k++)
        timer_delete(w->timer[k]);
    w->has_timer = 0;
    atomic_store_explicit(&w->alive, 0, memory_order_seq_cst);
    while (atomic_load_explicit(&w->inflight, memory_order_seq_cst))
        sched_yield();
    atomic_store_explicit(&w->op, OP_NONE, memory_order_release);
    atomic_store_explicit(&w->finished, 1, memory_order_release);
}

int us_make_exit_key(void)
{
    return pthread_key_create(&us_exit_key, us_exit_destructor);
}

void us_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The timer period: the scenario's, scaled so that the whole signal load
 * stays below what the CPUs can serve (threads per CPU, TSan), else the
 * workers starve in their handlers and the watchdog reports the harness. */
extern int us_load_scale;
static uint32_t us_timer_period_us(const struct us_scenario *sc)
{
    uint32_t us = sc->timer_us * (uint32_t)us_load_scale;
    return us < 20 ? 20 : us;
}

void *us_worker_main(void *arg)
{
    struct us_worker *w = arg;
    us_self = w;
    w->thread = pthread_self();
    w->tid = (pid_t)syscall(SYS_gettid);
    const struct us_scenario *sc = us_cur;

    int r = us_api->attach();
    if (r != 0)
        us_fatal("du_thread_attach failed: %d", r);
    pthread_setspecific(us_exit_key, w);
    if (sc->timer_us) {
        /* Two timers per worker, one per stress signal, at co-prime-ish
         * periods: a tick of one often lands in the other's handler. */
        for (int k = 0; k < 2; k++) {
            struct sigevent sev;
            memset(&sev, 0, sizeof(sev));
            sev.sigev_notify = SIGEV_THREAD_ID;
            sev.sigev_signo = k ? us_sig_a : us_sig_b;
#ifdef sigev_notify_thread_id
            sev.sigev_notify_thread_id = w->tid;
#else
            sev._sigev_un._tid = w->tid;
#endif
            if (timer_create(CLOCK_MONOTONIC, &sev, &w->timer[k]) != 0)
                us_fatal("timer_create(SIGEV_THREAD_ID): %s", strerror(errno));
            w->has_timer = k + 1;
            uint32_t us = us_timer_period_us(sc) * (k ? 3u : 1u) + (k ? 7u : 0u);
            struct itimerspec its = {.it_interval = {0, (long)us * 1000},
                                     .it_value = {0, (long)(us + (uint32_t)w->slot * 3u) * 1000}};
            timer_settime(w->timer[k], 0, &its, NULL);
        }
    }
    atomic_store_explicit(&w->alive, 1, memory_order_seq_cst);

    uint64_t k = atomic_load_explicit(&w->ctx, memory_order_relaxed);
    for (;;) {
        if (atomic_load_explicit(&us_stop, memory_order_relaxed))
            break;
        uint64_t r0 = us_rng_next(&w->hrng[0]);
        if (sc->churn && r0 % (uint64_t)sc->churn == 0 && !sc->throughput)
            break;
        w->depth = 1 + (int)((r0 >> 8) % 12);
        uint64_t pattern = us_rng_next(&w->hrng[0]);
        int ret = (pattern & 1) ? us_rec_a(w, 1, pattern) : us_rec_b(w, 1, pattern);
        if (ret < 0)
            us_violation(9, "expected du_safe_point() >= 0 on an attached thread outside callbacks; seen %d "
                            "(worker %d)",
                         ret, w->slot);
        us_end_context(w, k);
        k++;
        atomic_fetch_add_explicit(&w->n_ctx, 1, memory_order_relaxed);
    }

    /* Exit with requests pending, in one of three ways, while signals arrive. */
    atomic_store_explicit(&w->phase, PH_EXIT, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    us_request_some(w, 1 + (int)(us_rng_next(&w->hrng[0]) % 4), 0, RF_THREAD);
    atomic_fetch_add_explicit(&w->n_exits, 1, memory_order_relaxed);
    w->exit_mode = (int)(us_rng_next(&w->hrng[0]) % 3);
    atomic_store_explicit(&w->op_start, us_now_ns(), memory_order_relaxed);
    if (w->exit_mode == 0 || w->exit_mode == 2) {
        atomic_store_explicit(&w->op, OP_DETACH, memory_order_release);
        r = us_api->detach();
        if (r != 0)
            us_violation(9, "expected du_thread_detach() == 0; seen %d (worker %d)", r, w->slot);
        atomic_store_explicit(&w->op_start, us_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&w->op, OP_EXIT, memory_order_release);
        if (w->exit_mode == 2) {
            /* Detached but alive: signals see -ESRCH. */
            us_request_some(w, 2, 0, RF_THREAD);
            us_pause_us(100);
        }
    } else {
        atomic_store_explicit(&w->op, OP_EXIT, memory_order_release);
    }
    return NULL;
}
