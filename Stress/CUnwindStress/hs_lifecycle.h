/*
 * hs_lifecycle.h - the lifecycle scenarios: the harness attacks fork, exit,
 * dlopen/dlclose, siglongjmp out of du_request, and concurrent
 * register/cancel/destroy of one tracer.  Included by hs_internal.h.
 *
 *  fork-storm       hs_fork.c     workers and the registrar fork mid-run
 *  exit-pending     hs_exit.c     children request, then exit()
 *  dlopen-cycle     hs_dlopen.c   an exec'ed child dlopen/dlclose-cycles the .so
 *  longjmp-request  hs_longjmp.c  a jump signal abandons du_request mid-way
 *  tracer-churn     hs_churn.c    several threads cancel/destroy one tracer
 *  proxy            hs_proxy.c    workers block in frozen regions, proxy threads
 *                                 run their callbacks (du_proxy_serve)
 *
 * Children (hs_child.c) report through a table in shared memory: the child
 * writes its current step and, on a violation, the message and invariant,
 * then _exit(HS_CHILD_FAIL + invariant); the parent waits with a bound and
 * reports (a hang is invariant 8, a crash invariant 10).
 */
#ifndef HS_LIFECYCLE_H
#define HS_LIFECYCLE_H

#include <sys/types.h>

enum { LC_NONE, LC_FORK, LC_EXIT, LC_DLOPEN, LC_LONGJMP, LC_CHURN, LC_PROXY };

/* Invariants added by these scenarios (1..9: hs_check.c). */
enum { INV_CRASH = 10, INV_FORK = 11, INV_EXIT = 12 };

/* Counters (summed into the SUMMARY line and the JSON). */
enum {
    LCC_FORKS,         /* children forked by fork-storm */
    LCC_CHILD_OK,      /* children of any scenario that passed */
    LCC_CHILD_CBS,     /* callbacks checked inside fork-storm children */
    LCC_EXIT_CBS,      /* DU_TRACE_EXITING callbacks checked after exit() */
    LCC_DLOPEN_CYCLES, /* dlopen/dlclose cycles in children */
    LCC_LANDINGS,      /* siglongjmp landings out of the request loop */
    LCC_REPAIRS,       /* claim counters seen repaired by a safe point */
    LCC_CHURN_CALLS,   /* register/cancel/destroy calls by tracer-churn */
    LCC_SAME_TRACER,   /* cancel/destroy calls overlapping another on the same tracer */
    LCC_CB_CALLS,      /* register/cancel/destroy calls from inside callbacks */
    LCC_REUSED_MID,    /* bits given to a new tracer while a call on their old owner still ran */
    LCC_REGIONS,       /* frozen regions entered by workers (proxy) */
    LCC_PROXIED,       /* callbacks run by du_proxy_serve on a proxy thread */
    LCC_LEAVE_WAITS,   /* du_frozen_leave calls that waited for a proxy (returned 1) */
    LCC_REGION_SP,     /* safe points called by handlers inside a region (-EBUSY or 0) */
    LCC_N
};
extern _Atomic uint64_t hs_lc_count[LCC_N];
#define HS_LC_ADD(k, n) atomic_fetch_add_explicit(&hs_lc_count[k], (n), memory_order_relaxed)

/* ---- slices (hs_lifecycle.c) ------------------------------------------------ */
/* Check what the selected scenarios need (the .so for dlopen-cycle); 0 or 2. */
int hs_lc_prepare(const int *scen, int n);
void hs_lc_slice_start(int scen, int occurrence);
/* After workers, injectors and the registrar stopped: stop the drivers, wait
 * for every child, drop what the scenario registered. */
void hs_lc_slice_stop(void);
/* 1 if this build skips the scenario (TSan), with the reason printed once. */
int hs_lc_skipped(int lifecycle);

/* What a driver thread gets: its index (its hs_opslots entry) and seed. */
struct hs_lc_arg {
    int index;
    uint64_t seed;
};

/* Operations of driver threads, for the watchdog. */
#define HS_OPSLOTS 8
struct hs_opslot {
    _Atomic int op;
    _Atomic uint64_t start;
    char who[24];
};
extern struct hs_opslot hs_opslots[HS_OPSLOTS];
void hs_op_begin(struct hs_opslot *s, int op);
void hs_op_end(struct hs_opslot *s);

