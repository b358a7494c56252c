/*
 * hs_signal.c - everything the harness runs inside a signal handler.
 *
 * Async-signal-safety rules for this file (checked by review and by TSan's
 * signal-unsafe-call / errno reports, which are never suppressed):
 *  - no malloc, no locks, no stdio; only the library's du_request/duv_request
 *    (async-signal-safe by contract), lock-free atomics and plain stores into
 *    preallocated per-worker memory;
 *  - errno saved on entry and restored on exit;
 *  - the only TLS touched is hs_self, initial-exec (a %fs-relative load,
 *    never a lazy TLS allocation);
 *  - the two stress signals do not block each other (sa_mask empty), so a
 *    handler of one can interrupt a handler of the other: nesting depth 2 on
 *    top of thread context.  Without SA_NODEFER a signal is blocked while its
 *    own handler runs, which bounds the depth (and the per-depth RNGs) at 2.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "hs_internal.h"

/* ---- function tables ----------------------------------------------------- */
/* hs_du_seed is defined below the tables' forward declaration. */
static void hs_du_seed(uint32_t value);
static void hs_duv_seed(uint32_t value);

/* One table per library: the same members, each bound to that library's
 * function of the same name (du_* or duv_*), and its seed function. */
#define HS_API_TABLE(lib, seed_fn)                     \
    {                                                  \
        .name = #lib,                                  \
        .attach = lib##_thread_attach,                 \
        .detach = lib##_thread_detach,                 \
        .is_attached = lib##_thread_is_attached,       \
        .reg = lib##_tracer_register,                  \
        .cancel = lib##_tracer_cancel,                 \
        .destroy = lib##_tracer_destroy,               \
        .bit = lib##_tracer_bit,                       \
        .request = lib##_request,                      \
        .safe_point = lib##_safe_point,                \
        .current_cookie = lib##_current_cookie,        \
        .seed = seed_fn,                               \
        .seed_thread = lib##_cookie_seed_seq,          \
        .claim_depth = lib##_debug_claim_depth,        \
        .frozen_enter = lib##_frozen_enter,            \
        .frozen_leave = lib##_frozen_leave,            \
        .proxy_serve = lib##_proxy_serve,              \
    }

const struct hs_api hs_api_du = HS_API_TABLE(du, hs_du_seed);

/* Thread serials: the workers' attaches wrap them (0 is skipped). */
static void hs_du_seed(uint32_t value)
{
    (void)value;
    du_cookie_seed_serials(UINT32_MAX - 2u);
}

/* The variants' per-CPU counters, and their thread serials.  The counters
 * start even (as from 0, the historical designs' start), 1024 draws before
 * the wrap, so cookie48's counter really reaches 0 there. */
static void hs_duv_seed(uint32_t value)
{
    (void)value;
    duv_cookie_seed_counters(0u - 2u * 1024u);
    duv_cookie_seed_serials(UINT32_MAX - 2u);
}

const struct hs_api hs_api_duv = HS_API_TABLE(duv, hs_duv_seed);

const struct hs_api *hs_api = &hs_api_du;

HS_IE_TLS struct hs_worker *hs_self;
int hs_sig_a, hs_sig_b;
int hs_sig_outer, hs_sig_jump, hs_sig_child;

/* xorshift64*: a few instructions, no state but the word. */
uint64_t hs_rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Append one record.  Producers: the thread and handlers nested on it; the
 * fetch-add reserves the slot atomically against a nested handler, and a
 * record is complete before the thread (the only consumer) runs again. */
void hs_log_request(struct hs_worker *w, uint64_t id, uint64_t cookie, int status, uint8_t flags,
                    int depth)
{
    uint32_t idx = atomic_fetch_add_explicit(&w->tail, 1, memory_order_relaxed);
    struct hs_req *e = &w->ring[idx % HS_RING];
    e->ctx = atomic_load_explicit(&w->ctx, memory_order_relaxed);
    e->phase = (uint8_t)atomic_load_explicit(&w->phase, memory_order_relaxed);
    e->cookie = cookie;
    e->id = id;
    e->status = status;
    e->flags = flags;
    e->depth = (uint8_t)depth;
    e->sig = 0;
    atomic_signal_fence(memory_order_release);
    /* The thread half of this attach's cookies, for the proxies (hs_proxy.c):
     * the same value for every accepted request of the attach. */
    if (status >= 0 && cookie && !atomic_load_explicit(&w->pz_serial, memory_order_relaxed))
        atomic_store_explicit(&w->pz_serial, (uint32_t)(cookie >> 32), memory_order_relaxed);
}

