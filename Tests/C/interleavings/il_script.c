/*
 * il_script.c - what threads A, B (and C) run: their scripts, the step hook
 * that parks them, the tracers' callback, and the record of everything they
 * saw (il_check.c reads it).
 *
 * The requesters A and C are attached; B is not (cancel, register and
 * destroy need no attach).
 * Each op of a script starts with a park (so the other thread can run
 * between two ops), each step point parks, and a callback with IL_CB_PARK
 * parks inside.  A nested request ("signal") from A's hook does not park:
 * it runs at once, between two steps of the code it interrupts.  Once the
 * scripts are over (cleanup), nothing parks: each requester detaches,
 * delivering what is still pending, and the controller destroys every
 * tracer.
 */
#include "il_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local struct il_thr *il_me;

struct il_thr *il_current(void) { return il_me; }

struct il_run *il_run_of(struct il_thr *th)
{
    /* th is &run->th[idx]. */
    return (struct il_run *)((char *)(th - th->idx) - offsetof(struct il_run, th));
}

void il_do_request(struct il_run *r, struct il_thr *th, int t)
{
    du_tracer *h = r->handle[t];
    if (!h)
        return; /* not registered (yet): nothing to ask */
    il_log(r, th->idx, EV_REQ_START, 0, t, 0, 0, 0);
    uint64_t cookie = 0xdead;
    int outer = th->req_tracer;
    if (th->depth == 0)
        th->req_tracer = t; /* parks inside are "in du_request(t)" (il_sched.c) */
    int rc = du_request(h, &cookie);
    th->req_tracer = outer;
    if (rc == 0 || rc == 1)
        th->accepted = 1; /* the context has a cookie until its reset */
    il_log(r, th->idx, EV_REQ, 0, t, rc, cookie, 0);
}

void il_do_register(struct il_run *r, struct il_thr *th, int t)
{
    du_tracer *h = NULL;
    static const char *const names[IL_TRACERS] = {"il-T0", "il-T1", "il-T2", "il-T3"};
    int rc = du_tracer_register(il_callback, &r->targ[t], names[t], &h);
    if (rc != 0) {
        il_problem(r, "register T%d: %d", t, rc);
        return;
    }
    r->handle[t] = h;
    il_log(r, th ? th->idx : IL_B, EV_REG, 0, t, du_tracer_bit(h), 0, 0);
}

void il_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    struct il_tracer_arg *ta = arg;
    struct il_run *r = ta->run;
    struct il_thr *th = il_me;
    int t = ta->idx;
    if (!th || !IL_REQUESTER(th->idx) || il_run_of(th) != r) {
        il_problem(r, "callback of T%d on a thread that is not a requester of the run", t);
        return;
    }
    /* A proxy's callback (C inside du_proxy_serve) is in the frozen
     * thread's context: A's (the only thread that enters regions).  A's
     * own safe point may carry DU_TRACE_PROXY too: after a proxy's unwind
     * the context's later rounds reuse that trace (dispatch.c). */
    int flagged = (trace->flags & DU_TRACE_PROXY) != 0;
    int proxied = th->serving;
    int owner = proxied ? IL_A : th->idx;
    if ((proxied && !flagged) || (flagged && !proxied && th->idx != IL_A))
        il_problem(r, "callback of T%d on %c %s DU_TRACE_PROXY (%s du_proxy_serve)", t,
                   IL_NAMES[th->idx], flagged ? "with" : "without", th->serving ? "in" : "not in");
    if (flagged && !(trace->flags & DU_TRACE_NOMEM) && trace->nr == 0)
        il_problem(r, "proxy callback of T%d: empty trace of the frozen stack (flags %#x)", t,
                   trace->flags);
    if (proxied)
        th->proxy_cbs++;
    il_log_for(r, th->idx, owner, EV_CB_START, 0, t, 0, cookie, trace->flags);
    int outer = th->cur_cb;
    th->cur_cb = t;
    unsigned f = r->sc->cb[t];
    if (f & IL_CB_PARK)
        il_park(r, th, IL_POS_CB, t);
    if ((f & IL_CB_REG_T2) && !r->handle[2])
        il_do_register(r, th, 2);
    if ((f & IL_CB_REQ_T2) && r->handle[2])
        il_do_request(r, th, 2);
    th->cur_cb = outer;
    il_log_for(r, th->idx, owner, EV_CB_END, 0, t, 0, cookie, 0);
}

