/*
 * il_sched.c - the controller: one deterministic interleaving per run, and
 * a stateless depth-first search over the choice sequences.
 *
 * Threads A and B (and C in three-thread scenarios) park at every step
 * point (il_park, called from their step hooks, at the boundaries of their
 * scripts and inside callbacks that park).  The controller waits until
 * every thread is parked or done, picks one enabled thread, resumes it, and
 * waits until it parks again: each run is a sequence of choices.  No
 * sleeps, no timing: every wait is a condition variable wait bounded by
 * IL_BOUND_S (300 s, generous for loaded CI runners), and a timeout is a
 * failure that says what was awaited, for how long, and the schedule.
 *
 * Enabled: parked, not done, and
 *  - not parked at cancel.wait-poll unless another thread moved since it
 *    parked there (its poll would see the same state and park again);
 *  - not parked on entry to synchronize_rcu (IL_POS_SYNC, il_sync.c) while
 *    another thread is inside an RCU read-side section
 *    (urcu_bp_read_ongoing() on that thread when it parked): the grace
 *    period cannot end until that thread moves;
 *  - not about to take du_threads_lock (detach's unlink, from
 *    detach.drained; a proxy's look or release; cancel's looks, polls and
 *    scrub) while another thread is parked holding it (cancel.wait-looked,
 *    or a proxy at proxy.peeked, proxy.claimed or proxy.released);
 *  - not parked at frozen.waiting (a leave that found a proxy's claim and
 *    spins until the release) while the proxy holds the claim (from its
 *    proxy.claimed to its proxy.released).
 * Locks: one step point lies inside a core lock: cancel.wait-looked, after
 * each thread's read in the request or callback wait's look, with
 * du_threads_lock held.  Two-thread scenarios do not park there (the other
 * thread is parked, so a park adds schedules and nothing the first poll
 * does not see); three-thread scenarios do, so a requester can start or
 * finish a request between the look's reads of two threads.  While B is
 * parked there, a segment that takes the lock would block for good, hence
 * the third rule (the requesters' scripts attach before the controller
 * starts and detach only after every script is over).  du_proxy_serve
 * reaches proxy.peeked, proxy.claimed and proxy.released with the lock held too (the
 * same rule keeps B's cancel and A's detach off it).  Every other step
 * point is outside the locks (register.published, cancel.marked,
 * cancel.scrubbed and cancel.freed come after the unlock; cancel.wait-poll
 * is outside it; the detach steps come before it).  No thread enabled and
 * not all done: a deadlock, reported with the schedule.
 *
 * Attach order: A attaches (and runs its prologue) and parks before C is
 * created, C before B: the list is C, A (new threads go to the head), the
 * same in every run.
 *
 * Search: the first run takes the lowest enabled thread (A, then B, then
 * C) at every decision; afterwards the deepest decision with a thread still
 * to try is flipped to the lowest such thread, the prefix replayed and the
 * rest taken by default.  Replay must see the same enabled sets
 * (determinism is checked).  Reductions: sleep sets over static footprints
 * (il_reduce.c; full mode turns them off), and, with two threads only:
 * when B is resumed and parks at cancel.wait-poll (its wait looked and
 * found the other thread busy: a read-only segment, no state changed), the
 * rest of that run is the same as the sibling schedule that resumed A
 * instead, which is explored anyway, so no alternatives are recorded after
 * it.  With three threads that cut is off: the poll reads only the threads
 * its look recorded, so "B looked, then the others moved" differs from
 * "the others moved, then B looked" (the capped-look bug lived there).
 *
 * Preemption bound (il_scenario.preemptions; the three-thread scenarios
 * use 3): a preemption is a switch away from a thread that could have gone
 * on.  The thread resumed last is tried first at each decision; once a
 * run used up the bound it is the only candidate while it can go on.
 * Sleep sets alone leave over 40,000 schedules per three-thread scenario;
 * the capped look's bug needs exactly 3 preemptions (A stops inside
 * du_request for B, B stops inside its look for C, C stops inside its
 * request for B's next read).  A heuristic bound, not a proof: with sleep
 * sets it may skip a schedule within the bound whose only explored
 * equivalent needs more preemptions.  Two-thread scenarios are unbounded.
 */