/* The pick shared by the request loops (hs_request_some, hs_lj_loop).  Any
 * context: thread, callback, handler at any depth; no malloc, no locks,
 * only lock-free atomics.  Returns 0 if the ring has no room (counted in
 * n_skip; nothing is open).  Otherwise draws p->r from *rng, picks one of
 * the `span` tracer bits, opens a handler section (h_enter) and returns 1:
 * p->t is that bit's tracer, with p->id and p->st read from its record, or
 * NULL (bit free, or the record reused meanwhile).  The caller closes the
 * section with hs_pick_end() once it no longer uses the record or p->t. */
int hs_pick_begin(struct hs_worker *w, uint64_t *rng, int span, struct hs_pick *p)
{
    uint32_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
    if (tail - head >= HS_RING - HS_RING_MARGIN) {
        /* Never request what we could not log. */
        atomic_fetch_add_explicit(&w->n_skip, 1, memory_order_relaxed);
        return 0;
    }
    p->r = hs_rng_next(rng);
    p->t = NULL;
    p->id = 0;
    p->st = 0;
    int bit = 3 + (int)(p->r % (uint64_t)span);
    /* Dekker with the registrar's removal: enter (seq_cst RMW) before
     * reading the table; the registrar stores to the table and then
     * reads our counters. */
    atomic_fetch_add_explicit(&w->h_enter, 1, memory_order_seq_cst);
    int ri = atomic_load_explicit(&hs_active[bit], memory_order_seq_cst);
    if (ri) {
        struct hs_rec *rec = &hs_pool[ri - 1];
        p->id = atomic_load_explicit(&rec->id, memory_order_acquire);
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
        p->st = atomic_load_explicit(&rec->state, memory_order_acquire);
        /* Acquire loads, partners: the release stores of a reused
         * tracer-churn record (id, then t, then state).  The id read
         * again after t: unchanged means t is that instance's. */
        if (atomic_load_explicit(&rec->id, memory_order_acquire) == p->id)
            p->t = t;
    }
    return 1;
}

void hs_pick_end(struct hs_worker *w)
{
    /* Release: our uses of rec/t happen before the registrar's free. */
    atomic_fetch_add_explicit(&w->h_exit, 1, memory_order_release);
}

/* Request for n tracers picked at random among the active ones, and log
 * each result.  Any context: thread, callback, handler at any depth. */
void hs_request_some(struct hs_worker *w, int n, int depth, uint8_t flags)
{
    const struct hs_scenario *sc = hs_cur;
    int span = sc->hot_tracers ? sc->hot_tracers : sc->tracers + 2;
    if (span > 61)
        span = 61;
    if (depth > 3)
        depth = 3;
    for (int i = 0; i < n; i++) {
        struct hs_pick p;
        if (!hs_pick_begin(w, &w->hrng[depth], span, &p))
            return;
        if (p.t) {
            uint64_t id = p.id;
            du_tracer *t = p.t;
            /* Only CANCELLED says "its cancel returned": a RESERVED record
             * may already hold the next instance's id and registered t
             * (tracer-churn publishes hs_active and t before HS_ST_LIVE), so a
             * request then rightly succeeds (a TSan soak saw that false
             * positive).  If t was loaded as the next instance's, this
             * later acquire load of state reads RESERVED or LIVE, never
             * CANCELLED, so the flag is sound. */
            uint8_t f = flags | (p.st == HS_ST_CANCELLED ? RF_SAW_CANCELLED : 0);
            int reps = (p.r >> 40) % 4 == 0 ? 2 : 1; /* sometimes ask twice */
            for (int k = 0; k < reps; k++) {
                uint64_t cookie = 0xdeadbeefULL;
                /* proxy: a first-level handler's request inside the frozen
                 * region (the thread is blocked, in no request of its own)
                 * is held by a nested handler the same way, while proxies
                 * serve the thread and the registrar cancels. */
                int held = sc->park_us &&
                           (depth == 0 ||
                            (depth == 1 && sc->lifecycle == LC_PROXY &&
                             atomic_load_explicit(&w->pz_state, memory_order_relaxed) == HS_PZ_IN));
                if (held) {
                    /* held-request: a handler landing in the call parks
                     * on it (hs_park).  Same-thread partners only. */
                    atomic_store_explicit(&w->inreq_saw_cancel, 0, memory_order_relaxed);
                    atomic_store_explicit(&w->inreq_id, id, memory_order_relaxed);
                    atomic_signal_fence(memory_order_seq_cst);
                }
                int ret = hs_api->request(t, &cookie);
                if (held) {
                    atomic_signal_fence(memory_order_seq_cst);
                    atomic_store_explicit(&w->inreq_id, 0, memory_order_relaxed);
                    if (ret >= 0 && atomic_load_explicit(&w->inreq_saw_cancel, memory_order_relaxed))
                        hs_violation(6, "expected cancel to wait for a request that read its tracer as live; seen "
                                        "du_request() return %s after the tracer's cancel returned while the "
                                        "request was held in a handler (tracer #%llu, worker %d)",
                                     hs_status_name(ret), (unsigned long long)id, w->slot);
                }
                hs_count_request(w, ret);
                hs_log_request(w, id, cookie, ret, f, depth);
            }
        }
        hs_pick_end(w);
    }
}

