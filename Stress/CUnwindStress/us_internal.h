/*
 * us_internal.h - shared state of the stress harness.
 *
 * Threads:
 *  - workers (slots 0..threads-1): attached threads looping over entry
 *    contexts; they log every request (their own and their handlers') into a
 *    per-slot ring and check each context at the safe point that ends it.
 *    A worker may exit (detach or plain thread exit) with requests pending;
 *    the main thread joins it, checks its last context and starts a new
 *    thread in the slot.
 *  - injectors: pthread_kill() random live workers (liveness protocol below).
 *  - per-worker POSIX timers (SIGEV_THREAD_ID): high-rate ticks.
 *  - migrator: sched_setaffinity() on live workers.
 *  - registrar: registers and cancels tracers; frees a cancelled tracer only
 *    when no handler/callback/request of any worker can still hold it.
 *  - watchdog: invariant 8.
 *  - main: status line, thread churn (join + respawn), slices.
 *
 * Signal-path rules (us_signal.c): no locks, no malloc, no stdio, errno
 * saved and restored, initial-exec TLS only, lock-free atomics only.
 */
#ifndef US_INTERNAL_H
#define US_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "deferred_unwind_variants.h"
#include "include/unwind_stress.h"

#define US_IE_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define US_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(US_TSAN)
#define US_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define US_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(US_ASAN)
#define US_ASAN 1
#endif

/* ---- the library under test: a function table chosen at startup -------- */
struct us_api {
    const char *name; /* "du" or "duv:<variant>" */
    int (*attach)(void);
    int (*detach)(void);
    int (*is_attached)(void);
    int (*reg)(du_callback, void *, const char *, du_tracer **);
    int (*cancel)(du_tracer *);
    int (*destroy)(du_tracer *);
    int (*bit)(const du_tracer *);
    int (*request)(du_tracer *, uint64_t *);
    int (*safe_point)(void);
    uint64_t (*current_cookie)(void);
    void (*seed)(uint32_t);        /* process-wide counters (before workers start) */
    void (*seed_thread)(uint32_t); /* the calling worker's context counter */
    uint32_t (*claim_depth)(void); /* du_request calls in progress on this thread */
};
extern const struct us_api us_api_du, us_api_duv;
/* Written by the main thread before any other thread exists; read-only after. */
extern const struct us_api *us_api;

/* ---- scenario knobs -------------------------------------------------------- */
enum { US_REG_STATIC, US_REG_CHURN, US_REG_FULL, US_REG_REUSE };
struct us_scenario {
    const char *name;
    const char *desc;
    uint32_t timer_us;     /* per-worker POSIX timer period; 0: none */
    uint32_t inject_us;    /* injector pause (random 0..2x); 0: no injectors */
    uint32_t migrate_us;   /* migrator pause; 0: no migrator */
    int reg_mode;          /* US_REG_* */
    uint32_t reg_us;       /* registrar pause */
    int tracers;           /* live tracers the registrar aims for */
    int cb_sleep_pct, cb_yield_pct, cb_rereq_pct, cb_deadlk_pct;
    uint32_t cb_sleep_us;
    int thread_reqs;       /* thread-context requests per context: 0..n */
    int ctx_sleep_pct;     /* percent of contexts that sleep before the safe point */
    uint32_t ctx_sleep_us;
    uint32_t ctx_spin;     /* spin iterations before the safe point, 0..n */
    int churn;             /* mean contexts before a worker exits; 0: never */
    int seed_wrap;         /* start cookie counters near the wrap */
    int handler_reqs;      /* requests per handler: 1..n */
    int hot_tracers;       /* handlers pick among this many tracers; 0: all */
    int throughput;        /* scenario 16 */
    /* lifecycle scenarios (us_lifecycle.h) */
    int lifecycle;         /* LC_*: the attack this slice adds; 0: none */
    int fork_every;        /* fork-storm: a worker forks once per ~this many contexts,
                              the registrar once per ~this/20 rounds */
    int lc_threads;        /* driver threads of the lifecycle attack */
    uint32_t lc_us;        /* their pause (random 0..2x) */
    /* held-request: a handler that interrupts a thread-context du_request
     * parks this long (the request stays in flight; cancels must wait). */
    uint32_t park_us;
    /* cancel-record-lag: one context in hold_every keeps its requests open
     * until this many registrations happened (bounded in time). */
    uint32_t hold_regs, hold_every;
};
extern const struct us_scenario us_scenarios[];
extern const int us_nscenarios;
/* The scenario running now (the main thread switches between slices, when
 * no other harness thread runs). */
