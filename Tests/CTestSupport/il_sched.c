/*
 * il_sched.c - the controller: one deterministic interleaving per run, and
 * a stateless depth-first search over the choice sequences.
 *
 * Threads A and B park at every step point (il_park, called from their
 * step hooks, at the boundaries of their scripts and inside callbacks that
 * park).  The controller waits until both are parked or done, picks one
 * enabled thread, resumes it, and waits until it parks again: each run is a
 * sequence of choices.  No sleeps, no timing: every wait is a condition
 * variable wait bounded by IL_BOUND_S, and a timeout is a failure naming the
 * schedule.
 *
 * Enabled: parked, not done, and
 *  - not parked at cancel.wait-poll unless the other thread moved since it
 *    parked there (its poll would see the same state and park again);
 *  - not parked on entry to synchronize_rcu (IL_POS_SYNC, il_sync.c) while
 *    the other thread is inside an RCU read-side section
 *    (urcu_bp_read_ongoing() on that thread when it parked): the grace
 *    period cannot end until that thread moves.
 * No thread parks holding one of the core's locks: no step point lies
 * inside du_threads_lock or du_registry_lock (register.published,
 * cancel.marked, cancel.scrubbed and cancel.freed come after the unlock;
 * cancel.wait-poll is outside it; the detach steps come before it).
 * Neither enabled and not both done: a deadlock, reported with the schedule.
 *
 * Search: the first run takes the lowest enabled thread (A) at every
 * decision; afterwards the deepest decision where B was enabled too and not
 * yet tried is flipped, the prefix replayed and the rest taken by default.
 * Replay must see the same enabled sets (determinism is checked).
 * Reductions: sleep sets over static footprints (il_reduce.c; full mode
 * turns them off), and: when B is resumed and parks at cancel.wait-poll
 * (its wait looked and found the other thread busy: a read-only segment,
 * no state changed), the rest of that run is the same as the sibling
 * schedule that resumed A instead, which is explored anyway, so no
 * alternatives are recorded after it.
 */
#include "il_internal.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