#include "il_internal.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* liburcu-bp (linked through CDeferredUnwind's CURCU dependency). */
int urcu_bp_read_ongoing(void);

static struct il_run il_the_run;
static pthread_mutex_t il_log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *il_pos_name(int pos)
{
    if (pos == IL_POS_OP)
        return "op";
    if (pos == IL_POS_CB)
        return "in-callback";
    if (pos == IL_POS_SYNC)
        return "synchronize_rcu";
    if (pos == IL_POS_NONE)
        return "-";
    return du_step_name((enum du_step)pos);
}

/* The first problem of a run, then up to three more distinct ones (a bug
 * often breaks several invariants; the first is the cause's nearest). */
void il_problem(struct il_run *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&il_log_mu);
    if (!r->problem[0]) {
        snprintf(r->problem, sizeof(r->problem), "%s", msg);
    } else if (!strstr(r->problem, msg)) {
        int more = 0;
        for (const char *p = r->problem; (p = strstr(p, "\n  also: ")); p++)
            more++;
        size_t o = strlen(r->problem);
        if (more < 3 && o + 16 < sizeof(r->problem))
            snprintf(r->problem + o, sizeof(r->problem) - o, "\n  also: %s", msg);
    }
    pthread_mutex_unlock(&il_log_mu);
}

int il_log(struct il_run *r, int thread, int kind, int step, int tracer, int status,
           uint64_t cookie, uint32_t flags)
{
    return il_log_for(r, thread, thread, kind, step, tracer, status, cookie, flags);
}

int il_log_for(struct il_run *r, int thread, int owner, int kind, int step, int tracer, int status,
               uint64_t cookie, uint32_t flags)
{
    pthread_mutex_lock(&il_log_mu);
    int seq = r->nev;
    if (seq < IL_MAX_EVENTS) {
        r->ev[seq] = (struct il_event){
            .thread = (uint8_t)thread, .kind = (uint8_t)kind,
            .depth = (uint8_t)r->th[thread].depth, .step = (int16_t)step,
            .tracer = (int8_t)tracer, .status = status, .ctx = r->th[owner].ctx,
            .cookie = cookie, .flags = flags, .owner = (uint8_t)owner};
        r->nev++;
    }
    pthread_mutex_unlock(&il_log_mu);
    if (seq >= IL_MAX_EVENTS)
        il_problem(r, "event log full (%d events): unbounded run", IL_MAX_EVENTS);
    return seq;
}

/* mu held: wake everyone (the run ends or is abandoned). */
static void il_wake_all(struct il_run *r)
{
    pthread_cond_broadcast(&r->cv);
    for (int t = 0; t < r->nthreads; t++)
        pthread_cond_broadcast(&r->th[t].cv);
}

static void il_deadline(struct timespec *until)
{
    clock_gettime(CLOCK_MONOTONIC, until);
    until->tv_sec += IL_BOUND_S;
}

/* Inside du_request, past its live check (a parked requester at depth 0). */
static int il_in_request(const struct il_thr *a)
{
    return a->pos == DU_STEP_REQUEST_BIT_READ || a->pos == DU_STEP_COOKIE_DRAWN ||
           a->pos == DU_STEP_COOKIE_CLAIMED || a->pos == DU_STEP_COOKIE_SEQ_STORED ||
           a->pos == DU_STEP_REQUEST_COOKIE_READY || a->pos == DU_STEP_REQUEST_CLAIMED;
}

/* Where every other thread is, for messages: "A at x, C at y". */
static void il_where(const struct il_run *r, int except, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int t = 0; t < r->nthreads && o + 8 < len; t++) {
        if (t == except)
            continue;
        const struct il_thr *x = &r->th[t];
        o += (size_t)snprintf(buf + o, len - o, "%s%c at %s%s", o ? ", " : "", IL_NAMES[t],
                              il_pos_name(x->pos),
                              x->done ? " (done)" : x->blocked ? " (polling in vain)" : "");
    }
}

/* B polls in a cancel wait (mu held): the other threads are parked, so
 * what they can be busy with is known from where they are.  Some requester
 * must be busy: inside du_request (request wait), or between publishing
 * `calling` and clearing it for this tracer (callback wait). */