extern const struct us_scenario *us_cur;

/* ---- tracer records ---------------------------------------------------------
 * A record describes one registered tracer instance.  arg of the callback is
 * the instance id (never a pointer), so a callback can tell whether its
 * instance is still the record's. */
#define US_POOL 4096
#define US_CSEQ 262144 /* cancel records (us_cancelrec.c): one per registration, reused this many later */
/* Records [0, US_REG_POOL) are the registrar's; the rest are tracer-churn's
 * (us_churn.c), which several threads and callbacks share. */
#define US_REG_POOL (US_POOL / 2)
enum { US_ST_FREE, US_ST_LIVE, US_ST_CANCELLING, US_ST_CANCELLED, US_ST_RESERVED };
struct us_rec {
    _Atomic uint64_t id;     /* instance id (0: none) */
    _Atomic int state;       /* US_ST_FREE.. ; US_ST_CANCELLED = poisoned */
    _Atomic(du_tracer *) t;
    int bit;
    int sleep, yield, rereq, deadlk; /* callback behaviours */
    /* tracer-churn records only: calls in progress on the record (Dekker with
     * the reuse: users++ then state, vs state = RESERVED then users), cancels
     * that answered 0, and the record's generation (its instance ids) */
    _Atomic int users, cancel0;
    uint64_t gen;
    /* registrar-only bookkeeping for deferred free */
    uint64_t limbo_enter[64]; /* per-slot handler entry counts at removal */
};
extern struct us_rec us_pool[US_POOL];
/* us_cancelrec.c: a new instance's id (serial * US_POOL + record idx), the
 * stamp of its cancel's beginning, and the lookup (1 known, 0 unknown: its
 * entry was reused US_CSEQ registrations later; never judged, counted). */
uint64_t us_instance_id(int idx);
void us_cancel_began(uint64_t id);
int us_cancel_of(uint64_t id, uint64_t *seq);
extern _Atomic uint64_t us_total_unjudged;
extern _Atomic uint64_t us_total_held;
extern _Atomic uint64_t us_cancel_clock;        /* global cancel sequence */
/* active[bit] = record index + 1, or 0. */
extern _Atomic int us_active[64];

/* ---- per-worker logs -------------------------------------------------------- */
enum { PH_RUN = 1, PH_SP, PH_EXIT };
enum { RF_HANDLER = 1, RF_CB = 2, RF_SAW_CANCELLED = 4, RF_THREAD = 8, RF_REPBAD = 16 };
/* Status of an entry logged before a du_request() that a siglongjmp may
 * abandon (longjmp-request): the request may or may not have been accepted,
 * so the entry permits one callback but requires none.  RF_REPBAD: a repeat
 * of the request in the same handler answered other than 1/-ECANCELED or got
 * another cookie. */
#define US_ST_INFLIGHT INT32_MIN
/* A ring slot a siglongjmp abandoned before it was written: ignored. */
#define US_ST_VOID (INT32_MIN + 1)
struct us_req {
    uint64_t ctx;
    uint64_t cookie;
    uint64_t id;
    int32_t status;
    uint8_t phase;
    uint8_t depth;
    uint8_t flags;
    uint8_t sig;
};
#define US_RING 16384u
#define US_RING_MARGIN 64u
struct us_cb {
    uint64_t id;
    uint64_t cookie;
    uint32_t tflags; /* trace flags */
    uint16_t phase;
    uint16_t bad;    /* US_BAD_* found in the callback */
    uint32_t nr;
};
enum { US_BAD_TRACE = 1, US_BAD_POISON = 2 };
#define US_CBMAX 4096
#define US_MAXDEPTH 24