/* ---- children (hs_child.c) ------------------------------------------------- */
#define HS_CHILD_FAIL 100 /* exit status base: 100 + invariant */
#define HS_NCHILD 48
enum { CH_FREE, CH_FORKING, CH_MONITORED, CH_OWNED };
struct hs_child {
    _Atomic int state;  /* CH_*: parent's bookkeeping */
    pid_t pid;
    int kind;           /* LC_* */
    uint64_t start_ns;
    char who[48];       /* who forked it */
    /* written by the child */
    char step[64];      /* where it is, for a hang report */
    int inv;            /* invariant it reports violated */
    char msg[768];
};
extern int hs_in_child;                /* 1 in a forked child (single thread) */
extern struct hs_child *hs_child_me;   /* the child's own table entry */
int hs_children_init(void);
/* Fork; in the child returns 0 (hs_in_child set), in the parent the pid, or
 * -1 when the table is full or fork failed.  monitored: the monitor thread
 * waits for it; else the caller does (hs_child_wait). */
pid_t hs_child_fork(int kind, const char *who, int monitored, struct hs_child **out);
/* For an exec'ed child (posix_spawn): reserve an entry, then publish the pid. */
struct hs_child *hs_child_reserve(int kind, const char *who);
void hs_child_publish(struct hs_child *c, pid_t pid, int monitored);
void hs_child_step(const char *step);
/* raise(sig) in a child; under TSan the handler is called directly: TSan
 * ignores interceptors in a child of a multi-threaded fork and never
 * delivers its asynchronous signals. */
void hs_child_raise(int sig, void (*handler)(int));
__attribute__((noreturn, format(printf, 2, 3))) void hs_child_fail(int inv, const char *fmt, ...);
/* Parent: wait for an owned child with the bound; report unless it exits
 * with `expect`.  Returns the wait status. */
int hs_child_wait(struct hs_child *c, int expect);
void *hs_child_monitor_main(void *arg);
/* Wait for every child (the bound applies); kill every child (reports). */
void hs_children_wait_all(void);
void hs_children_kill_all(void);
uint64_t hs_child_bound_ns(void);

/* ---- the scenarios ------------------------------------------------------------ */
void hs_fork_worker(struct hs_worker *w);           /* hs_fork.c: from hs_leaf */
void hs_fork_registrar(void);                       /* hs_fork.c: from the registrar */
extern void (*hs_child_cb_hook)(uint64_t id, uint64_t cookie, const struct du_trace *t);
void *hs_exit_driver_main(void *arg);               /* hs_exit.c */
void *hs_dlopen_driver_main(void *arg);             /* hs_dlopen.c */
int hs_dlopen_find(char *path, size_t len);         /* the .so next to /proc/self/exe */
void hs_lj_install(void);                           /* hs_longjmp.c: its two handlers */
void *hs_lj_injector_main(void *arg);
void hs_lj_worker_start(struct hs_worker *w);       /* register the worker's own tracer */
void hs_lj_before_safe_point(struct hs_worker *w);
void hs_lj_after_safe_point(struct hs_worker *w);
void hs_lj_worker_exit(struct hs_worker *w);        /* cancel it before the thread goes */
void hs_lj_worker_detached(struct hs_worker *w);    /* or after detach repaired the counter */
void *hs_churn_main(void *arg);                     /* hs_churn.c */
void hs_churn_from_callback(struct hs_worker *w, uint64_t r);
void hs_churn_drain(void);
void *hs_proxy_main(void *arg);                     /* hs_proxy.c: a proxy thread */
/* hs_leaf, proxy scenario: whether this context has a frozen region (0: no,
 * else the draw for hs_frozen_block); hs_leaf calls hs_frozen_block itself,
 * so the frozen frames are hs_frozen_block, hs_leaf, the recursion. */
uint64_t hs_proxy_region_draw(struct hs_worker *w);
int hs_frozen_block(struct hs_worker *w, uint64_t r);
/* A stress handler on w inside its region: sometimes a safe point (-EBUSY
 * or 0).  accepted: the handler's own requests had one accepted. */
void hs_proxy_handler(struct hs_worker *w, int depth, int accepted);
/* hs_callback on a thread that is no worker: the proxy's target, or NULL
 * (not a proxy thread). */
struct hs_worker *hs_proxy_target(uint64_t id, uint64_t cookie, const struct du_trace *t);
/* The thread: the proxies' callbacks of the ended context into w->cbs. */
void hs_proxy_merge(struct hs_worker *w);
/* hs_callback: a DU_TRACE_PROXY trace's frames (1 ok, else why). */
int hs_proxy_trace_ok(struct hs_worker *w, const struct du_trace *trace, char *why, size_t whylen);
extern HS_IE_TLS int hs_proxy_me; /* 1 + proxy index on proxy threads, else 0 */
/* Crash handler (hs_report.c): a fatal signal in the harness is invariant
 * 10 with the replay line; in a child it kills the child (the parent reports). */
void hs_crash_install(void);
void hs_crash_prepare(void);

#endif