static void il_poll_check(struct il_run *r, struct il_thr *th)
{
    int ok = 0;
    for (int t = 0; t < r->nthreads; t++) {
        const struct il_thr *a = &r->th[t];
        if (!IL_REQUESTER(t) || a->done)
            continue;
        if (th->wait_kind == 1 && il_in_request(a))
            ok = 1;
        if (th->wait_kind == 2 && a->pos != IL_POS_OP &&
            (a->cur_cb < 0 || a->cur_cb == th->op_tracer))
            ok = 1;
    }
    if (th->wait_kind && !ok) {
        char where[160];
        il_where(r, th->idx, where, sizeof where);
        if (th->wait_kind == 1)
            il_problem(r, "cancel's request wait found a thread busy while none was inside "
                          "du_request (%s)", where);
        else
            il_problem(r, "cancel of T%d waited while no thread ran its callback (%s)",
                       th->op_tracer, where);
    }
}

/* B ends its request wait (mu held): a requester still inside du_request
 * of the cancelled tracer, past its live check, read it as live and will
 * set its bit; the wait must not end before that request returned. */
static void il_quiet_check(struct il_run *r, struct il_thr *b)
{
    /* DU_IL_QUIET_CHECK=0: off, to see what such a request breaks later
     * (the record's checks, il_check.c) - by hand only. */
    static int off = -1;
    if (off < 0) {
        const char *e = getenv("DU_IL_QUIET_CHECK");
        off = e && e[0] == '0';
    }
    if (off)
        return;
    for (int t = 0; t < r->nthreads; t++) {
        const struct il_thr *a = &r->th[t];
        if (IL_REQUESTER(t) && !a->done && a->depth == 0 && a->req_tracer == b->op_tracer &&
            il_in_request(a))
            il_problem(r, "cancel of T%d ended its request wait (cancel.requests-quiet) while "
                          "thread %c was still inside du_request(T%d) past its live check "
                          "(parked at %s): its fetch-or can land after the scrub",
                       b->op_tracer, IL_NAMES[t], b->op_tracer, il_pos_name(a->pos));
    }
}

void il_park(struct il_run *r, struct il_thr *th, int pos, int arg)
{
    /* The look of a cancel wait runs with the thread-list lock held; in
     * the two-thread scenarios the other thread is parked, so a park here
     * adds schedules and nothing the first poll does not see.  With three
     * threads a requester runs between the look's reads (il_enabled keeps
     * it away from the lock meanwhile). */
    if (pos == DU_STEP_CANCEL_WAIT_LOOKED && r->nthreads < 3)
        return;
    if (th->quiet ||
        (IL_REQUESTER(th->idx) && r->mode != IL_MODE_FULL && il_invisible(r, th->idx, pos, arg)))
        return;
    int in_section = IL_REQUESTER(th->idx) ? urcu_bp_read_ongoing() != 0 : 0;
    pthread_mutex_lock(&r->mu);
    if (r->cleanup || r->abandoned) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    int prev = th->pos;
    th->pos = pos;
    th->pos_arg = arg;
    th->in_section = in_section;
    th->parked = 1;
    /* A poll parks before it sleeps and reads again.  When the reads that
     * found a thread busy ran in this same segment (a poll after a poll;
     * with two threads, also the look), nothing moved since: the next poll
     * would see the same, so B is blocked until another thread moves, and
     * what it found busy can be checked now.  After a parked look (three
     * threads) others may have moved between its reads and this park. */
    if (pos == DU_STEP_CANCEL_WAIT_POLL && prev != DU_STEP_CANCEL_WAIT_LOOKED) {
        th->blocked = 1;
        il_poll_check(r, th);
    }
    if (pos == DU_STEP_CANCEL_REQUESTS_QUIET && th->idx == IL_B)
        il_quiet_check(r, th);
    if (pos == DU_STEP_CANCEL_FREED && th->idx == IL_B) {
        for (int t = 0; t < r->nthreads; t++) {
            struct il_thr *a = &r->th[t];
            if (IL_REQUESTER(t) && a->cur_cb >= 0 && a->cur_cb != th->op_tracer &&
                a->pos == IL_POS_CB)
                r->overlap = 1;
        }
    }
    pthread_cond_signal(&r->cv);
    struct timespec until;
    il_deadline(&until);
    while (r->grant != th->idx && !r->abandoned && !r->cleanup) {
        if (pthread_cond_timedwait(&th->cv, &r->mu, &until) == ETIMEDOUT) {
            il_problem(r, "thread %c, parked at %s, waited %d s for the controller to resume it "
                          "(or to end the run)", IL_NAMES[th->idx], il_pos_name(pos), IL_BOUND_S);
            r->abandoned = 1;
            il_wake_all(r);
        }
    }
    if (r->grant == th->idx)
        r->grant = -1;
    pthread_mutex_unlock(&r->mu);
}