/* held-request: this handler interrupted the thread inside (or right
 * around) a du_request of instance `id`: park, so cancels that began before
 * the request's live check must wait for us; then tell the thread whether
 * the instance's cancel returned meanwhile (poisoned record, or reused).
 * Only lock-free loads, sched_yield and clock_gettime. */
static void hs_park(struct hs_worker *w, uint64_t id, uint32_t us)
{
    uint64_t end = hs_now_ns() + (uint64_t)us * 1000u;
    while (hs_now_ns() < end)
        sched_yield();
    atomic_fetch_add_explicit(&hs_total_held, 1, memory_order_relaxed);
    struct hs_rec *rec = &hs_pool[id % HS_POOL];
    /* seq_cst, partner: the canceller's poison store after cancel returned. */
    if (atomic_load_explicit(&rec->id, memory_order_seq_cst) != id ||
        atomic_load_explicit(&rec->state, memory_order_seq_cst) == HS_ST_CANCELLED)
        atomic_store_explicit(&w->inreq_saw_cancel, 1, memory_order_relaxed);
    /* Once per request: a signal storm must not hold it forever. */
    atomic_store_explicit(&w->inreq_id, 0, memory_order_relaxed);
}

static void hs_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved_errno = errno;
    struct hs_worker *w = hs_self;
    if (w) {
        int d = hs_handler_enter(w);
        const struct hs_scenario *sc = hs_cur;
        /* Inside the claim span of the thread's request (not before its
         * entry, not after its exit): cancel must wait for it. */
        uint64_t held = sc->park_us && (d == 1 || (d == 2 && sc->lifecycle == LC_PROXY)) &&
                                hs_api->claim_depth() > 0
                            ? atomic_load_explicit(&w->inreq_id, memory_order_relaxed)
                            : 0;
        if (held)
            hs_park(w, held, sc->park_us);
        int idx = d > 3 ? 3 : d;
        int n = 1 + (int)(hs_rng_next(&w->hrng[idx]) % (uint64_t)(sc->handler_reqs ? sc->handler_reqs : 1));
        uint64_t r = hs_rng_next(&w->hrng[idx]);
        if ((r >> 50) % 4 == 0) {
            /* A longer handler now and then: room for the other signal to
             * nest on top of this one (nesting depth 2). */
            for (volatile uint32_t k = 0, m = (uint32_t)(r % 3000); k < m; k++)
                ;
        }
        uint64_t acc0 = atomic_load_explicit(&w->n_acc, memory_order_relaxed);
        hs_request_some(w, n, d, RF_HANDLER);
        if (sc->lifecycle == LC_PROXY &&
            atomic_load_explicit(&w->pz_state, memory_order_relaxed) == HS_PZ_IN)
            hs_proxy_handler(w, idx, atomic_load_explicit(&w->n_acc, memory_order_relaxed) != acc0);
        (void)sig;
        atomic_fetch_sub_explicit(&w->hdepth, 1, memory_order_relaxed);
    }
    errno = saved_errno;
}

int hs_install_handlers(void)
{
    hs_sig_a = SIGRTMIN + 4;
    hs_sig_b = SIGRTMIN + 5;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = hs_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    /* Empty mask: each stress signal may interrupt the other's handler. */
    sigemptyset(&sa.sa_mask);
    if (sigaction(hs_sig_a, &sa, NULL) != 0)
        return -errno;
    if (sigaction(hs_sig_b, &sa, NULL) != 0)
        return -errno;
    hs_sig_outer = SIGRTMIN + 6;
    hs_sig_jump = SIGRTMIN + 7;
    hs_sig_child = SIGRTMIN + 8;
    hs_lj_install();
    return 0;
}

#ifdef HS_TSAN
/* Under ThreadSanitizer any report is a failure of the run: stop at the
 * first one with exit status 1 (a violation).  signal-unsafe-call and errno
 * reports stay on (they are real bugs on this path); suppressions, if any,
 * come from TSAN_OPTIONS=suppressions=Stress/tsan.supp. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    /* atexit_sleep_ms=0: exit-pending children call exit() hundreds of times. */
    return "halt_on_error=1:exitcode=1:report_signal_unsafe=1:second_deadlock_stack=1:atexit_sleep_ms=0";
}
#endif
