/* il_internal.h - shared by il_sched.c, il_script.c, il_check.c and
 * il_scenarios.c (not a public header). */
#ifndef DU_IL_INTERNAL_H
#define DU_IL_INTERNAL_H
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "interleave_support.h"

#define IL_TRACERS 4       /* T0..T3 */
#define IL_MAX_OPS 8
#define IL_MAX_EVENTS 4096
#define IL_MAX_DECISIONS 1024
#define IL_BOUND_S 30      /* every wait of the scheduler */
#define IL_MAX_ROUNDS (IL_TRACERS + 2) /* dispatch rounds per safe point or detach */
enum { IL_MODE_REDUCED, IL_MODE_FULL, IL_MODE_CONSERVATIVE };
#define IL_A 0
#define IL_B 1

enum il_op_kind { IL_END = 0, IL_REQ, IL_SAFE, IL_DETACH, IL_CANCEL, IL_DESTROY, IL_REGISTER };
struct il_op {
    enum il_op_kind kind;
    int tracer;
};

/* What a tracer's callback does (on A, thread context). */
enum {
    IL_CB_PARK = 1,    /* park inside the callback: B may run meanwhile */
    IL_CB_REQ_T2 = 2,  /* request T2 if it is registered */
    IL_CB_REG_T2 = 4,  /* register T2 if it is not */
};

struct il_scenario {
    const char *name;
    const char *about;
    int prereg[IL_TRACERS + 1]; /* registered by the controller in this order; -1 ends */
    /* A's prologue runs before the controller starts (nothing parks):
     * requests whose own interleavings other scenarios cover. */
    struct il_op a_pre[4];
    struct il_op a[IL_MAX_OPS], b[IL_MAX_OPS]; /* IL_END ends */
    unsigned cb[IL_TRACERS];
    /* A nested request ("signal") from A's hook: at the `occurrence`-th
     * time A reaches `step` (after B had its chance there), request
     * `tracer`.  step < 0: none. */
    int sig_step, sig_occurrence, sig_tracer;
    int want_overlap;
};

/* Where a thread is parked. */
enum { IL_POS_OP = DU_STEP_COUNT, IL_POS_CB, IL_POS_SYNC, IL_POS_NONE };

enum il_ev_kind {
    EV_STEP, EV_OP, EV_REQ_START, EV_REQ, EV_CB_START, EV_CB_END, EV_CANCEL_START,
    EV_CANCEL_RET, EV_REG, EV_SAFE_RET, EV_DETACH_RET, EV_CLEANUP
};
struct il_event {
    uint8_t thread, kind, depth;
    int16_t step;    /* EV_STEP: the step; EV_OP: the op index */
    int8_t tracer;   /* request, callback, cancel, register; B's steps: its op's tracer */
    int status;      /* return value */
    int ctx;         /* A's context number at the time */
    uint64_t cookie;
    uint32_t flags;  /* callback: trace flags; cancel: 1 in cleanup */
};

struct il_thr {
    pthread_t tid;
    int idx;
    int pos, pos_arg;  /* parked at (step or IL_POS_*), and its argument */
    int in_section;    /* A: inside an RCU read-side section when parked */
    int parked, done, blocked;
    int depth;         /* hook nesting (nested requests do not park) */
    int attached;
    int ctx;           /* A: context number (bumped at reset.done) */
    int op_tracer;     /* the tracer of the op running */
    int wait_kind;     /* B: 1 request wait, 2 callback wait (from its last step) */
    int occ;           /* A: occurrences of the signal's step */
    int rounds;        /* A: dispatch rounds in the current op */
    int cur_cb;        /* A: tracer whose callback runs, -1 for none */
    int quiet;         /* running the prologue: no parking */
};

struct il_tracer_arg {
    struct il_run *run;
    int idx;
};

struct il_run {
    const struct il_scenario *sc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int grant;         /* thread allowed to run, -1 none */
    int cleanup;       /* scripts over: free running, no more parking */
    int abandoned;     /* a wait timed out or deadlock: free running */
    struct il_thr th[2];
    du_tracer *handle[IL_TRACERS];
    struct il_tracer_arg targ[IL_TRACERS];
    struct il_event ev[IL_MAX_EVENTS];
    int nev;
    int overlap;       /* B's cancel returned while A parked in another tracer's callback */
    int mode;          /* IL_MODE_*: FULL parks at every step (no invisible steps) */
    int known;         /* only the known dropped undercount */
    uint64_t outcome;  /* hash of what each thread saw (il_check.c) */
    char problem[1024];
    char known_msg[512];
};

/* The exploration state: persists across the runs of one scenario. */
struct il_dfs {
    uint8_t choice[IL_MAX_DECISIONS];
    uint8_t alt[IL_MAX_DECISIONS];   /* B was enabled too and is still to try */
    uint8_t enabled[IL_MAX_DECISIONS];
    int n, forced;
    int frozen;                       /* no alternatives after a vain poll */
    int asleep;                       /* A asleep (il_reduce.c) */
    int mode;                         /* IL_MODE_* */
    int redundant;                    /* this run reached a node covered elsewhere */
};

/* il_sched.c */
void il_problem(struct il_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int il_log(struct il_run *r, int thread, int kind, int step, int tracer, int status,
           uint64_t cookie, uint32_t flags);
void il_park(struct il_run *r, struct il_thr *th, int pos, int arg);
void il_finish(struct il_run *r, struct il_thr *th);
/* One run of `sc` from scratch along d's choices; nonzero when a thread
 * could not be joined (the search must stop). */
int il_run_once(const struct il_scenario *sc, struct il_dfs *d, struct il_run **out);
void il_schedule_text(const struct il_dfs *d, char *buf, size_t len);
void il_steps_text(const struct il_run *r, char *buf, size_t len);
/* il_script.c */
struct il_thr *il_current(void); /* this thread's, NULL outside a run */
struct il_run *il_run_of(struct il_thr *th);
void *il_thread_main(void *arg);
void il_callback(const struct du_trace *trace, uint64_t cookie, void *arg);
void il_hook(enum du_step step, void *arg);
void il_do_request(struct il_run *r, struct il_thr *th, int tracer);
/* th NULL: the controller, before the threads start. */
void il_do_register(struct il_run *r, struct il_thr *th, int tracer);
/* il_reduce.c */
int il_independent(const struct il_run *r, int apos, int bpos);
int il_invisible(const struct il_run *r, int apos);
/* il_check.c */
void il_check(struct il_run *r);
uint64_t il_outcome(const struct il_run *r);
/* il_scenarios.c */
const struct il_scenario *il_scenario_get(int i);
#endif