void il_hook(enum du_step step, void *arg)
{
    struct il_thr *th = arg;
    struct il_run *r = il_run_of(th);
    il_log(r, th->idx, EV_STEP, (int)step, th->op_tracer, 0, 0, 0);
    if (th->depth > 0)
        return; /* inside a nested request: it runs to completion */
    switch (step) {
    case DU_STEP_RESET_DONE:
        th->ctx++;
        th->accepted = 0;
        break;
    case DU_STEP_FROZEN_WAITING:
        th->waited = 1;
        break;
    case DU_STEP_PROXY_CLAIMED: /* the scheduler keeps A's leave waiting meanwhile */
        th->claim = 1;
        break;
    case DU_STEP_PROXY_RELEASED:
        th->claim = 0;
        break;
    case DU_STEP_DISPATCH_PENDING_CLEARED:
        if (++th->rounds > IL_MAX_ROUNDS)
            il_problem(r, "more than %d dispatch rounds in one safe point", IL_MAX_ROUNDS);
        break;
    case DU_STEP_CANCEL_MARKED:
        th->wait_kind = 1;
        break;
    case DU_STEP_CANCEL_REQUESTS_QUIET: /* no wait until the callback wait */
    case DU_STEP_CANCEL_SYNCED:
        th->wait_kind = 2;
        break;
    default:
        break;
    }
    il_park(r, th, (int)step, 0);
    const struct il_scenario *sc = r->sc;
    if (th->idx == IL_A && (int)step == sc->sig_step && ++th->occ == sc->sig_occurrence) {
        th->depth++;
        il_do_request(r, th, sc->sig_tracer);
        th->depth--;
    }
}

/* DU_IL_REGION_CHECK=0: no check of a safe point's answer inside a frozen
 * region, to see what a dispatch there breaks later (the record's checks,
 * il_check.c) - by hand only, as DU_IL_QUIET_CHECK (il_sched.c). */
static int il_region_check(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("DU_IL_REGION_CHECK");
        on = !(e && e[0] == '0');
    }
    return on;
}

static void il_do_op(struct il_run *r, struct il_thr *th, const struct il_op *op)
{
    int t = op->tracer, rc;
    switch (op->kind) {
    case IL_REQ:
        il_do_request(r, th, t);
        break;
    case IL_SAFE: {
        /* Inside the region the thread's own dispatch must not run: a
         * proxy may be its dispatcher (proxy.c).  Nothing requested in
         * this context (no cookie): the fast path's 0. */
        int want = th->accepted ? -EBUSY : 0;
        rc = du_safe_point();
        il_log(r, th->idx, EV_SAFE_RET, 0, -1, rc, 0, 0);
        if (th->in_region && il_region_check()) {
            if (rc != want)
                il_problem(r, "du_safe_point inside the frozen region returned %d (expected %d: "
                              "%s)", rc, want, want ? "a request is pending" : "nothing requested");
        } else if (rc < 0 && !th->in_region) {
            il_problem(r, "du_safe_point: %d", rc);
        }
        break;
    }
    case IL_DETACH:
        rc = du_thread_detach();
        if (rc == 0)
            th->attached = 0;
        il_log(r, th->idx, EV_DETACH_RET, 0, -1, rc, 0, 0);
        if (rc != 0)
            il_problem(r, "du_thread_detach: %d", rc);
        break;
    case IL_CANCEL:
    case IL_DESTROY:
        if (!r->handle[t])
            break;
        il_log(r, th->idx, EV_CANCEL_START, 0, t, 0, 0, 0);
        rc = op->kind == IL_CANCEL ? du_tracer_cancel(r->handle[t]) : du_tracer_destroy(r->handle[t]);
        il_log(r, th->idx, EV_CANCEL_RET, 0, t, rc, 0, 0);
        if (rc < 0)
            il_problem(r, "%s T%d: %d", op->kind == IL_CANCEL ? "cancel" : "destroy", t, rc);
        break;
    case IL_REGISTER:
        if (!r->handle[t])
            il_do_register(r, th, t);
        break;
    case IL_LEAVE:
        th->waited = 0;
        rc = du_frozen_leave();
        th->in_region = 0;
        il_log(r, th->idx, EV_LEAVE_RET, 0, -1, rc, 0, 0);
        /* Invariant 9 (il_check.c) at once, so that it is the first problem. */
        if (r->nthreads == 3 && r->th[IL_C].claim)
            il_problem(r, "A's du_frozen_leave returned %d while the proxy C held its claim (C "
                          "parked at %s, between proxy.claimed and proxy.released)", rc,
                       r->th[IL_C].pos == IL_POS_CB ? "in-callback"
                                                    : du_step_name((enum du_step)r->th[IL_C].pos));
        /* 1 exactly when it found a proxy's claim (and parked at
         * frozen.waiting until the release: il_sched.c). */
        if (rc != th->waited)
            il_problem(r, "du_frozen_leave returned %d, %s at frozen.waiting", rc,
                       th->waited ? "after waiting" : "without waiting");
        break;
    case IL_SERVE:
        th->serving = 1;
        th->proxy_cbs = 0;
        rc = du_proxy_serve();
        th->serving = 0;
        il_log(r, th->idx, EV_SERVE_RET, 0, -1, rc, 0, 0);
        if (rc != th->proxy_cbs)
            il_problem(r, "du_proxy_serve returned %d, its callbacks ran %d times", rc, th->proxy_cbs);
        break;
    case IL_ENTER: /* il_region calls du_frozen_enter itself */
    case IL_BLOCK: /* the blocking call: the park before this op stands for it */
    case IL_END:
        break;
    }
}

