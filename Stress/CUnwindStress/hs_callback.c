/*
 * hs_callback.c - the tracer callback: checks the delivered trace against
 * the context's recorded call path (invariant 7) and its instance against
 * cancel (invariant 6), logs the delivery, and runs the scenario's callback
 * behaviours (sleep, yield, re-request, calls that must answer -EDEADLK).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "hs_internal.h"

static _Atomic uintptr_t hs_leaf_ra;

/* ---- the tracer callback ---------------------------------------------------- */
static int hs_trace_ok(struct hs_worker *w, const struct du_trace *trace, int phase, char *why,
                       size_t whylen)
{
    if (trace->flags & DU_TRACE_EXITING) {
        if (phase != PH_EXIT) {
            snprintf(why, whylen, "EXITING trace delivered at a safe point (phase %s)", hs_phase_name(phase));
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
    if (trace->flags & DU_TRACE_PROXY) {
        /* Only a proxy thread gets a proxy's trace (hs_callback checked). */
        return hs_proxy_trace_ok(w, trace, why, whylen);
    }
    if (trace->flags & DU_TRACE_TRUNCATED) {
        snprintf(why, whylen, "trace flagged TRUNCATED for a %d-frame call path", w->depth + 2);
        return 0;
    }
    int d = w->depth;
    if (trace->nr < (uint32_t)d + 2 || !trace->ips) {
        snprintf(why, whylen, "trace has %u frames (flags %#x, ips %p), the call path has at least %d%s", trace->nr,
                 trace->flags, (const void *)trace->ips, d + 2,
                 w->pz_ctx_region && atomic_load_explicit(&w->npcb, memory_order_relaxed)
                     ? " (a proxy ran callbacks of this context in its frozen region before this safe point)"
                     : "");
        return 0;
    }
    uintptr_t expect0 = 0;
    if (!atomic_compare_exchange_strong(&hs_leaf_ra, &expect0, trace->ips[0]))
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

void hs_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    if (hs_in_child) {
        /* A fork-storm child checks its own deliveries (hs_fork.c). */
        if (hs_child_cb_hook)
            hs_child_cb_hook(id, cookie, trace);
        return;
    }
    struct hs_worker *w = hs_self;
    /* A proxy thread runs the callbacks of a frozen worker: they are that
     * worker's (found by the cookie's thread half), logged into its pcbs. */
    int proxied = !w && hs_proxy_me;
    if (proxied)
        w = hs_proxy_target(id, cookie, trace);
    if (!w)
        hs_violation(5, "expected callbacks only on worker threads (requests are for the calling thread) "
                        "or on proxy threads for a frozen worker; seen a callback of tracer #%llu (cookie %#llx, "
                        "flags %#x) on a non-worker thread",
                     (unsigned long long)id, (unsigned long long)cookie, trace->flags);
    /* On the thread itself a proxy's trace may come back (one unwind per
     * context: its safe point after the region reuses the proxy's), but only
     * in a context that had a region. */
    if (!proxied && (trace->flags & DU_TRACE_PROXY) && !w->pz_ctx_region)
        hs_violation(7, "expected DU_TRACE_PROXY only in a context with a frozen region; seen it on worker %d's "
                        "own thread in a context without one (tracer #%llu, cookie %#llx)",
                     w->slot, (unsigned long long)id, (unsigned long long)cookie);
    if (!proxied && hs_cur->lifecycle == LC_PROXY &&
        atomic_load_explicit(&w->pz_state, memory_order_relaxed) != HS_PZ_OUT)
        hs_violation(4, "expected no callback on a thread inside its frozen region (a proxy may be serving it); "
                        "seen tracer #%llu's (cookie %#llx) on worker %d, region state %d, handler depth %d",
                     (unsigned long long)id, (unsigned long long)cookie, w->slot,
                     atomic_load_explicit(&w->pz_state, memory_order_relaxed),
                     atomic_load_explicit(&w->hdepth, memory_order_relaxed));
    atomic_fetch_add_explicit(&w->h_enter, 1, memory_order_seq_cst);
    struct hs_rec *rec = &hs_pool[id % HS_POOL];
    int phase = atomic_load_explicit(&w->phase, memory_order_relaxed);
    uint64_t rid = atomic_load_explicit(&rec->id, memory_order_acquire);
    int st = atomic_load_explicit(&rec->state, memory_order_acquire);
    if (rid != id || st == HS_ST_CANCELLED)
        hs_violation(6, "expected no callback of tracer #%llu after its cancel returned; seen one start "
                        "(cookie %#llx) on worker %d, its state already poisoned",
                     (unsigned long long)id, (unsigned long long)cookie, w->slot);
    char why[200];
    if (!hs_trace_ok(w, trace, phase, why, sizeof why))
        hs_violation(7, "expected the delivered trace to be the context's call path; seen: %s "
                        "(tracer #%llu, cookie %#llx, worker %d)",
                     why, (unsigned long long)id, (unsigned long long)cookie, w->slot);
    if (proxied) {
        uint32_t k = atomic_fetch_add_explicit(&w->npcb, 1, memory_order_relaxed);
        if (k >= HS_PCBMAX)
            hs_violation(4, "expected at most one callback per tracer per context; seen more than %u proxy "
                            "callbacks in one frozen region of worker %d (tracer #%llu, cookie %#llx)",
                         HS_PCBMAX, w->slot, (unsigned long long)id, (unsigned long long)cookie);
        w->pcbs[k] = (struct hs_cb){.id = id, .cookie = cookie, .tflags = trace->flags,
                                         .phase = (uint16_t)phase, .bad = 0, .nr = trace->nr};
    } else if (w->ncb < HS_CBMAX) {
        w->cbs[w->ncb++] = (struct hs_cb){.id = id, .cookie = cookie, .tflags = trace->flags,
                                          .phase = (uint16_t)phase, .bad = 0, .nr = trace->nr};
    } else {
        hs_violation(4, "expected at most one callback per tracer per context; seen more than %d callbacks "
                        "in one safe point on worker %d (tracer #%llu, cookie %#llx)",
                     HS_CBMAX, w->slot, (unsigned long long)id, (unsigned long long)cookie);
    }
    atomic_fetch_add_explicit(&w->n_cb, 1, memory_order_relaxed);

    static HS_IE_TLS uint64_t proxy_rng;
    if (proxied && !proxy_rng)
        proxy_rng = hs_mix((uint64_t)hs_proxy_me + id) | 1;
    /* A proxy draws from its own generator: hrng[0] is the worker's. */
    uint64_t r = hs_rng_next(proxied ? &proxy_rng : &w->hrng[0]);
    if (proxied) {
        /* The proxy's callback: the sleeps widen its overlap with the
         * worker's leave; a request here would be the proxy's own (requests
         * are for the calling thread), so none; the calls a callback must
         * see refused answer -EDEADLK on the proxy too. */
        if (rec->sleep && (r % 100) < (uint64_t)hs_cur->cb_sleep_pct)
            hs_pause_us(50 + (uint32_t)((r >> 8) % (hs_cur->cb_sleep_us + 1)));
        if (rec->yield && ((r >> 16) % 100) < (uint64_t)hs_cur->cb_yield_pct)
            sched_yield();
        if (rec->deadlk && ((r >> 40) % 100) < (uint64_t)hs_cur->cb_deadlk_pct) {
            du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
            int a = hs_api->cancel(t);
            int b = hs_api->safe_point();
            int c = hs_api->proxy_serve();
            int e = hs_api->frozen_enter();
            atomic_fetch_add_explicit(&w->n_deadlk, 1, memory_order_relaxed);
            if (a != -EDEADLK || b != -EDEADLK || c != -EDEADLK || e != -EDEADLK)
                hs_violation(9, "expected -EDEADLK from cancel, safe point, proxy serve and frozen enter inside a "
                                "proxy's callback; seen cancel=%s safe_point=%d proxy_serve=%d frozen_enter=%d "
                                "(tracer #%llu)",
                             hs_status_name(a), b, c, e, (unsigned long long)id);
        }
        /* Still inside the target's region: its leave waits for us. */
        int zs = atomic_load_explicit(&w->pz_state, memory_order_seq_cst);
        if (zs == HS_PZ_OUT)
            hs_violation(4, "expected du_frozen_leave() to wait for a proxy serving the thread; seen worker %d "
                            "leave its region while the proxy's callback of tracer #%llu (cookie %#llx) ran",
                         w->slot, (unsigned long long)id, (unsigned long long)cookie);
        HS_LC_ADD(LCC_PROXIED, 1);
        st = atomic_load_explicit(&rec->state, memory_order_acquire);
        if (st == HS_ST_CANCELLED)
            hs_violation(6, "expected cancel of tracer #%llu to wait for its running callback; seen the cancel "
                            "return (state poisoned) while a proxy's callback still ran for worker %d",
                         (unsigned long long)id, w->slot);
        atomic_fetch_add_explicit(&w->h_exit, 1, memory_order_release);
        return;
    }
    w->in_cb++;
    if (rec->sleep && (r % 100) < (uint64_t)hs_cur->cb_sleep_pct)
        hs_pause_us(50 + (uint32_t)((r >> 8) % (hs_cur->cb_sleep_us + 1)));
    if (rec->yield && ((r >> 16) % 100) < (uint64_t)hs_cur->cb_yield_pct)
        sched_yield();
    if (rec->rereq && ((r >> 24) % 100) < (uint64_t)hs_cur->cb_rereq_pct) {
        /* Ask for ourselves again: the callback for this context ran, so 1. */
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
        uint64_t c2 = 0;
        int ret = hs_api->request(t, &c2);
        atomic_fetch_add_explicit(&w->n_req, 1, memory_order_relaxed);
        hs_log_request(w, id, c2, ret, RF_CB, 0);
        if (ret == 0)
            hs_violation(9, "expected status 1 for a request from inside the tracer's own callback "
                            "(delivered in this context); seen 0 (tracer #%llu, cookie %#llx)",
                         (unsigned long long)id, (unsigned long long)c2);
        /* And for some others: served before the safe point returns. */
        hs_request_some(w, 1 + (int)((r >> 32) % 3), 0, RF_CB);
    }
    if (rec->deadlk && ((r >> 40) % 100) < (uint64_t)hs_cur->cb_deadlk_pct) {
        du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
        int a = hs_api->cancel(t);
        int b = hs_api->safe_point();
        int c = hs_api->detach();
        atomic_fetch_add_explicit(&w->n_deadlk, 1, memory_order_relaxed);
        if (a != -EDEADLK || b != -EDEADLK || c != -EDEADLK)
            hs_violation(9, "expected -EDEADLK from cancel, safe point and detach inside a callback; seen "
                            "cancel=%s safe_point=%d detach=%d (tracer #%llu)",
                         hs_status_name(a), b, c, (unsigned long long)id);
    }
    if (hs_cur->lifecycle == LC_CHURN && ((r >> 48) % 100) < 30)
        hs_churn_from_callback(w, r); /* register, and cancel/destroy others: -EDEADLK */
    w->in_cb--;
    st = atomic_load_explicit(&rec->state, memory_order_acquire);
    if (st == HS_ST_CANCELLED)
        hs_violation(6, "expected cancel of tracer #%llu to wait for its running callback; seen the cancel "
                        "return (state poisoned) while the callback still ran on worker %d",
                     (unsigned long long)id, w->slot);
    atomic_fetch_add_explicit(&w->h_exit, 1, memory_order_release);
}

