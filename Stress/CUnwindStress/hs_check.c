/*
 * hs_check.c - the per-context checker (invariants 1-5 and 9) and the
 * cookie-uniqueness window (invariant 3).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_internal.h"

/* ---- cookie uniqueness (invariant 3): a two-generation window ------------- */
#define HS_SET_BITS 20
#define HS_SET_SIZE (1u << HS_SET_BITS)
struct hs_set {
    uint64_t key[HS_SET_SIZE];
    uint64_t owner[HS_SET_SIZE];
    uint32_t n;
};
static struct hs_set hs_sets[2];
static int hs_set_cur;
static pthread_mutex_t hs_set_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t hs_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t hs_set_lookup(struct hs_set *s, uint64_t key, uint32_t *slot)
{
    uint32_t i = (uint32_t)hs_mix(key) & (HS_SET_SIZE - 1);
    for (;;) {
        if (s->key[i] == key) {
            *slot = i;
            return s->owner[i];
        }
        if (s->key[i] == 0) {
            *slot = i;
            return 0;
        }
        i = (i + 1) & (HS_SET_SIZE - 1);
    }
}

void hs_cookies_reset(void)
{
    pthread_mutex_lock(&hs_set_lock);
    memset(&hs_sets, 0, sizeof(hs_sets));
    hs_set_cur = 0;
    pthread_mutex_unlock(&hs_set_lock);
}

/* Returns the previous owner of `cookie`, or 0 after inserting it. */
static uint64_t hs_cookie_insert(uint64_t cookie, uint64_t owner)
{
    uint32_t slot;
    pthread_mutex_lock(&hs_set_lock);
    uint64_t prev = hs_set_lookup(&hs_sets[hs_set_cur ^ 1], cookie, &slot);
    if (!prev) {
        struct hs_set *s = &hs_sets[hs_set_cur];
        prev = hs_set_lookup(s, cookie, &slot);
        if (!prev) {
            s->key[slot] = cookie;
            s->owner[slot] = owner;
            if (++s->n >= HS_SET_SIZE / 2) {
                hs_set_cur ^= 1;
                memset(&hs_sets[hs_set_cur], 0, sizeof(struct hs_set));
            }
        }
    }
    pthread_mutex_unlock(&hs_set_lock);
    return prev;
}


/* ---- names ---------------------------------------------------------------------- */
const char *hs_status_name(int s)
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

const char *hs_phase_name(int p)
{
    return p == PH_RUN ? "thread-context" : p == PH_SP ? "inside-safe-point" : p == PH_EXIT ? "exit/detach" : "?";
}


/* ---- the per-context check ------------------------------------------------- */
struct hs_inst {
    uint64_t id;
    int n0, n1, ncb, nmaybe; /* nmaybe: requests a siglongjmp abandoned */
    uint64_t cb_cookie;
};
#define HS_INST 2048
_Static_assert(sizeof(struct hs_inst) * HS_INST <= sizeof(((struct hs_worker *)0)->itab), "checker scratch");

static struct hs_inst *hs_inst_get(struct hs_inst *tab, uint32_t *used, uint32_t *nused, uint64_t id)
{
    uint32_t h = (uint32_t)(hs_mix(id) & (HS_INST - 1));
    for (uint32_t i = 0; i < HS_INST; i++) {
        uint32_t k = (h + i) & (HS_INST - 1);
        if (tab[k].id == id)
            return &tab[k];
        if (tab[k].id == 0) {
            tab[k] = (struct hs_inst){.id = id};
            used[(*nused)++] = k;
            return &tab[k];
        }
    }
    return NULL;
}

/* Checker scratch: per thread, but heap-allocated on first use (static TLS
 * would eat the thread stacks). */
static _Thread_local struct hs_inst *hs_itab;
static _Thread_local uint32_t *hs_iused;
static struct hs_inst hs_itab_main[HS_INST]; /* the main thread's (hs_check_exited) */
static uint32_t hs_iused_main[HS_INST];

/* UNWIND_STRESS_DUMP=1: a violating context's log on stderr (debugging). */
static void hs_dump_context(struct hs_worker *w, const struct hs_req *E, uint32_t n, uint64_t ctxid)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("UNWIND_STRESS_DUMP");
        on = e && *e == '1';
    }
    if (!on)
        return;
    fprintf(stderr, "context %#llx of worker %d: %u requests, %u callbacks\n", (unsigned long long)ctxid, w->slot, n,
            w->ncb);
    for (uint32_t i = 0; i < n; i++)
        fprintf(stderr, "  req ctx %#llx phase %d depth %d flags %#x tracer #%llu status %d cookie %#llx\n",
                (unsigned long long)E[i].ctx, E[i].phase, E[i].depth, E[i].flags, (unsigned long long)E[i].id,
                (int)E[i].status, (unsigned long long)E[i].cookie);
    for (uint32_t i = 0; i < w->ncb; i++)
        fprintf(stderr, "  cb tracer #%llu cookie %#llx flags %#x phase %d nr %u\n", (unsigned long long)w->cbs[i].id,
                (unsigned long long)w->cbs[i].cookie, w->cbs[i].tflags, w->cbs[i].phase, w->cbs[i].nr);
}

