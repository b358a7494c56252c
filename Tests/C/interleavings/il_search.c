/*
 * il_search.c - the depth-first search over choice sequences (stateless:
 * each schedule is run from scratch by il_run_once), the set of distinct
 * outcomes, the reduction's soundness check, and the text of a schedule
 * and of a run's steps for failure messages.
 */
#include "il_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void il_schedule_text(const struct il_dfs *d, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < d->n && o + 8 < len;) {
        int j = i;
        while (j < d->n && d->choice[j] == d->choice[i])
            j++;
        o += (size_t)snprintf(buf + o, len - o, "%s%c%d", i ? " " : "", IL_NAMES[d->choice[i]], j - i);
        i = j;
    }
}

void il_steps_text(const struct il_run *r, char *buf, size_t len)
{
    static const char *const kinds[] = {"", "op", "req", "=", "cb(", ")cb", "cancel(", "=",
                                        "register", "safe=", "detach=", "cleanup",
                                        "enter=", "leave=", "serve="};
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < r->nev && o + 48 < len; i++) {
        const struct il_event *e = &r->ev[i];
        char what[64];
        if (e->kind == EV_STEP)
            snprintf(what, sizeof what, "%s", du_step_name((enum du_step)e->step));
        else if (e->kind == EV_OP)
            snprintf(what, sizeof what, "op%d", e->step);
        else
            snprintf(what, sizeof what, "%s%s%d%s%d", kinds[e->kind],
                     e->kind == EV_REQ ? "" : "T", e->kind == EV_REQ ? e->status : e->tracer,
                     e->kind == EV_CB_START || e->kind == EV_REQ ? " c" : " ",
                     e->kind == EV_CB_START || e->kind == EV_REQ ? (int)(e->cookie & 0xffff)
                                                                  : e->status);
        if (e->kind == EV_CB_START && e->owner != e->thread) /* a proxy's, for the owner */
            snprintf(what + strlen(what), sizeof what - strlen(what), " for %c", IL_NAMES[e->owner]);
        o += (size_t)snprintf(buf + o, len - o, "%s%c%s:%s", i ? " " : "", IL_NAMES[e->thread],
                              e->depth ? "'" : "", what);
    }
}

/* Distinct outcomes: an open-addressing set of hashes. */
#define IL_SET_BITS 18
struct il_set {
    uint64_t v[1u << IL_SET_BITS];
    unsigned long n;
};

static int il_set_add(struct il_set *s, uint64_t h)
{
    h |= 1; /* 0 marks an empty slot */
    size_t mask = (1u << IL_SET_BITS) - 1, i = (size_t)(h * 0x9E3779B97F4A7C15ull >> 40) & mask;
    for (size_t probe = 0; probe <= mask; probe++, i = (i + 1) & mask) {
        if (s->v[i] == h)
            return 0;
        if (!s->v[i]) {
            if (s->n >= mask / 2)
                return -1; /* too full */
            s->v[i] = h;
            s->n++;
            return 1;
        }
    }
    return -1;
}

static int il_set_has(const struct il_set *s, uint64_t h)
{
    h |= 1;
    size_t mask = (1u << IL_SET_BITS) - 1, i = (size_t)(h * 0x9E3779B97F4A7C15ull >> 40) & mask;
    for (; s->v[i]; i = (i + 1) & mask)
        if (s->v[i] == h)
            return 1;
    return 0;
}

static struct il_set il_outcomes, il_outcomes_full;