struct us_worker {
    /* identity and liveness */
    int slot;
    _Atomic uint64_t gen;
    pthread_t thread;      /* written by the worker itself (injectors read it) */
    pthread_t pt;          /* main's copy from pthread_create (join) */
    pid_t tid;
    _Atomic int alive;     /* injectors/migrator may target the thread */
    _Atomic int inflight;  /* injectors/migrator between their alive check and the call */
    _Atomic int finished;  /* thread function and destructors done, ready to join */
    int running;           /* main: a pthread exists for this slot (to join) */
    timer_t timer[2];
    int has_timer;
    int exit_mode;

    /* the worker's context, read by its handlers (same thread) */
    _Atomic uint64_t ctx;
    _Atomic int phase;
    _Atomic int hdepth;
    uint64_t hrng[4];       /* one RNG per nesting level: 0 thread, 1..3 handlers */
    uintptr_t expect[US_MAXDEPTH + 2];
    int depth;
    int leaf_kind;

    /* request ring: producers are the thread and its handlers; consumer the thread */
    _Atomic uint32_t tail;
    _Atomic uint32_t head;
    struct us_req ring[US_RING];
    struct us_req carry[US_RING];
    uint32_t ncarry;
    struct us_req batch[2 * US_RING]; /* the checker's scratch */
    struct us_cb cbs[US_CBMAX];
    uint64_t itab[2048 * 5]; /* checker scratch (struct us_inst[2048]) */
    uint32_t iused[2048];
    uint32_t ncb;
    int cb_overflow;
    int in_cb;

    /* reference counting for deferred tracer free (monotonic across generations) */
    _Atomic uint64_t h_enter, h_exit;

    /* longjmp-request (us_longjmp.c): the outer handler's landing pad */
    sigjmp_buf lj_pad;
    _Atomic int lj_armed;       /* the outer handler's request loop runs: a jump may land */
    uint64_t lj_base;           /* h_enter - h_exit when the outer handler began */
    uint32_t lj_wtail;          /* the ring slot the outer handler is writing ... */
    int lj_writing;             /* ... while this is 1 (a landing voids it if reserved) */
    _Atomic uint64_t lj_landed; /* landings so far (the thread compares around safe points) */
    uint64_t lj_checked, lj_seen;
    int lj_expect_repair;
    du_tracer *lj_own;          /* the worker's own tracer, for cancel on this thread */

    /* watchdog */
    _Atomic int op;
    _Atomic uint64_t op_start;
    _Atomic uint64_t ctx_count_gen; /* contexts of this generation */

    /* counters (monotonic; summed by the status thread) */
    _Atomic uint64_t n_req, n_acc, n_sig, n_nested, n_ctx, n_cb, n_skip, n_exits,
        n_nomem, n_exiting_cb, n_deadlk;

    /* held-request: the thread-context request in progress (its instance
     * id, 0 none) and whether a handler parked on it saw that instance's
     * cancel return.  Thread and its handlers only. */
    _Atomic uint64_t inreq_id;
    _Atomic int inreq_saw_cancel;
} __attribute__((aligned(64)));

extern struct us_worker *us_workers;
extern int us_nworkers;
extern US_IE_TLS struct us_worker *us_self;

enum { US_OP_NONE, US_OP_SAFEPOINT, US_OP_DETACH, US_OP_CANCEL, US_OP_REGISTER, US_OP_EXIT, US_OP_DESTROY, US_OP_FORK, US_OP_WAIT };

/* ---- signal side (us_signal.c) ---------------------------------------------- */
extern int us_sig_a, us_sig_b;
/* longjmp-request's outer and jump signals, and the one a child raises. */
extern int us_sig_outer, us_sig_jump, us_sig_child;
int us_install_handlers(void);
/* Request for a tracer picked by rng, log it.  Thread context or handler. */
void us_request_some(struct us_worker *w, int n, int depth, uint8_t flags);
/* One pick of a request loop (us_signal.c): the draw, the tracer of the
 * picked bit (NULL if none) and its record's id and state. */
