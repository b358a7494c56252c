/*
 * il_check.c - the invariants every interleaving must satisfy (the same as
 * the model's), checked on the record of one run:
 * Contexts are per requester thread (A's, C's): a context is (thread,
 * number), and cookies differ across threads (their high halves).
 *  1. Exactly once per (context, tracer) for accepted requests (answered 0
 *     or 1), unless that tracer's cancel began before the context ended;
 *     then at most once, and the undelivered ones are cancel's dropped.
 *  2. No callback for a tracer that did not request in that context (a
 *     stale bit or completed mark after the bit was reused).
 *  3. Every accepted request in a context got the same cookie, non-zero,
 *     and the callbacks of that context get it; distinct contexts have
 *     distinct cookies; exactly one request per (context, tracer) answers 0.
 *  4. No callback of a tracer starts after its cancel returned, and cancel
 *     never returns while one runs.
 *  5. Requests that start after their tracer's cancel began fail with
 *     -ECANCELED; nothing else fails.
 *  6. Dispatch rounds per safe point are bounded (il_script.c's hook).
 *  7. Cancel's dropped count: never counts a delivered request, and equals
 *     the number of accepted-but-never-delivered contexts of its tracer,
 *     except for the documented lower bound (deferred_unwind.h): a context
 *     that the thread's safe point ended while the cancel ran - the
 *     dispatch skipped the cancelled tracer, the reset ended the context
 *     (reset.done between the cancel's mark and its scrub) - is not
 *     counted.  Runs where that happened are counted (run->known), not
 *     failed.  The cleanup destroys drop nothing.
 *  Frozen regions and proxies (proxy.c; requester A enters, C serves):
 *  8. A proxy's callback (DU_TRACE_PROXY, on C) belongs to A's context:
 *     1-7 count it there (its cookie must be that context's); it starts
 *     between C's proxy.claimed and proxy.released.  A callback on the
 *     requesting thread itself carries DU_TRACE_PROXY only on A, in a
 *     context a proxy unwound (its later rounds reuse that trace).
 *  9. A's leave never returns while C holds the claim: no return of
 *     du_frozen_leave between a proxy.claimed and its proxy.released.
 *  (At run time, il_script.c: a safe point inside the region answers
 *  -EBUSY when something is pending; the leave answers 1 exactly when it
 *  waited; du_proxy_serve answers the callbacks it ran.)
 */
#include "il_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define IL_LOWER_BOUND 1 /* 0: the count must be exact */
#define IL_NEVER INT_MAX
#define IL_MAX_CTX 64
#define IL_MAX_REC 256

struct il_req { int t, status, thr, ctx, seq, start; uint64_t cookie; };
struct il_cb { int t, thr, on, ctx, start, end; uint64_t cookie; uint32_t flags; };
#define IL_MAX_CLAIMS 16

struct il_facts {
    struct il_req req[IL_MAX_REC];
    struct il_cb cb[IL_MAX_REC];
    int nreq, ncb;
    int marked[IL_TRACERS], scrubbed[IL_TRACERS], cret[IL_TRACERS], crc[IL_TRACERS];
    int cleanup_rc[IL_TRACERS];
    int ctx_end[IL_MAX_THREADS][IL_MAX_CTX];
    int detach_ret[IL_MAX_THREADS], exiting[IL_MAX_THREADS];
    int claimed[IL_MAX_CLAIMS], released[IL_MAX_CLAIMS], nclaim; /* C's, in order */
    int left[IL_MAX_CLAIMS], nleft;                               /* A's frozen.left */
};

