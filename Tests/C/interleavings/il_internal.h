/* il_internal.h - shared by il_sched.c, il_script.c, il_check.c,
 * il_reduce.c, il_search.c and il_scenarios.c (not a public header).
 *
 * Threads: A (index 0) and C (index 2) are requesters (attached: requests,
 * safe points, callbacks, detach); B (index 1) is the canceller (cancel,
 * register, destroy; not attached).  Two-thread scenarios run A and B
 * only, exactly as before C existed; three-thread scenarios add C.
 * Frozen-region scenarios (proxy.c): A enters a region (IL_ENTER ..
 * IL_LEAVE, il_script.c's il_region) and C is the proxy (IL_SERVE): its
 * callbacks run for A (DU_TRACE_PROXY) and count in A's context; B cancels
 * or stays idle (the two-party scenario). */
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
/* Every wait of the scheduler, generous: a run's segment takes microseconds,
 * but a shared CI runner under load ~10 on 2 cores has stalled a thread
 * for more than 30 s.  A timeout names what was awaited and for how long. */
#define IL_BOUND_S 300
#define IL_MAX_ROUNDS (IL_TRACERS + 2) /* dispatch rounds per safe point or detach */
enum { IL_MODE_REDUCED, IL_MODE_FULL, IL_MODE_CONSERVATIVE };
#define IL_A 0
#define IL_B 1
#define IL_C 2
#define IL_MAX_THREADS 3
#define IL_NAMES "ABC"
#define IL_REQUESTER(t) ((t) != IL_B)

enum il_op_kind {
    IL_END = 0, IL_REQ, IL_SAFE, IL_DETACH, IL_CANCEL, IL_DESTROY, IL_REGISTER,
    /* Frozen regions (proxy.c), requester A only: ENTER calls du_frozen_enter
     * from a frame (il_script.c's il_region) that stays on the stack until
     * LEAVE; the ops between run below it.  BLOCK stands for the blocking
     * call (a park, nothing else).  A SAFE between them is a safe point
     * inside the region (-EBUSY when something is pending). */
    IL_ENTER, IL_BLOCK, IL_LEAVE,
    /* du_proxy_serve (requester C, the proxy: its callbacks run for A). */
    IL_SERVE,
};
struct il_op {
    enum il_op_kind kind;
    int tracer;
};

/* What a tracer's callback does (on the requester that runs it). */
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
    /* Three-thread scenarios: C's prologue and script (threads = 3).  C
     * attaches after A, so C is ahead of A on the thread list (new threads
     * go to the head), and cancel's look reads C first. */
    struct il_op c_pre[4];
    struct il_op c[IL_MAX_OPS];
    int threads;                /* 0 or 2: A and B; 3: A, B and C */
    /* > 0: explore only schedules with at most this many preemptions (a
     * switch away from a thread that could have gone on); 0: all. */
    int preemptions;
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
    EV_CANCEL_RET, EV_REG, EV_SAFE_RET, EV_DETACH_RET, EV_CLEANUP,
    EV_ENTER_RET, EV_LEAVE_RET, EV_SERVE_RET
};
struct il_event {
    uint8_t thread, kind, depth;
    int16_t step;    /* EV_STEP: the step; EV_OP: the op index */
    int8_t tracer;   /* request, callback, cancel, register; B's steps: its op's tracer */
    int status;      /* return value */
    int ctx;         /* the logging thread's context number at the time */
    uint64_t cookie;
    uint32_t flags;  /* callback: trace flags; cancel: 1 in cleanup */
    uint8_t owner;   /* whose context: the thread, or for a proxy's callback
                      * (DU_TRACE_PROXY) the frozen thread it served; ctx is
                      * the owner's */
};

struct il_thr {
    pthread_t tid;
    pthread_cond_t cv; /* this thread waits here for its grant (or the run's end) */
    int idx;
    int pos, pos_arg;  /* parked at (step or IL_POS_*), and its argument */
    int in_section;    /* A: inside an RCU read-side section when parked */
    int parked, done, blocked;
    int depth;         /* hook nesting (nested requests do not park) */
    int attached;
    int ctx;           /* requester: context number (bumped at reset.done) */
    int req_tracer;    /* requester: tracer of its request in progress at depth 0, else -1 */
    int op_tracer;     /* the tracer of the op running */
    int wait_kind;     /* B: 1 request wait, 2 callback wait (from its last step) */
    int occ;           /* A: occurrences of the signal's step */
    int rounds;        /* requester: dispatch rounds in the current op */
    int cur_cb;        /* requester: tracer whose callback runs, -1 for none */
    int quiet;         /* running the prologue: no parking */
    int in_region;     /* A: between its du_frozen_enter and du_frozen_leave */
    int accepted;      /* requester: a request accepted in the current context */
    int waited;        /* A: parked at frozen.waiting in the current leave */
    int serving;       /* C: running du_proxy_serve (its callbacks are A's) */
    int claim;         /* C: holds A's claim (proxy.claimed .. proxy.released) */
    int proxy_cbs;     /* C: callbacks run in the current du_proxy_serve */
};

struct il_tracer_arg {
    struct il_run *run;
    int idx;
};

struct il_run {
    const struct il_scenario *sc;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the controller waits here for threads to park */
    int grant;         /* thread allowed to run, -1 none */
    int cleanup;       /* scripts over: free running, no more parking */
    int abandoned;     /* a wait timed out or deadlock: free running */
    int nthreads;      /* 2 (A, B) or 3 (A, B, C) */
    struct il_thr th[IL_MAX_THREADS];
    du_tracer *handle[IL_TRACERS];
    struct il_tracer_arg targ[IL_TRACERS];
    struct il_event ev[IL_MAX_EVENTS];
    int nev;
    int overlap;       /* B's cancel returned while a requester parked in another tracer's callback */
    int mode;          /* IL_MODE_*: FULL parks at every step (no invisible steps) */
    int known;         /* only the known dropped undercount */
    uint64_t outcome;  /* hash of what each thread saw (il_check.c) */
    char problem[1024];
    char known_msg[512];
};

/* The exploration state: persists across the runs of one scenario. */
struct il_dfs {
    uint8_t choice[IL_MAX_DECISIONS];
    uint8_t todo[IL_MAX_DECISIONS];  /* threads (bit per index) still to try here */
    uint8_t enabled[IL_MAX_DECISIONS];
    int n, forced;
    int frozen;                       /* no alternatives after a vain poll */
    unsigned sleep;                   /* threads asleep at this node (il_reduce.c) */
    int mode;                         /* IL_MODE_* */
    int redundant;                    /* this run reached a node covered elsewhere */
    int last, preempted;              /* the thread resumed last, preemptions so far */
    int bounded;                      /* this run hit the preemption bound somewhere */
};

/* il_sched.c */
void il_problem(struct il_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int il_log(struct il_run *r, int thread, int kind, int step, int tracer, int status,
           uint64_t cookie, uint32_t flags);
/* The same for an event of `thread` in `owner`'s context (a proxy's callback). */
int il_log_for(struct il_run *r, int thread, int owner, int kind, int step, int tracer, int status,
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
/* Whether thread t's pending segment from position tpos and thread u's
 * from upos commute. */
int il_independent(const struct il_run *r, int t, int tpos, int u, int upos);
/* Whether requester t's segment from tpos touches nothing any other thread
 * touches or sees (it need not be a decision). */
int il_invisible(const struct il_run *r, int t, int tpos, int targ);
/* il_check.c */
void il_check(struct il_run *r);
uint64_t il_outcome(const struct il_run *r);
/* il_scenarios.c */
const struct il_scenario *il_scenario_get(int i);
#endif