/* Called by a thread at the end of its script: done, then wait for the
 * controller to let every thread clean up. */
void il_finish(struct il_run *r, struct il_thr *th)
{
    pthread_mutex_lock(&r->mu);
    th->done = 1;
    th->parked = 0;
    pthread_cond_signal(&r->cv);
    struct timespec until;
    il_deadline(&until);
    while (!r->cleanup && !r->abandoned) {
        if (pthread_cond_timedwait(&th->cv, &r->mu, &until) == ETIMEDOUT) {
            il_problem(r, "thread %c, done with its script, waited %d s for the controller to "
                          "end the run (the other threads to finish theirs)",
                       IL_NAMES[th->idx], IL_BOUND_S);
            r->abandoned = 1;
            il_wake_all(r);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static int il_settled(const struct il_thr *t) { return t->parked || t->done; }

/* The op a thread parked at IL_POS_OP is about to run. */
static enum il_op_kind il_next_op(const struct il_run *r, const struct il_thr *me)
{
    const struct il_op *ops = me->idx == IL_A ? r->sc->a : me->idx == IL_C ? r->sc->c : r->sc->b;
    return me->pos == IL_POS_OP && me->pos_arg >= 0 && me->pos_arg < IL_MAX_OPS
               ? ops[me->pos_arg].kind : IL_END;
}

/* Whether a parked thread holds du_threads_lock: cancel's look
 * (cancel.wait-looked, three threads), a proxy between its peek and its
 * claim (proxy.peeked), between its claim and the unlock (proxy.claimed) or
 * after its release (proxy.released). */
static int il_holds_threads_lock(const struct il_thr *me)
{
    return me->parked && (me->pos == DU_STEP_CANCEL_WAIT_LOOKED ||
                          (me->serving && (me->pos == DU_STEP_PROXY_PEEKED || me->pos == DU_STEP_PROXY_CLAIMED ||
                                           me->pos == DU_STEP_PROXY_RELEASED)));
}

/* Whether thread t's next segment may take du_threads_lock: detach's
 * unlink after the exit delivery (du_teardown); a proxy's first look at
 * the list (its op) and its re-lock before the release (after the unwind
 * or a callback); cancel's looks, polls and scrub. */
static int il_takes_threads_lock(const struct il_run *r, const struct il_thr *me)
{
    if (me->pos == DU_STEP_DETACH_DRAINED)
        return 1;
    if (me->idx == IL_B)
        return me->pos == DU_STEP_CANCEL_MARKED || me->pos == DU_STEP_CANCEL_WAIT_POLL ||
               me->pos == DU_STEP_CANCEL_SYNCED || me->pos == DU_STEP_CANCEL_CALLBACKS_QUIET;
    if (me->serving)
        return me->pos == DU_STEP_PROXY_CLAIMED || me->pos == DU_STEP_PROXY_UNWOUND ||
               me->pos == DU_STEP_DISPATCH_RETURNED;
    return il_next_op(r, me) == IL_SERVE;
}

static int il_enabled(const struct il_run *r, int t)
{
    const struct il_thr *me = &r->th[t];
    if (me->done || !me->parked || me->blocked)
        return 0;
    for (int u = 0; u < r->nthreads; u++) {
        const struct il_thr *other = &r->th[u];
        if (u == t || other->done)
            continue;
        if (me->pos == IL_POS_SYNC && other->in_section)
            return 0;
        if (il_holds_threads_lock(other) && il_takes_threads_lock(r, me))
            return 0; /* it would block on the lock the other one holds */
        if (me->pos == DU_STEP_FROZEN_WAITING && other->claim)
            return 0; /* its leave spins until the proxy releases the claim */
    }
    return 1;
}

static int il_all(const struct il_run *r, int (*pred)(const struct il_thr *))
{
    for (int t = 0; t < r->nthreads; t++)
        if (!pred(&r->th[t]))
            return 0;
    return 1;
}

static int il_is_done(const struct il_thr *t) { return t->done; }

/* Wait (mu held) until thread t parks or is done.  `what`: for a timeout. */
static void il_await(struct il_run *r, int t, const char *what)
{
    struct timespec until;
    il_deadline(&until);
    while (!il_settled(&r->th[t]) && !r->abandoned) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
            il_problem(r, "the controller waited %d s for thread %c to %s (last at %s)",
                       IL_BOUND_S, IL_NAMES[t], what, il_pos_name(r->th[t].pos));
            r->abandoned = 1;
            il_wake_all(r);
        }
    }
}

static int il_lowest(unsigned set) { return __builtin_ctz(set); }

/* The controller's loop for one run (mu held throughout, except in waits). */
static void il_control(struct il_run *r, struct il_dfs *d)
{
    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (int t = 0; t < r->nthreads; t++)
            il_await(r, t, "reach a step point (or end its script)");
        if (r->abandoned || il_all(r, il_is_done))
            break;
        unsigned enabled = 0;
        for (int t = 0; t < r->nthreads; t++)
            enabled |= (unsigned)il_enabled(r, t) << t;
        if (!enabled) {
            char where[200];
            il_where(r, -1, where, sizeof where);
            il_problem(r, "deadlock: %s", where);
            r->abandoned = 1;
            break;
        }
        int i = d->n, c;
        if (i >= IL_MAX_DECISIONS) {
            il_problem(r, "more than %d steps: unbounded run", IL_MAX_DECISIONS);
            r->abandoned = 1;
            break;
        }
        unsigned asleep = d->mode == IL_MODE_FULL ? 0 : d->sleep;
        unsigned cand = enabled & ~asleep;
        /* Preemption bound (three-thread scenarios): the thread that ran
         * last is tried first; once the bound is used up it is the only
         * candidate while it can go on. */
        int bound = r->sc->preemptions;
        int last_on = bound && d->last >= 0 && (enabled >> d->last & 1);
        if (last_on && d->preempted >= bound && (cand & ~(1u << d->last))) {
            cand &= 1u << d->last;
            d->bounded = 1;
        }
        if (!cand) {
            /* Only asleep threads can run: covered elsewhere.  Finish the run. */
            d->redundant = 1;
            d->frozen = 1;
            cand = 1u << (last_on ? d->last : il_lowest(enabled));
        }
        int first = last_on && (cand >> d->last & 1) ? d->last : il_lowest(cand);
        if (i < d->forced) {
            c = d->choice[i];
            if (enabled != d->enabled[i] || !(cand >> c & 1)) {
                il_problem(r, "replay diverged at decision %d (enabled %#x, recorded %#x)", i,
                           enabled, d->enabled[i]);
                r->abandoned = 1;
                break;
            }
        } else {
            c = first;
            d->choice[i] = (uint8_t)c;
            d->enabled[i] = (uint8_t)enabled;
            d->todo[i] = (uint8_t)(d->frozen ? 0 : cand & ~(1u << c));
        }
        d->n++;
        if (last_on && c != d->last)
            d->preempted++;
        d->last = c;
        /* Sleep sets: the threads tried before c here and those already
         * asleep stay asleep in c's subtree while what runs commutes with
         * their pending segment.  Order of trial: `first`, then the other
         * candidates by index (il_search.c takes the lowest still to do). */
        if (d->mode != IL_MODE_FULL) {
            unsigned before = c == first ? 0 : (1u << first) | (cand & ~(1u << first) & ((1u << c) - 1));
            unsigned carry = (asleep | before) & ~(1u << c), next = 0;
            for (unsigned s = carry; s; s &= s - 1) {
                int t = il_lowest(s);
                if (il_independent(r, t, r->th[t].pos, c, r->th[c].pos))
                    next |= 1u << t;
            }
            d->sleep = next;
        }
        struct il_thr *me = &r->th[c];
        int sibling = (enabled & ~(1u << c)) != 0;
        me->parked = 0;
        for (int t = 0; t < r->nthreads; t++)
            if (t != c)
                r->th[t].blocked = 0; /* another thread moves: look again */
        r->grant = c;
        pthread_cond_signal(&me->cv);
        il_await(r, c, "run to its next step point (or the end of its script)");
        /* A wait that found the other thread busy (first look or a poll)
         * changed nothing: the rest is the sibling's subtree (two threads
         * only; see the top of this file). */
        if (r->nthreads == 2 && sibling && me->parked && me->pos == DU_STEP_CANCEL_WAIT_POLL)
            d->frozen = 1;
    }
    r->cleanup = 1;
    il_wake_all(r);
    pthread_mutex_unlock(&r->mu);
}