void il_problem(struct il_run *r, const char *fmt, ...)
{
    pthread_mutex_lock(&il_log_mu);
    if (!r->problem[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->problem, sizeof(r->problem), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&il_log_mu);
}

int il_log(struct il_run *r, int thread, int kind, int step, int tracer, int status,
           uint64_t cookie, uint32_t flags)
{
    pthread_mutex_lock(&il_log_mu);
    int seq = r->nev;
    if (seq < IL_MAX_EVENTS) {
        r->ev[seq] = (struct il_event){
            .thread = (uint8_t)thread, .kind = (uint8_t)kind,
            .depth = (uint8_t)r->th[thread].depth, .step = (int16_t)step,
            .tracer = (int8_t)tracer, .status = status, .ctx = r->th[IL_A].ctx,
            .cookie = cookie, .flags = flags};
        r->nev++;
    }
    pthread_mutex_unlock(&il_log_mu);
    if (seq >= IL_MAX_EVENTS)
        il_problem(r, "event log full (%d events): unbounded run", IL_MAX_EVENTS);
    return seq;
}

static void il_deadline(struct timespec *until)
{
    clock_gettime(CLOCK_MONOTONIC, until);
    until->tv_sec += IL_BOUND_S;
}

/* B polls in a cancel wait (mu held): the other thread is parked, so what
 * it can be busy with is known from where it is. */
static void il_poll_check(struct il_run *r, struct il_thr *th)
{
    struct il_thr *a = &r->th[1 - th->idx];
    int in_request = a->pos == DU_STEP_REQUEST_BIT_READ || a->pos == DU_STEP_COOKIE_DRAWN ||
                     a->pos == DU_STEP_COOKIE_CLAIMED || a->pos == DU_STEP_COOKIE_SEQ_STORED ||
                     a->pos == DU_STEP_REQUEST_COOKIE_READY ||
                     a->pos == DU_STEP_REQUEST_CLAIMED;
    if (th->wait_kind == 1 && !a->done && !in_request)
        il_problem(r, "cancel's request wait found a thread busy while it was parked at %s "
                      "(outside du_request)", il_pos_name(a->pos));
    if (th->wait_kind == 2 && (a->done || (a->cur_cb >= 0 && a->cur_cb != th->op_tracer) ||
                               a->pos == IL_POS_OP))
        il_problem(r, "cancel of T%d waited while the other thread ran %s%d (at %s): not its callback",
                   th->op_tracer, a->cur_cb >= 0 ? "a callback of T" : "no callback, ",
                   a->cur_cb, il_pos_name(a->pos));
}

void il_park(struct il_run *r, struct il_thr *th, int pos, int arg)
{
    /* The request wait's look runs with the thread-list lock held; in the
     * two-thread scenarios the other thread is parked, so a park here adds
     * schedules and nothing the first poll does not see. */
    if (pos == DU_STEP_CANCEL_WAIT_LOOKED)
        return;
    if (th->quiet || (th->idx == IL_A && r->mode != IL_MODE_FULL && il_invisible(r, pos)))
        return;
    int in_section = th->idx == IL_A ? urcu_bp_read_ongoing() != 0 : 0;
    pthread_mutex_lock(&r->mu);
    if (r->cleanup || r->abandoned) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    th->pos = pos;
    th->pos_arg = arg;
    th->in_section = in_section;
    th->parked = 1;
    if (pos == DU_STEP_CANCEL_WAIT_POLL) {
        th->blocked = 1;
        il_poll_check(r, th);
    }
    if (pos == DU_STEP_CANCEL_FREED && th->idx == IL_B) {
        struct il_thr *a = &r->th[IL_A];
        if (a->cur_cb >= 0 && a->cur_cb != th->op_tracer && a->pos == IL_POS_CB)
            r->overlap = 1;
    }
    pthread_cond_broadcast(&r->cv);
    struct timespec until;
    il_deadline(&until);
    while (r->grant != th->idx && !r->abandoned && !r->cleanup) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
            il_problem(r, "thread %c waited %d s for the controller at %s", "AB"[th->idx],
                       IL_BOUND_S, il_pos_name(pos));
            r->abandoned = 1;
            pthread_cond_broadcast(&r->cv);
        }
    }
    if (r->grant == th->idx)
        r->grant = -1;
    pthread_mutex_unlock(&r->mu);
}

/* Called by a thread at the end of its script: done, then wait for the
 * controller to let both clean up. */