static void il_gather(const struct il_run *r, struct il_facts *f)
{
    int last_start[IL_MAX_THREADS][4] = {{0}};
    memset(f, 0, sizeof(*f));
    for (int t = 0; t < IL_TRACERS; t++) {
        f->marked[t] = f->scrubbed[t] = f->cret[t] = IL_NEVER;
        f->crc[t] = f->cleanup_rc[t] = 0;
    }
    for (int x = 0; x < IL_MAX_THREADS; x++) {
        for (int k = 0; k < IL_MAX_CTX; k++)
            f->ctx_end[x][k] = IL_NEVER;
        f->detach_ret[x] = f->exiting[x] = IL_NEVER;
    }
    for (int i = 0; i < r->nev; i++) {
        const struct il_event *e = &r->ev[i];
        int t = e->tracer, d = e->depth & 3;
        switch (e->kind) {
        case EV_STEP:
            if (e->thread == IL_B && e->step == DU_STEP_CANCEL_MARKED && t >= 0 && f->marked[t] == IL_NEVER)
                f->marked[t] = i;
            if (e->thread == IL_B && e->step == DU_STEP_CANCEL_SCRUBBED && t >= 0 && f->scrubbed[t] == IL_NEVER)
                f->scrubbed[t] = i;
            /* The hook logs reset.done before bumping ctx: e->ctx is the
             * context that ends. */
            if (IL_REQUESTER(e->thread) && e->depth == 0 && e->step == DU_STEP_RESET_DONE &&
                e->ctx < IL_MAX_CTX)
                f->ctx_end[e->thread][e->ctx] = i;
            if (e->step == DU_STEP_PROXY_CLAIMED && f->nclaim < IL_MAX_CLAIMS) {
                f->claimed[f->nclaim] = i;
                f->released[f->nclaim++] = IL_NEVER;
            }
            if (e->step == DU_STEP_PROXY_RELEASED && f->nclaim > 0)
                f->released[f->nclaim - 1] = i;
            if (IL_REQUESTER(e->thread) && e->step == DU_STEP_DETACH_EXITING &&
                f->exiting[e->thread] == IL_NEVER)
                f->exiting[e->thread] = i;
            break;
        case EV_REQ_START:
            last_start[e->thread][d] = i;
            break;
        case EV_REQ:
            if (f->nreq < IL_MAX_REC)
                f->req[f->nreq++] = (struct il_req){t, e->status, e->thread, e->ctx, i,
                                                    last_start[e->thread][d], e->cookie};
            break;
        case EV_CB_START:
            if (f->ncb < IL_MAX_REC)
                f->cb[f->ncb++] = (struct il_cb){t, e->owner, e->thread, e->ctx, i, IL_NEVER,
                                                 e->cookie, e->flags};
            break;
        case EV_CB_END:
            for (int k = f->ncb - 1; k >= 0; k--)
                if (f->cb[k].t == t && f->cb[k].on == e->thread && f->cb[k].end == IL_NEVER) {
                    f->cb[k].end = i;
                    break;
                }
            break;
        case EV_LEAVE_RET: /* frozen.left may be skipped by a leave that does not wait */
            if (f->nleft < IL_MAX_CLAIMS)
                f->left[f->nleft++] = i;
            break;
        case EV_CANCEL_RET:
            if (e->flags & 1)
                f->cleanup_rc[t] = e->status;
            else if (f->cret[t] == IL_NEVER) {
                f->cret[t] = i;
                f->crc[t] = e->status;
            }
            break;
        case EV_DETACH_RET:
            if (IL_REQUESTER(e->thread) && e->status == 0 && f->detach_ret[e->thread] == IL_NEVER) {
                f->detach_ret[e->thread] = i;
                if (e->ctx < IL_MAX_CTX && f->ctx_end[e->thread][e->ctx] == IL_NEVER)
                    f->ctx_end[e->thread][e->ctx] = i;
            }
            break;
        default:
            break;
        }
    }
}

static int il_deliveries(const struct il_facts *f, int t, uint64_t cookie)
{
    int n = 0;
    for (int k = 0; k < f->ncb; k++)
        n += f->cb[k].t == t && f->cb[k].cookie == cookie;
    return n;
}

static int il_accepted(const struct il_req *q) { return q->status == 0 || q->status == 1; }

/* First accepted request of (t, cookie) in f->req, or -1. */
static int il_first(const struct il_facts *f, int t, uint64_t cookie)
{
    for (int k = 0; k < f->nreq; k++)
        if (il_accepted(&f->req[k]) && f->req[k].t == t && f->req[k].cookie == cookie)
            return k;
    return -1;
}

