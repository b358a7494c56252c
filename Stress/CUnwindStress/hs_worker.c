/*
 * hs_worker.c - workers: entry contexts on a known call path (a recursion of
 * two noinline functions ending in the leaf that calls the safe point), the
 * classification of each context's log at its end, thread exit in three
 * ways, and the thread-exit handshake with the injectors.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "hs_internal.h"

pthread_key_t hs_exit_key;

/* ---- helpers -------------------------------------------------------------- */
uint64_t hs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hs_pause_us(uint32_t us)
{
    if (us == 0)
        return;
    uint64_t end = hs_now_ns() + (uint64_t)us * 1000u;
    if (us < 50) {
        while (hs_now_ns() < end)
            sched_yield();
        return;
    }
    /* Absolute deadline: a signal storm (EINTR every few µs) cannot keep
     * restarting a relative sleep forever. */
    struct timespec ts = {.tv_sec = (time_t)(end / 1000000000u), .tv_nsec = (long)(end % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}


/* cancel-record-lag: keep this context's requests unchecked until `regs`
 * registrations happened (their tracers are cancelled and their records
 * reused meanwhile), at most 10 s (x the TSan scale): the checker must
 * still know which of them were cancelled. */
static void hs_hold_context(uint32_t regs)
{
    uint64_t from = atomic_load(&hs_total_registers) + atomic_load(&hs_total_ebusy);
    uint64_t until = hs_now_ns() + 10000000000ull * (uint64_t)hs_tsan_scale;
    while (atomic_load(&hs_total_registers) + atomic_load(&hs_total_ebusy) - from < regs &&
           hs_now_ns() < until && !atomic_load_explicit(&hs_stop, memory_order_relaxed))
        hs_pause_us(1000);
}

/* ---- the known call path ---------------------------------------------------- */

static int hs_rec_a(struct hs_worker *w, int level, uint64_t pattern);
static int hs_rec_b(struct hs_worker *w, int level, uint64_t pattern);

/* The leaf: thread-context work, then the safe point.  noinline, so the
 * trace's ips[0] is a return address in this function, constant. */
__attribute__((noinline)) static int hs_leaf(struct hs_worker *w)
{
    w->expect[w->depth + 1] = (uintptr_t)__builtin_return_address(0);
    const struct hs_scenario *sc = hs_cur;
    uint64_t r = hs_rng_next(&w->hrng[0]);
    int nreq = sc->thread_reqs ? (int)(r % (uint64_t)(sc->thread_reqs + 1)) : 0;
    for (int i = 0; i < nreq; i++) {
        hs_request_some(w, 1, 0, RF_THREAD);
        if (sc->ctx_spin) {
            uint32_t spin = (uint32_t)(hs_rng_next(&w->hrng[0]) % (sc->ctx_spin + 1));
            for (volatile uint32_t k = 0; k < spin; k++)
                ;
        }
    }
    if (sc->lifecycle == LC_PROXY) {
        /* A frozen region from a frame that stays on the stack (hs_proxy.c). */
        uint64_t z = hs_proxy_region_draw(w);
        if (z)
            (void)hs_frozen_block(w, z);
    }
    if (sc->ctx_sleep_pct && (r >> 32) % 100 < (uint64_t)sc->ctx_sleep_pct)
        hs_pause_us(50 + (uint32_t)((r >> 40) % (sc->ctx_sleep_us + 1)));
    if (sc->hold_regs && hs_rng_next(&w->hrng[0]) % sc->hold_every == 0)
        hs_hold_context(sc->hold_regs);
    if (sc->fork_every && hs_rng_next(&w->hrng[0]) % (uint64_t)sc->fork_every == 0)
        hs_fork_worker(w); /* fork-storm: with this context's requests pending */
    if (sc->lifecycle == LC_LONGJMP)
        hs_lj_before_safe_point(w);
    atomic_store_explicit(&w->phase, PH_SP, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->op, HS_OP_SAFEPOINT, memory_order_release);
    int ret = hs_api->safe_point();
    atomic_store_explicit(&w->op, HS_OP_NONE, memory_order_release);
    if (sc->lifecycle == LC_LONGJMP)
        hs_lj_after_safe_point(w);
    __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
    return ret;
}

#define HS_REC_BODY(self_pad)                                                              \
    volatile char pad[self_pad];                                                           \
    pad[0] = (char)level;                                                                  \
    w->expect[level] = (uintptr_t)__builtin_return_address(0);                              \
    int ret;                                                                               \
    if (level >= w->depth)                                                                 \
        ret = hs_leaf(w);                                                                  \
    else if ((pattern >> level) & 1)                                                       \
        ret = hs_rec_a(w, level + 1, pattern);                                             \
    else                                                                                   \
        ret = hs_rec_b(w, level + 1, pattern);                                             \
    __asm__ volatile("" ::: "memory");                                                     \
    return ret + (pad[0] & 0);

__attribute__((noinline)) static int hs_rec_a(struct hs_worker *w, int level, uint64_t pattern)
{
    HS_REC_BODY(16)
}

__attribute__((noinline)) static int hs_rec_b(struct hs_worker *w, int level, uint64_t pattern)
{
    HS_REC_BODY(48)
}

/* End of context `k`: bump, classify the log, check.  Thread context. */
static void hs_end_context(struct hs_worker *w, uint64_t k)
{
    hs_proxy_merge(w); /* the proxies' callbacks of this context */
    atomic_store_explicit(&w->ctx, k + 1, memory_order_relaxed);
    atomic_store_explicit(&w->phase, PH_RUN, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    uint64_t cur = hs_api->current_cookie();
    uint64_t S = atomic_load_explicit(&hs_cancel_clock, memory_order_seq_cst);
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
        const struct hs_req *e = &w->ring[i % HS_RING];
        if (e->ctx == k && e->phase == PH_RUN && e->status >= 0)
            ck = e->cookie;
    }
    if (!ck && w->ncb)
        ck = w->cbs[0].cookie;
    for (uint32_t i = 0; i < w->ncarry; i++)
        w->batch[nb++] = w->carry[i];
    for (uint32_t i = h; i != T; i++) {
        const struct hs_req *e = &w->ring[i % HS_RING];
        if (e->status == HS_ST_VOID)
            continue; /* abandoned before it was written */
        if (e->status == HS_ST_INFLIGHT && e->ctx == k && e->phase == PH_SP) {
            /* Abandoned inside the safe point: before or after the reset,
             * unknown; a permission for both contexts. */
            w->carry[nc++] = *e;
            w->batch[nb++] = *e;
            continue;
        }
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
    hs_check_context(w, w->batch, nb, 0, S, k);
}

/* The main thread checks the last context of a joined worker. */
void hs_check_exited(struct hs_worker *w)
{
    uint64_t S = atomic_load_explicit(&hs_cancel_clock, memory_order_seq_cst);
    uint32_t T = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
    static struct hs_req batch[2 * HS_RING];
    uint32_t nb = 0;
    hs_proxy_merge(w);
    for (uint32_t i = 0; i < w->ncarry; i++)
        batch[nb++] = w->carry[i];
    for (uint32_t i = h; i != T; i++)
        batch[nb++] = w->ring[i % HS_RING];
    /* Every entry is of the last context: mark the phase so statuses of the
     * exit path are judged as such only if they were logged there. */
    hs_check_context(w, batch, nb, 1, S, atomic_load_explicit(&w->ctx, memory_order_relaxed));
    w->ncarry = 0;
    atomic_store_explicit(&w->head, T, memory_order_relaxed);
}

/* Our thread-exit destructor: created after the library's key, so glibc
 * (which runs destructors in key order) runs it after the library's
 * teardown: signals keep arriving during the exit drain.  Then the liveness
 * handshake: no injector or migrator targets this thread afterwards. */
static void hs_exit_destructor(void *p)
{
    struct hs_worker *w = p;
    for (int k = 0; k < w->has_timer; k++)
        timer_delete(w->timer[k]);
    w->has_timer = 0;
    atomic_store_explicit(&w->alive, 0, memory_order_seq_cst);
    while (atomic_load_explicit(&w->inflight, memory_order_seq_cst))
        sched_yield();
    atomic_store_explicit(&w->op, HS_OP_NONE, memory_order_release);
    atomic_store_explicit(&w->finished, 1, memory_order_release);
}

int hs_make_exit_key(void)
{
    return pthread_key_create(&hs_exit_key, hs_exit_destructor);
}

/* The timer period: the scenario's, scaled so that the whole signal load
 * stays below what the CPUs can serve (threads per CPU, TSan), else the
 * workers starve in their handlers and the watchdog reports the harness. */
static uint32_t hs_timer_period_us(const struct hs_scenario *sc)
{
    uint32_t us = sc->timer_us * (uint32_t)hs_load_scale;
    return us < 20 ? 20 : us;
}

void *hs_worker_main(void *arg)
{
    struct hs_worker *w = arg;
    hs_self = w;
    w->thread = pthread_self();
    w->tid = (pid_t)syscall(SYS_gettid);
    const struct hs_scenario *sc = hs_cur;

    int r = hs_api->attach();
    if (r != 0)
        hs_fatal("du_thread_attach failed: %d", r);
    pthread_setspecific(hs_exit_key, w);
    if (sc->seed_wrap)
        hs_api->seed_thread(0xFFFFFFFFu - 2u * 65536u);
    if (sc->lifecycle == LC_LONGJMP)
        hs_lj_worker_start(w);
    if (sc->timer_us) {
        /* Two timers per worker, one per stress signal, at co-prime-ish
         * periods: a tick of one often lands in the other's handler. */
        for (int k = 0; k < 2; k++) {
            struct sigevent sev;
            memset(&sev, 0, sizeof(sev));
            sev.sigev_notify = SIGEV_THREAD_ID;
            sev.sigev_signo = k ? hs_sig_a : hs_sig_b;
#ifdef sigev_notify_thread_id
            sev.sigev_notify_thread_id = w->tid;
#else
            sev._sigev_un._tid = w->tid;
#endif
            if (timer_create(CLOCK_MONOTONIC, &sev, &w->timer[k]) != 0)
                hs_fatal("timer_create(SIGEV_THREAD_ID): %s", strerror(errno));
            w->has_timer = k + 1;
            uint32_t us = hs_timer_period_us(sc) * (k ? 3u : 1u) + (k ? 7u : 0u);
            struct itimerspec its = {.it_interval = {0, (long)us * 1000},
                                     .it_value = {0, (long)(us + (uint32_t)w->slot * 3u) * 1000}};
            timer_settime(w->timer[k], 0, &its, NULL);
        }
    }
    atomic_store_explicit(&w->alive, 1, memory_order_seq_cst);

    uint64_t k = atomic_load_explicit(&w->ctx, memory_order_relaxed);
    for (;;) {
        if (atomic_load_explicit(&hs_stop, memory_order_relaxed))
            break;
        uint64_t r0 = hs_rng_next(&w->hrng[0]);
        if (sc->churn && r0 % (uint64_t)sc->churn == 0 && !sc->throughput)
            break;
        w->depth = 1 + (int)((r0 >> 8) % 12);
        uint64_t pattern = hs_rng_next(&w->hrng[0]);
        int ret = (pattern & 1) ? hs_rec_a(w, 1, pattern) : hs_rec_b(w, 1, pattern);
        if (ret < 0)
            hs_violation(9, "expected du_safe_point() >= 0 on an attached thread outside callbacks; seen %d "
                            "(worker %d)",
                         ret, w->slot);
        hs_end_context(w, k);
        k++;
        atomic_fetch_add_explicit(&w->n_ctx, 1, memory_order_relaxed);
    }

    if (sc->lifecycle == LC_LONGJMP)
        hs_lj_worker_exit(w);
    /* Exit with requests pending, in one of three ways, while signals arrive. */
    atomic_store_explicit(&w->phase, PH_EXIT, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    hs_request_some(w, 1 + (int)(hs_rng_next(&w->hrng[0]) % 4), 0, RF_THREAD);
    atomic_fetch_add_explicit(&w->n_exits, 1, memory_order_relaxed);
    w->exit_mode = (int)(hs_rng_next(&w->hrng[0]) % 3);
    if (w->lj_own && w->exit_mode == 1)
        w->exit_mode = 0; /* longjmp-request: detach repairs the counter, then cancel */
    atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
    if (w->exit_mode == 0 || w->exit_mode == 2) {
        atomic_store_explicit(&w->op, HS_OP_DETACH, memory_order_release);
        r = hs_api->detach();
        if (r != 0)
            hs_violation(9, "expected du_thread_detach() == 0; seen %d (worker %d)", r, w->slot);
        if (sc->lifecycle == LC_LONGJMP)
            hs_lj_worker_detached(w);
        atomic_store_explicit(&w->op_start, hs_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&w->op, HS_OP_EXIT, memory_order_release);
        if (w->exit_mode == 2) {
            /* Detached but alive: signals see -ESRCH. */
            hs_request_some(w, 2, 0, RF_THREAD);
            hs_pause_us(100);
        }
    } else {
        atomic_store_explicit(&w->op, HS_OP_EXIT, memory_order_release);
    }
    return NULL;
}