struct us_pick {
    uint64_t r, id;
    du_tracer *t;
    int st;
};
int us_pick_begin(struct us_worker *w, uint64_t *rng, int span, struct us_pick *p);
void us_pick_end(struct us_worker *w);
/* Log one request made by the caller: usable in any context. */
void us_log_request(struct us_worker *w, uint64_t id, uint64_t cookie, int status, uint8_t flags,
                    int depth);
uint64_t us_rng_next(uint64_t *s);

/* ---- helpers (us_worker.c) ------------------------------------------------------ */
uint64_t us_now_ns(void);
void us_pause_us(uint32_t us);
extern _Atomic int us_stop;        /* slice must stop */
extern _Atomic int us_violations;
extern _Atomic uint64_t us_total_cancels, us_total_registers, us_total_ebusy, us_total_spawns;

/* ---- workers, callback, checker (us_worker.c, us_callback.c, us_check.c) ------- */
extern pthread_key_t us_exit_key;
int us_make_exit_key(void);
void *us_worker_main(void *arg);
void us_check_exited(struct us_worker *w);
void us_callback(const struct du_trace *trace, uint64_t cookie, void *arg);
void us_check_context(struct us_worker *w, const struct us_req *E, uint32_t n, int exiting,
                      uint64_t S, uint64_t ctxid);
void us_cookies_reset(void);
uint64_t us_mix(uint64_t x);
const char *us_status_name(int s);
const char *us_phase_name(int p);

/* ---- run state (written by the main thread between slices; us_run.c) ----------- */
extern const struct us_config *us_cfg;
extern uint64_t us_t0;
extern int us_cur_index;           /* index of us_cur in us_scenarios */
extern const char *us_phase_label; /* "" or the half of scenario 16 */
extern _Atomic int us_reg_stop, us_aux_stop;
extern uint64_t us_bound_ns;       /* watchdog bound (invariant 8) */
extern int us_tsan_scale;          /* pauses x this under TSan */
extern int us_load_scale;          /* signal periods x this: threads per CPU, x4 under TSan */
extern int us_tty;

/* ---- statistics and reports (us_report.c, us_json.c) ---------------------------- */
struct us_totals {
    uint64_t req, acc, sig, nested, ctx, cb, skip, exits, nomem, exiting_cb, deadlk;
    uint64_t cancels, registers, ebusy, spawns;
    uint64_t lc[16]; /* us_lc_count (LCC_*) */
};
struct us_sstat {
    int slices;
    double seconds;
    struct us_totals t;
};
extern struct us_sstat us_sstats[US_MAX_SCENARIOS];
extern double us_ratio, us_rcu_cbps, us_mutex_cbps;
extern char us_ratio_note[128];
extern char us_first_violation[2048];
void us_sum(struct us_totals *t);
void us_diff(struct us_totals *acc, const struct us_totals *a, const struct us_totals *b);
double us_elapsed(void);
void us_status(int force);
void us_print_summary(void);
void us_write_json(const char *result);
/* Report a violation (thread context only): prints, writes JSON, exits 1. */
__attribute__((noreturn, format(printf, 2, 3))) void us_violation(int invariant,
                                                                 const char *fmt, ...);
/* Environment error: prints, exits 2. */
__attribute__((noreturn, format(printf, 1, 2))) void us_fatal(const char *fmt, ...);

/* ---- registrar (us_registrar.c) --------------------------------------------------- */
extern uint64_t us_reg_rng;
void *us_registrar_main(void *arg);
void us_fill(int target);
/* Slice end, no worker left: cancel every registered tracer, free them all. */
void us_registrar_drain(void);
void us_registrar_dump(void);
int us_registrar_op(uint64_t *start);

/* ---- injectors, migrator, watchdog, slices ---------------------------------------- */
struct us_worker *us_target_get(uint64_t r);
void us_target_put(struct us_worker *w);
void *us_injector_main(void *arg);
void *us_migrator_main(void *arg);
extern _Atomic int us_wd_stop;
void *us_watchdog_main(void *arg);
const char *us_op_name(int op);
uint64_t us_slice_seed(int scen, int occurrence, int salt);
void us_run_slice(int scen, int occurrence, double seconds, const struct us_api *api);
int us_variant_default(const char *variant, int *out);

#include "us_lifecycle.h"

#endif