static void il_check_requests(struct il_run *r, const struct il_facts *f)
{
    static uint64_t ctx_cookie[IL_MAX_THREADS][IL_MAX_CTX];
    memset(ctx_cookie, 0, sizeof(ctx_cookie));
    for (int k = 0; k < f->nreq; k++) {
        const struct il_req *q = &f->req[k];
        if (il_accepted(q)) {
            if (q->cookie == 0)
                il_problem(r, "request of T%d answered %d with cookie 0", q->t, q->status);
            if (q->start > f->marked[q->t])
                il_problem(r, "request of T%d started after its cancel began and answered %d",
                           q->t, q->status);
            if (q->ctx < IL_MAX_CTX) {
                uint64_t *cc = &ctx_cookie[q->thr][q->ctx];
                if (*cc && *cc != q->cookie)
                    il_problem(r, "context %c%d: cookies %#llx and %#llx disagree", IL_NAMES[q->thr],
                               q->ctx, (unsigned long long)*cc, (unsigned long long)q->cookie);
                *cc = q->cookie;
            }
            if (il_first(f, q->t, q->cookie) == k) {
                int zeros = 0;
                for (int j = 0; j < f->nreq; j++)
                    zeros += f->req[j].t == q->t && f->req[j].cookie == q->cookie && f->req[j].status == 0;
                if (zeros != 1)
                    il_problem(r, "T%d cookie %#llx: %d requests answered 0 (expected 1)", q->t,
                               (unsigned long long)q->cookie, zeros);
            }
            continue;
        }
        if (q->cookie != 0)
            il_problem(r, "failed request of T%d (%d) got cookie %#llx", q->t, q->status,
                       (unsigned long long)q->cookie);
        int ok = (q->status == -ECANCELED && f->marked[q->t] < q->seq) ||
                 (q->status == -ESHUTDOWN && f->exiting[q->thr] < q->seq) ||
                 (q->status == -ESRCH && f->detach_ret[q->thr] < q->seq);
        if (!ok)
            il_problem(r, "request of T%d failed with %d (its cancel had %sbegun)", q->t, q->status,
                       f->marked[q->t] < q->seq ? "" : "not ");
    }
    for (int a = 0; a < IL_MAX_THREADS * IL_MAX_CTX; a++)
        for (int b = a + 1; b < IL_MAX_THREADS * IL_MAX_CTX; b++) {
            uint64_t ca = ctx_cookie[a / IL_MAX_CTX][a % IL_MAX_CTX];
            if (ca && ca == ctx_cookie[b / IL_MAX_CTX][b % IL_MAX_CTX])
                il_problem(r, "contexts %c%d and %c%d share cookie %#llx", IL_NAMES[a / IL_MAX_CTX],
                           a % IL_MAX_CTX, IL_NAMES[b / IL_MAX_CTX], b % IL_MAX_CTX,
                           (unsigned long long)ca);
        }
    for (int k = 0; k < f->ncb; k++) {
        const struct il_cb *c = &f->cb[k];
        int q = il_first(f, c->t, c->cookie);
        if (q < 0)
            il_problem(r, "callback of T%d on %c with cookie %#llx: T%d did not request in that "
                          "context (stale bit or completed mark)", c->t, IL_NAMES[c->thr],
                       (unsigned long long)c->cookie, c->t);
        else if (f->req[q].thr != c->thr || f->req[q].ctx != c->ctx)
            il_problem(r, "callback of T%d in context %c%d with the cookie of context %c%d", c->t,
                       IL_NAMES[c->thr], c->ctx, IL_NAMES[f->req[q].thr], f->req[q].ctx);
        if (c->ctx < IL_MAX_CTX && ctx_cookie[c->thr][c->ctx] && ctx_cookie[c->thr][c->ctx] != c->cookie)
            il_problem(r, "callback of T%d got %#llx, its context's requests got %#llx", c->t,
                       (unsigned long long)c->cookie, (unsigned long long)ctx_cookie[c->thr][c->ctx]);
        if (c->start > f->cret[c->t])
            il_problem(r, "callback of T%d started after its cancel returned", c->t);
        else if (f->cret[c->t] != IL_NEVER && c->end > f->cret[c->t])
            il_problem(r, "cancel of T%d returned while its callback ran", c->t);
    }
}

