/* interleave_support.h - deterministic two- and three-thread interleavings
 * of the real core (Tests/C/interleavings/il_*.c; DU_STEP_POINTS builds only).
 *
 * Thread A (attached: requests, safe points with callbacks, detach),
 * thread B (cancel, register, destroy) and, in three-thread scenarios, a
 * second requester C each park at every step point; a controller resumes
 * exactly one of them up to its next step point, so a run is one
 * interleaving, named by its choice sequence.  il_explore runs a
 * scenario from scratch once per interleaving (stateless depth-first search
 * over choice sequences) and checks the invariants of the design on each. */
#ifndef DU_INTERLEAVE_SUPPORT_H
#define DU_INTERLEAVE_SUPPORT_H
#include <stddef.h>

struct il_result {
    unsigned long schedules;   /* interleavings run (each one from scratch) */
    unsigned long failures;    /* that broke an invariant (exploration stops at the first) */
    unsigned long pruned;      /* runs whose subtree was cut after a cancel wait polled
                                * in vain (equivalent to a sibling schedule; il_sched.c) */
    unsigned long redundant;   /* runs that reached a node covered elsewhere (sleep sets) */
    unsigned long outcomes;    /* distinct outcomes (what each thread saw) */
    unsigned long max_steps;   /* longest schedule, in controller decisions */
    unsigned long known;       /* schedules where cancel's dropped count was the documented
                                * lower bound, not exact (il_check.c, invariant 7) */
    unsigned long overlap;     /* schedules in which B's cancel returned while A was
                                * parked inside another tracer's callback */
    int complete;              /* the whole tree was explored (within the bound, if any) */
    int preemption_bound;      /* 0: every schedule; else at most this many preemptions */
    int bound_cut;             /* the bound kept some schedule from being explored */
    char failure[4096];        /* first failure: what, the schedule, the steps */
    char known_example[2048];  /* one such schedule */
};

/* Scenarios (il_scenarios.c). */
int il_scenario_count(void);
const char *il_scenario_name(int scenario);
const char *il_scenario_about(int scenario);
/* 2 or 3: the threads of the scenario (3: requesters A and C, canceller B). */
int il_scenario_threads(int scenario);
/* 1 when every schedule must show the overlap above (scenario with a long
 * callback of another tracer while B cancels). */
int il_scenario_wants_overlap(int scenario);

/* Explore every interleaving of `scenario` (at most `limit` schedules; 0 for
 * no limit).  Returns 0 when every schedule held, else 1 with
 * out->failure set.  Serialised by the caller (process-wide registry). */
int il_explore(int scenario, unsigned long limit, struct il_result *out);
/* The same in a mode: 0 reduced (il_reduce.c; conservative instead when
 * DU_IL_CONSERVATIVE is set in the environment), 1 full (every step a
 * decision, no sleep sets), 2 conservative (sleep sets take every segment
 * of B as touching everything: independent of the footprint table's B half). */
int il_explore_ex(int scenario, unsigned long limit, int mode, struct il_result *out);
/* Soundness of the reduction on `scenario`: the reduced search must reach
 * exactly the outcomes the full search reaches.  0, or 1 with msg. */
int il_reduction_check(int scenario, unsigned long *full_schedules,
                       unsigned long *reduced_schedules, char *msg, size_t len);
#endif