static int il_join(struct il_run *r, pthread_t t, char name)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += IL_BOUND_S;
    if (pthread_timedjoin_np(t, NULL, &until) == 0)
        return 0;
    il_problem(r, "the controller waited %d s to join thread %c after the run (its cleanup: "
                  "detach, delivery) and gave up", IL_BOUND_S, name);
    return 1;
}

/* One run from scratch.  Returns nonzero when a thread could not be joined
 * (exploration must stop: the run's state is still in use). */
int il_run_once(const struct il_scenario *sc, struct il_dfs *d, struct il_run **out)
{
    struct il_run *r = &il_the_run;
    memset(r, 0, sizeof(*r));
    r->sc = sc;
    r->mode = d->mode;
    r->grant = -1;
    r->nthreads = sc->threads == 3 ? 3 : 2;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    for (int t = 0; t < r->nthreads; t++) {
        pthread_cond_init(&r->th[t].cv, &ca);
        r->th[t].idx = t;
        r->th[t].pos = IL_POS_NONE;
        r->th[t].cur_cb = -1;
        r->th[t].req_tracer = -1;
    }
    pthread_condattr_destroy(&ca);
    for (int t = 0; t < IL_TRACERS; t++)
        r->targ[t] = (struct il_tracer_arg){r, t};
    for (int k = 0; sc->prereg[k] >= 0; k++)
        il_do_register(r, NULL, sc->prereg[k]);
    *out = r;
    d->n = 0;
    d->frozen = 0;
    d->sleep = 0;
    d->redundant = 0;
    d->last = -1;
    d->preempted = 0;
    /* A, then C, then B, each parked before the next starts: a fixed
     * attach order (C ahead of A on the list) and prologue order. */
    static const int order[] = {IL_A, IL_C, IL_B};
    int started = 0;
    for (int k = 0; k < 3; k++) {
        int t = order[k];
        if (t >= r->nthreads)
            continue;
        if (pthread_create(&r->th[t].tid, NULL, il_thread_main, &r->th[t]) != 0) {
            il_problem(r, "pthread_create failed");
            pthread_mutex_lock(&r->mu);
            r->abandoned = 1;
            il_wake_all(r);
            pthread_mutex_unlock(&r->mu);
            break;
        }
        started |= 1 << t;
        pthread_mutex_lock(&r->mu);
        il_await(r, t, "attach, run its prologue and park at its first op");
        pthread_mutex_unlock(&r->mu);
    }
    if (started == (1 << r->nthreads) - 1)
        il_control(r, d);
    int stuck = 0;
    for (int t = 0; t < r->nthreads; t++)
        if (started >> t & 1)
            stuck |= il_join(r, r->th[t].tid, IL_NAMES[t]);
    if (stuck || started != (1 << r->nthreads) - 1)
        return 1;
    /* Clean up: every tracer still registered (the requesters have
     * detached: nothing of theirs can be pending, so each destroy must drop
     * nothing). */
    for (int t = 0; t < IL_TRACERS; t++) {
        if (!r->handle[t])
            continue;
        int rc = du_tracer_destroy(r->handle[t]);
        il_log(r, IL_B, EV_CANCEL_RET, 0, t, rc, 0, 1);
    }
    pthread_cond_destroy(&r->cv);
    for (int t = 0; t < r->nthreads; t++)
        pthread_cond_destroy(&r->th[t].cv);
    pthread_mutex_destroy(&r->mu);
    if (!r->abandoned) {
        il_check(r);
        r->outcome = il_outcome(r);
    }
    return 0;
}