/* One op of a script: park (another thread may run first), then run it. */
static void il_run_op(struct il_run *r, struct il_thr *th, const struct il_op *ops, int i)
{
    il_park(r, th, IL_POS_OP, i);
    th->op_tracer = ops[i].tracer;
    th->rounds = 0;
    il_log(r, th->idx, EV_OP, i, ops[i].tracer, 0, 0, 0);
    il_do_op(r, th, &ops[i]);
}

/* The frozen region from ops[i] (IL_ENTER) to its IL_LEAVE: this frame
 * calls du_frozen_enter and stays on the stack until the leave returns;
 * the ops between run below it (the contract: the proxy unwinds from the
 * return address into this frame, proxy.c).  Returns the leave's index. */
static __attribute__((noinline)) int il_region(struct il_run *r, struct il_thr *th,
                                               const struct il_op *ops, int i)
{
    int rc = du_frozen_enter();
    th->in_region = rc == 0;
    il_log(r, th->idx, EV_ENTER_RET, 0, -1, rc, 0, 0);
    if (rc != 0)
        il_problem(r, "du_frozen_enter: %d", rc);
    for (i++; i < IL_MAX_OPS && ops[i].kind != IL_END; i++) {
        il_run_op(r, th, ops, i);
        if (ops[i].kind == IL_LEAVE)
            return i;
    }
    il_problem(r, "a frozen region without its leave");
    return i;
}

void *il_thread_main(void *arg)
{
    struct il_thr *th = arg;
    struct il_run *r = il_run_of(th);
    const struct il_op *ops = th->idx == IL_A ? r->sc->a : th->idx == IL_C ? r->sc->c : r->sc->b;
    const struct il_op *pre = th->idx == IL_A ? r->sc->a_pre : th->idx == IL_C ? r->sc->c_pre : NULL;
    il_me = th;
    if (IL_REQUESTER(th->idx)) {
        int rc = du_thread_attach();
        if (rc != 0)
            il_problem(r, "attach of %c: %d", IL_NAMES[th->idx], rc);
        th->attached = rc == 0;
    }
    du_debug_set_step_hook(il_hook, th);
    if (pre) {
        th->quiet = 1;
        for (int i = 0; i < 4 && pre[i].kind != IL_END; i++) {
            th->op_tracer = pre[i].tracer;
            il_do_op(r, th, &pre[i]);
        }
        th->quiet = 0;
    }
    for (int i = 0; i < IL_MAX_OPS && ops[i].kind != IL_END; i++) {
        il_run_op(r, th, ops, i);
        if (ops[i].kind == IL_ENTER)
            i = il_region(r, th, ops, i);
    }
    il_finish(r, th);
    /* Cleanup: nothing parks now.  Deliver what is still pending. */
    if (th->attached) {
        th->rounds = 0;
        int rc = du_thread_detach();
        il_log(r, th->idx, EV_DETACH_RET, 0, -1, rc, 0, 1);
        if (rc != 0)
            il_problem(r, "cleanup detach: %d", rc);
        th->attached = 0;
    }
    du_debug_set_step_hook(NULL, NULL);
    il_me = NULL;
    return NULL;
}