void il_finish(struct il_run *r, struct il_thr *th)
{
    pthread_mutex_lock(&r->mu);
    th->done = 1;
    th->parked = 0;
    pthread_cond_broadcast(&r->cv);
    struct timespec until;
    il_deadline(&until);
    while (!r->cleanup && !r->abandoned) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
            il_problem(r, "thread %c waited %d s for the end of the run", "AB"[th->idx], IL_BOUND_S);
            r->abandoned = 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static int il_settled(const struct il_thr *t) { return t->parked || t->done; }

static int il_enabled(const struct il_run *r, int t)
{
    const struct il_thr *me = &r->th[t], *other = &r->th[1 - t];
    if (me->done || !me->parked || me->blocked)
        return 0;
    if (me->pos == IL_POS_SYNC && other->in_section && !other->done)
        return 0;
    return 1;
}

/* The controller's loop for one run (mu held throughout, except in waits). */
static void il_control(struct il_run *r, struct il_dfs *d)
{
    struct timespec until;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        il_deadline(&until);
        while (!(il_settled(&r->th[0]) && il_settled(&r->th[1])) && !r->abandoned) {
            if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
                int t = il_settled(&r->th[0]) ? 1 : 0;
                il_problem(r, "thread %c did not reach a step point within %d s after %s",
                           "AB"[t], IL_BOUND_S, il_pos_name(r->th[t].pos));
                r->abandoned = 1;
            }
        }
        if (r->abandoned || (r->th[0].done && r->th[1].done))
            break;
        int enabled = il_enabled(r, 0) | il_enabled(r, 1) << 1;
        if (!enabled) {
            il_problem(r, "deadlock: A at %s%s, B at %s%s", il_pos_name(r->th[0].pos),
                       r->th[0].done ? " (done)" : r->th[0].blocked ? " (polling in vain)" : "",
                       il_pos_name(r->th[1].pos),
                       r->th[1].done ? " (done)" : r->th[1].blocked ? " (polling in vain)" : "");
            r->abandoned = 1;
            break;
        }
        int i = d->n, c;
        if (i >= IL_MAX_DECISIONS) {
            il_problem(r, "more than %d steps: unbounded run", IL_MAX_DECISIONS);
            r->abandoned = 1;
            break;
        }
        int cand_a = (enabled & 1) && !(d->asleep && d->mode != IL_MODE_FULL), cand_b = (enabled & 2) != 0;
        if (!cand_a && !cand_b) {
            /* Only asleep A can run: covered elsewhere.  Finish the run. */
            d->redundant = 1;
            d->frozen = 1;
            cand_a = 1;
        }
        if (i < d->forced) {
            c = d->choice[i];
            if (enabled != d->enabled[i] || !(c == IL_A ? cand_a : cand_b)) {
                il_problem(r, "replay diverged at decision %d (enabled %d, recorded %d)", i,
                           enabled, d->enabled[i]);
                r->abandoned = 1;
                break;
            }
        } else {
            c = cand_a ? IL_A : IL_B;
            d->choice[i] = (uint8_t)c;
            d->enabled[i] = (uint8_t)enabled;
            d->alt[i] = !d->frozen && c == IL_A && cand_b;
        }
        d->n++;
        if (c == IL_B)
            d->asleep = (d->asleep || (enabled & 1)) &&
                        il_independent(r, r->th[IL_A].pos, r->th[IL_B].pos);
        else
            d->asleep = 0;
        struct il_thr *me = &r->th[c];
        int sibling = enabled & (1 << (1 - c));
        me->parked = 0;
        r->th[1 - c].blocked = 0; /* the other thread moves: look again */
        r->grant = c;
        pthread_cond_broadcast(&r->cv);
        il_deadline(&until);
        while (!il_settled(me) && !r->abandoned) {
            if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
                il_problem(r, "thread %c did not reach its next step point within %d s after %s",
                           "AB"[c], IL_BOUND_S, il_pos_name(me->pos));
                r->abandoned = 1;
            }
        }
        /* A wait that found the other thread busy (first look or a poll)
         * changed nothing: the rest is the sibling's subtree. */
        if (sibling && me->parked && me->pos == DU_STEP_CANCEL_WAIT_POLL)
            d->frozen = 1;
    }
    r->cleanup = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int il_join(struct il_run *r, pthread_t t, char name)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += IL_BOUND_S;
    if (pthread_timedjoin_np(t, NULL, &until) == 0)
        return 0;
    il_problem(r, "thread %c did not finish within %d s after the run", name, IL_BOUND_S);
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
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int t = 0; t < 2; t++) {
        r->th[t].idx = t;
        r->th[t].pos = IL_POS_NONE;
        r->th[t].cur_cb = -1;
    }
    for (int t = 0; t < IL_TRACERS; t++)
        r->targ[t] = (struct il_tracer_arg){r, t};
    for (int k = 0; sc->prereg[k] >= 0; k++)
        il_do_register(r, NULL, sc->prereg[k]);
    *out = r;
    d->n = 0;
    d->frozen = 0;
    d->asleep = 0;
    d->redundant = 0;
    for (int t = 0; t < 2; t++)
        if (pthread_create(&r->th[t].tid, NULL, il_thread_main, &r->th[t]) != 0) {
            il_problem(r, "pthread_create failed");
            return 1;
        }
    il_control(r, d);
    int stuck = il_join(r, r->th[IL_A].tid, 'A');
    stuck |= il_join(r, r->th[IL_B].tid, 'B');
    if (stuck)
        return 1;
    /* Clean up: every tracer still registered (A has detached: nothing of
     * it can be pending, so each destroy must drop nothing). */
    for (int t = 0; t < IL_TRACERS; t++) {
        if (!r->handle[t])
            continue;
        int rc = du_tracer_destroy(r->handle[t]);
        il_log(r, IL_B, EV_CANCEL_RET, 0, t, rc, 0, 1);
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    if (!r->abandoned) {
        il_check(r);
        r->outcome = il_outcome(r);
    }
    return 0;
}