static void il_check_delivery(struct il_run *r, const struct il_facts *f)
{
    int undelivered[IL_TRACERS] = {0}, lost[IL_TRACERS] = {0};
    for (int k = 0; k < f->nreq; k++) {
        const struct il_req *q = &f->req[k];
        if (!il_accepted(q) || il_first(f, q->t, q->cookie) != k)
            continue;
        int n = il_deliveries(f, q->t, q->cookie);
        int end = q->ctx < IL_MAX_CTX ? f->ctx_end[q->thr][q->ctx] : IL_NEVER;
        if (n > 1)
            il_problem(r, "T%d cookie %#llx: %d callbacks", q->t, (unsigned long long)q->cookie, n);
        if (n == 0) {
            undelivered[q->t]++;
            if (f->marked[q->t] == IL_NEVER)
                il_problem(r, "T%d cookie %#llx: accepted (%d) and never delivered, no cancel",
                           q->t, (unsigned long long)q->cookie, q->status);
            else if (f->marked[q->t] > end)
                il_problem(r, "T%d cookie %#llx: context %c%d ended without its callback before "
                              "the cancel began", q->t, (unsigned long long)q->cookie,
                           IL_NAMES[q->thr], q->ctx);
            else if (end > f->marked[q->t] && end < f->scrubbed[q->t] && end != f->detach_ret[q->thr])
                lost[q->t]++;
        }
    }
    for (int t = 0; t < IL_TRACERS; t++) {
        if (f->cleanup_rc[t] != 0)
            il_problem(r, "cleanup destroy of T%d returned %d (nothing can be pending)", t,
                       f->cleanup_rc[t]);
        if (f->cret[t] == IL_NEVER || f->crc[t] < 0 || f->crc[t] == undelivered[t])
            continue;
        if (IL_LOWER_BOUND && lost[t] && f->crc[t] == undelivered[t] - lost[t]) {
            r->known = 1;
            snprintf(r->known_msg, sizeof(r->known_msg),
                     "cancel of T%d returned %d dropped; %d accepted contexts were never delivered, "
                     "%d of them ended by the thread's reset after the mark and before the scrub",
                     t, f->crc[t], undelivered[t], lost[t]);
            continue;
        }
        il_problem(r, "cancel of T%d returned %d dropped, but %d accepted contexts were never "
                      "delivered", t, f->crc[t], undelivered[t]);
    }
}

/* Invariants 8 and 9 (frozen regions). */
static void il_check_proxy(struct il_run *r, const struct il_facts *f)
{
    for (int k = 0; k < f->ncb; k++) {
        const struct il_cb *c = &f->cb[k];
        int flagged = (c->flags & DU_TRACE_PROXY) != 0, proxied = c->on != c->thr;
        /* On another thread: a proxy's, flagged.  On the thread itself:
         * flagged only for A, whose context a proxy unwound before. */
        if ((proxied && !flagged) || (flagged && !proxied && c->thr != IL_A))
            il_problem(r, "callback of T%d on %c for %c's context %s DU_TRACE_PROXY", c->t,
                       IL_NAMES[c->on], IL_NAMES[c->thr], flagged ? "with" : "without");
        if (!proxied)
            continue;
        int inside = 0;
        for (int j = 0; j < f->nclaim; j++)
            inside |= f->claimed[j] < c->start && c->start < f->released[j];
        if (!inside)
            il_problem(r, "proxy callback of T%d on %c outside every claim of the frozen thread",
                       c->t, IL_NAMES[c->on]);
    }
    for (int l = 0; l < f->nleft; l++)
        for (int j = 0; j < f->nclaim; j++)
            if (f->claimed[j] < f->left[l] && f->left[l] < f->released[j])
                il_problem(r, "A's du_frozen_leave returned while the proxy held its "
                              "claim (between proxy.claimed and proxy.released): the proxy still "
                              "unwinds A's frozen stack and runs A's dispatch");
}

void il_check(struct il_run *r)
{
    static struct il_facts f;
    il_gather(r, &f);
    if (f.nreq >= IL_MAX_REC || f.ncb >= IL_MAX_REC)
        il_problem(r, "too many requests or callbacks to check");
    il_check_requests(r, &f);
    il_check_delivery(r, &f);
    il_check_proxy(r, &f);
}

/* What each thread saw, in its own order (steps, requests with status and
 * cookie, callbacks, returns), and the verdict: equal for two schedules
 * that differ only in the order of independent steps.  Cookies by their
 * context half (the thread half is the fresh thread's serial). */
uint64_t il_outcome(const struct il_run *r)
{
    uint64_t h = 0xcbf29ce484222325ull;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 0x100000001b3ull)
    for (int t = 0; t < r->nthreads; t++) {
        for (int i = 0; i < r->nev; i++) {
            const struct il_event *e = &r->ev[i];
            if (e->thread != t || (e->kind == EV_STEP && e->step == DU_STEP_CANCEL_WAIT_POLL))
                continue; /* how often a wait polled in vain is not an outcome */
            MIX(e->kind);
            MIX(e->step);
            MIX(e->tracer);
            MIX(e->status);
            MIX(e->depth);
            MIX((uint32_t)e->cookie);
        }
        MIX(0xffff);
    }
    MIX(r->problem[0] != 0);
    MIX(r->known);
#undef MIX
    return h;
}