static int il_search(int scenario, unsigned long limit, int mode, struct il_result *out,
                     struct il_set *set)
{
    static struct il_dfs d;
    memset(out, 0, sizeof(*out));
    memset(&d, 0, sizeof(d));
    memset(set, 0, sizeof(*set));
    d.mode = mode;
    const struct il_scenario *sc = il_scenario_get(scenario);
    if (!sc) {
        snprintf(out->failure, sizeof(out->failure), "no scenario %d", scenario);
        return 1;
    }
    if (!du_debug_step_points_built()) {
        snprintf(out->failure, sizeof(out->failure), "step points not built (debug builds only)");
        return 1;
    }
    for (;;) {
        struct il_run *r;
        int fatal = il_run_once(sc, &d, &r);
        out->schedules++;
        out->pruned += (unsigned long)(d.frozen && !d.redundant);
        out->redundant += (unsigned long)d.redundant;
        if ((unsigned long)d.n > out->max_steps)
            out->max_steps = (unsigned long)d.n;
        out->overlap += (unsigned long)r->overlap;
        if (il_set_add(set, r->outcome) < 0 && !r->problem[0])
            il_problem(r, "more than %lu distinct outcomes", set->n);
        char sched[512], steps[2600];
        il_schedule_text(&d, sched, sizeof sched);
        if (r->problem[0]) {
            il_steps_text(r, steps, sizeof steps);
            out->failures++;
            snprintf(out->failure, sizeof(out->failure), "%s: %s\n  schedule #%lu: %s\n  steps: %s",
                     sc->name, r->problem, out->schedules, sched, steps);
            break;
        }
        if (r->known && !out->known++) {
            il_steps_text(r, steps, sizeof steps);
            snprintf(out->known_example, sizeof(out->known_example),
                     "%s: %s\n  schedule #%lu: %s\n  steps: %s", sc->name, r->known_msg,
                     out->schedules, sched, steps);
        }
        if (fatal)
            break;
        int i = d.n - 1;
        while (i >= 0 && !d.todo[i])
            i--;
        if (i < 0) {
            out->complete = 1;
            break;
        }
        d.choice[i] = (uint8_t)__builtin_ctz(d.todo[i]); /* the lowest thread still to try */
        d.todo[i] &= (uint8_t)(d.todo[i] - 1);
        d.forced = i + 1;
        if (limit && out->schedules >= limit)
            break;
    }
    out->outcomes = set->n;
    out->preemption_bound = sc->preemptions;
    out->bound_cut = d.bounded;
    if (!out->failures && out->complete && sc->want_overlap && !out->overlap) {
        out->failures = 1;
        snprintf(out->failure, sizeof(out->failure),
                 "%s: in no schedule did B's cancel return while A was parked inside another "
                 "tracer's callback (it waited for that callback)", sc->name);
    }
    return out->failures ? 1 : 0;
}

int il_explore_ex(int scenario, unsigned long limit, int mode, struct il_result *out)
{
    if (mode == 0 && getenv("DU_IL_CONSERVATIVE"))
        mode = IL_MODE_CONSERVATIVE;
    /* A bound for exploring by hand (the result says it is incomplete). */
    const char *lim = getenv("DU_IL_LIMIT");
    if (lim && *lim && !limit)
        limit = strtoul(lim, NULL, 10);
    return il_search(scenario, limit, mode, out, &il_outcomes);
}

int il_explore(int scenario, unsigned long limit, struct il_result *out)
{
    return il_explore_ex(scenario, limit, 0, out);
}

int il_reduction_check(int scenario, unsigned long *full_schedules,
                       unsigned long *reduced_schedules, char *msg, size_t len)
{
    static struct il_result full, reduced;
    int rc = il_search(scenario, 0, IL_MODE_FULL, &full, &il_outcomes_full);
    *full_schedules = full.schedules;
    if (rc || !full.complete) {
        snprintf(msg, len, "full search: %s", rc ? full.failure : "incomplete");
        return 1;
    }
    rc = il_search(scenario, 0, IL_MODE_REDUCED, &reduced, &il_outcomes);
    *reduced_schedules = reduced.schedules;
    if (rc || !reduced.complete) {
        snprintf(msg, len, "reduced search: %s", rc ? reduced.failure : "incomplete");
        return 1;
    }
    unsigned long missing = 0;
    for (size_t i = 0; i < (1u << IL_SET_BITS); i++)
        if (il_outcomes_full.v[i] && !il_set_has(&il_outcomes, il_outcomes_full.v[i]))
            missing++;
    if (missing || il_outcomes.n != il_outcomes_full.n) {
        snprintf(msg, len, "%s: the reduced search reached %lu distinct outcomes, the full one %lu; "
                 "%lu of the full search's are missing", il_scenario_name(scenario),
                 il_outcomes.n, il_outcomes_full.n, missing);
        return 1;
    }
    return 0;
}