/* Check one ended context: requests E[0..n), callbacks w->cbs[0..w->ncb).
 * S: the global cancel clock read after the context's delivery ended. */
void hs_check_context(struct hs_worker *w, const struct hs_req *E, uint32_t n, int exiting,
                      uint64_t S, uint64_t ctxid)
{
    uint32_t nused = 0;
    uint64_t C = 0;
    if (!hs_itab) {
        /* The worker's own scratch, or the main thread's when it checks
         * the last context of a joined worker. */
        hs_itab = hs_self ? (struct hs_inst *)w->itab : hs_itab_main;
        hs_iused = hs_self ? w->iused : hs_iused_main;
    }
    const struct hs_req *first = NULL;
    const char *where = exiting ? "last context (exit/detach)" : "context";
    uint32_t nmaybe = 0;

    for (uint32_t i = 0; i < n; i++) {
        const struct hs_req *e = &E[i];
        int s = e->status;
        if (s == HS_ST_VOID)
            continue;
        if (e->flags & RF_REPBAD)
            hs_dump_context(w, E, n, ctxid), hs_violation(9, "expected every repeat of a request in one handler to answer 1 with the first one's "
                            "cookie, or -ECANCELED once cancelled; seen another answer (tracer #%llu, first %s, "
                            "cookie %#llx, worker %d)",
                         (unsigned long long)e->id, hs_status_name(s), (unsigned long long)e->cookie, w->slot);
        if (s == HS_ST_INFLIGHT) {
            /* Abandoned by a siglongjmp: accepted or not, unknown. */
            struct hs_inst *in = hs_inst_get(hs_itab, hs_iused, &nused, e->id);
            if (!in)
                break;
            in->nmaybe++;
            nmaybe++;
            continue;
        }
        int ok = s == 0 || s == 1 || s == -ECANCELED ||
                 (e->phase == PH_EXIT && (s == -ESHUTDOWN || s == -ESRCH));
        if (!ok)
            hs_dump_context(w, E, n, ctxid), hs_violation(9, "expected status 0, 1 or -ECANCELED from a request on an attached thread "
                            "(-ESHUTDOWN/-ESRCH only while exiting); seen %s (tracer #%llu, %s, worker %d, "
                            "ctx %#llx)",
                         hs_status_name(s), (unsigned long long)e->id, hs_phase_name(e->phase), w->slot,
                         (unsigned long long)ctxid);
        uint64_t began = 0;
        if (s == -ECANCELED && hs_cancel_of(e->id, &began) && began == 0)
            hs_dump_context(w, E, n, ctxid), hs_violation(9, "expected -ECANCELED only after the tracer's cancel began; seen it for tracer "
                            "#%llu whose cancel never began (worker %d)",
                         (unsigned long long)e->id, w->slot);
        if (s < 0)
            continue;
        if (e->flags & RF_SAW_CANCELLED)
            hs_dump_context(w, E, n, ctxid), hs_violation(6, "expected -ECANCELED for a request made after cancel returned; seen %s with "
                            "cookie %#llx (tracer #%llu, worker %d)",
                         hs_status_name(s), (unsigned long long)e->cookie, (unsigned long long)e->id,
                         w->slot);
        if (e->cookie == 0)
            hs_dump_context(w, E, n, ctxid), hs_violation(1, "expected a nonzero cookie from a successful request; seen 0 with status %s "
                            "(tracer #%llu, %s, depth %d, worker %d)",
                         hs_status_name(s), (unsigned long long)e->id, hs_phase_name(e->phase), e->depth,
                         w->slot);
        if (!first) {
            first = e;
            C = e->cookie;
        } else if (e->cookie != C) {
            hs_dump_context(w, E, n, ctxid), hs_violation(2, "expected every request of one %s to get the same cookie; seen %#llx (tracer #%llu, "
                            "%s, depth %d) and %#llx (tracer #%llu, %s, depth %d) on worker %d",
                         where, (unsigned long long)C, (unsigned long long)first->id,
                         hs_phase_name(first->phase), first->depth, (unsigned long long)e->cookie,
                         (unsigned long long)e->id, hs_phase_name(e->phase), e->depth, w->slot);
        }
        struct hs_inst *in = hs_inst_get(hs_itab, hs_iused, &nused, e->id);
        if (!in)
            break;
        if (s == 0)
            in->n0++;
        else
            in->n1++;
    }
    if (!C && nmaybe && w->ncb)
        C = w->cbs[0].cookie; /* only abandoned requests: the callbacks still agree */
    for (uint32_t i = 0; i < w->ncb; i++) {
        const struct hs_cb *c = &w->cbs[i];
        if (C && c->cookie != C)
            hs_dump_context(w, E, n, ctxid), hs_violation(2, "expected the callback to receive the context's cookie %#llx; seen %#llx "
                            "(tracer #%llu, worker %d)",
                         (unsigned long long)C, (unsigned long long)c->cookie, (unsigned long long)c->id,
                         w->slot);
        struct hs_inst *in = hs_inst_get(hs_itab, hs_iused, &nused, c->id);
        if (!in)
            break;
        in->ncb++;
        in->cb_cookie = c->cookie;
    }
    for (uint32_t k = 0; k < nused; k++) {
        struct hs_inst *in = &hs_itab[hs_iused[k]];
        uint64_t cs = 0;
        /* An instance whose cancel record was reused (HS_CSEQ registrations
         * since it registered) cannot be judged: counted as unjudged. */
        int known = hs_cancel_of(in->id, &cs);
        if (!known)
            atomic_fetch_add_explicit(&hs_total_unjudged, 1, memory_order_relaxed);
        int cancelled = !known || (cs != 0 && cs <= S);
        if (in->ncb > 1)
            hs_dump_context(w, E, n, ctxid), hs_violation(4, "expected exactly one callback per (context, tracer); seen %d callbacks of tracer "
                            "#%llu with cookie %#llx in one %s (worker %d)",
                         in->ncb, (unsigned long long)in->id, (unsigned long long)in->cb_cookie, where,
                         w->slot);
        if (in->n0 + in->n1 == 0 && in->ncb > 0 && !in->nmaybe)
            hs_dump_context(w, E, n, ctxid), hs_violation(5, "expected a callback only for a tracer that requested in the context; seen a "
                            "callback of tracer #%llu (cookie %#llx) with no request for it in that %s "
                            "(worker %d)",
                         (unsigned long long)in->id, (unsigned long long)in->cb_cookie, where, w->slot);
        if (in->n0 > 1)
            hs_dump_context(w, E, n, ctxid), hs_violation(9, "expected one request to queue the work (status 0) per (context, tracer); seen "
                            "%d requests of tracer #%llu return 0 with cookie %#llx (worker %d)",
                         in->n0, (unsigned long long)in->id, (unsigned long long)C, w->slot);
        if (in->n0 + in->n1 > 0 && in->ncb == 0 && !cancelled)
            hs_dump_context(w, E, n, ctxid), hs_violation(4, "expected exactly one callback for an accepted request (status %s, cookie %#llx, "
                            "tracer #%llu, not cancelled); seen none in the %s (worker %d, %d queued, %d "
                            "repeat)",
                         in->n0 ? "0" : "1", (unsigned long long)C, (unsigned long long)in->id, where, w->slot,
                         in->n0, in->n1);
        if (in->n0 == 0 && in->n1 > 0 && !cancelled && !in->nmaybe)
            hs_dump_context(w, E, n, ctxid), hs_violation(9, "expected status 1 only after some request queued the work in the context; "
                            "seen %d requests of tracer #%llu return 1 and none return 0 (cookie %#llx, "
                            "worker %d)",
                         in->n1, (unsigned long long)in->id, (unsigned long long)C, w->slot);
        hs_itab[hs_iused[k]].id = 0;
    }
    if (C == 0 && w->ncb > 0)
        hs_dump_context(w, E, n, ctxid), hs_violation(5, "expected no callback in a context without an accepted request; seen %u "
                        "(tracer #%llu, cookie %#llx, worker %d)",
                     w->ncb, (unsigned long long)w->cbs[0].id, (unsigned long long)w->cbs[0].cookie, w->slot);
    if (C) {
        uint64_t owner = ((uint64_t)(w->slot + 1) << 56) | (ctxid & ((1ull << 56) - 1));
        uint64_t prev = hs_cookie_insert(C, owner);
        if (prev && prev != owner)
            hs_dump_context(w, E, n, ctxid), hs_violation(3, "expected a cookie unique to its context; seen %#llx in worker %d ctx %#llx "
                            "and before in worker %d ctx %#llx",
                         (unsigned long long)C, w->slot, (unsigned long long)ctxid, (int)(prev >> 56) - 1,
                         (unsigned long long)(prev & ((1ull << 56) - 1)));
    }
    w->ncb = 0;
}
