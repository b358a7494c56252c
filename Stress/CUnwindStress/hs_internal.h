/*
 * hs_internal.h - shared state of the stress harness.
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
 *  - proxies (scenario proxy, hs_proxy.c): attached threads looping on
 *    du_proxy_serve(); their callbacks are the frozen worker's.
 *  - watchdog: invariant 8.
 *  - main: status line, thread churn (join + respawn), slices.
 *
 * Signal-path rules (hs_signal.c): no locks, no malloc, no stdio, errno
 * saved and restored, initial-exec TLS only, lock-free atomics only.
 */
#ifndef HS_INTERNAL_H
#define HS_INTERNAL_H

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

#define HS_IE_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HS_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(HS_TSAN)
#define HS_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(HS_ASAN)
#define HS_ASAN 1
#endif

/* ---- the library under test: a function table chosen at startup -------- */
struct hs_api {
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
    /* frozen regions and proxy safe points (proxy scenario, hs_proxy.c) */
    int (*frozen_enter)(void);
    int (*frozen_leave)(void);
    int (*proxy_serve)(void);
};
/* The duv_ copies of proxy.c's entry points (rename.h), which
 * deferred_unwind_variants.h does not declare. */
int duv_frozen_enter(void);
int duv_frozen_leave(void);
int duv_proxy_serve(void);
extern const struct hs_api hs_api_du, hs_api_duv;
/* Written by the main thread before any other thread exists; read-only after. */
extern const struct hs_api *hs_api;

/* ---- scenario knobs -------------------------------------------------------- */
enum { HS_REG_STATIC, HS_REG_CHURN, HS_REG_FULL, HS_REG_REUSE };
struct hs_scenario {
    const char *name;
    const char *desc;
    uint32_t timer_us;     /* per-worker POSIX timer period; 0: none */
    uint32_t inject_us;    /* injector pause (random 0..2x); 0: no injectors */
    uint32_t migrate_us;   /* migrator pause; 0: no migrator */
    int reg_mode;          /* HS_REG_* */
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
    /* lifecycle scenarios (hs_lifecycle.h) */
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
extern const struct hs_scenario hs_scenarios[];
extern const int hs_nscenarios;
/* The scenario running now (the main thread switches between slices, when
 * no other harness thread runs). */
extern const struct hs_scenario *hs_cur;

/* ---- tracer records ---------------------------------------------------------
 * A record describes one registered tracer instance.  arg of the callback is
 * the instance id (never a pointer), so a callback can tell whether its
 * instance is still the record's. */
#define HS_POOL 4096
#define HS_CSEQ 262144 /* cancel records (hs_cancelrec.c): one per registration, reused this many later */
/* Records [0, HS_REG_POOL) are the registrar's; the rest are tracer-churn's
 * (hs_churn.c), which several threads and callbacks share. */
#define HS_REG_POOL (HS_POOL / 2)
enum { HS_ST_FREE, HS_ST_LIVE, HS_ST_CANCELLING, HS_ST_CANCELLED, HS_ST_RESERVED };
struct hs_rec {
    _Atomic uint64_t id;     /* instance id (0: none) */
    _Atomic int state;       /* HS_ST_FREE.. ; HS_ST_CANCELLED = poisoned */
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
extern struct hs_rec hs_pool[HS_POOL];
/* hs_cancelrec.c: a new instance's id (serial * HS_POOL + record idx), the
 * stamp of its cancel's beginning, and the lookup (1 known, 0 unknown: its
 * entry was reused HS_CSEQ registrations later; never judged, counted). */
uint64_t hs_instance_id(int idx);
void hs_cancel_began(uint64_t id);
int hs_cancel_of(uint64_t id, uint64_t *seq);
extern _Atomic uint64_t hs_total_unjudged;
extern _Atomic uint64_t hs_total_held;
extern _Atomic uint64_t hs_cancel_clock;        /* global cancel sequence */
/* active[bit] = record index + 1, or 0. */
extern _Atomic int hs_active[64];

#include "hs_worker_log.h" /* struct hs_req, hs_cb, hs_worker */

/* ---- signal side (hs_signal.c) ---------------------------------------------- */
extern int hs_sig_a, hs_sig_b;
/* longjmp-request's outer and jump signals, and the one a child raises. */
extern int hs_sig_outer, hs_sig_jump, hs_sig_child;
int hs_install_handlers(void);
/* Request for a tracer picked by rng, log it.  Thread context or handler. */
void hs_request_some(struct hs_worker *w, int n, int depth, uint8_t flags);
/* One pick of a request loop (hs_signal.c): the draw, the tracer of the
 * picked bit (NULL if none) and its record's id and state. */
struct hs_pick {
    uint64_t r, id;
    du_tracer *t;
    int st;
};
int hs_pick_begin(struct hs_worker *w, uint64_t *rng, int span, struct hs_pick *p);
void hs_pick_end(struct hs_worker *w);
/* Log one request made by the caller: usable in any context. */
void hs_log_request(struct hs_worker *w, uint64_t id, uint64_t cookie, int status, uint8_t flags,
                    int depth);
uint64_t hs_rng_next(uint64_t *s);
/* A stress handler's entry on worker w (hs_signal.c, hs_longjmp.c): counts the
 * signal, and the nesting when it interrupted another handler; returns the
 * handler depth, 1 when not nested.  The handler undoes the depth on its way
 * out.  Async-signal-safe: relaxed atomics on the worker, nothing else. */
static inline int hs_handler_enter(struct hs_worker *w)
{
    int d = atomic_fetch_add_explicit(&w->hdepth, 1, memory_order_relaxed) + 1;
    atomic_fetch_add_explicit(&w->n_sig, 1, memory_order_relaxed);
    if (d > 1)
        atomic_fetch_add_explicit(&w->n_nested, 1, memory_order_relaxed);
    return d;
}
/* One du_request answer on worker w, from any context (hs_request_some, the
 * longjmp scenario's loop): counts it, and counts it accepted when ret >= 0.
 * Async-signal-safe: relaxed atomics on the worker, nothing else. */
static inline void hs_count_request(struct hs_worker *w, int ret)
{
    atomic_fetch_add_explicit(&w->n_req, 1, memory_order_relaxed);
    if (ret >= 0)
        atomic_fetch_add_explicit(&w->n_acc, 1, memory_order_relaxed);
}

/* ---- helpers (hs_worker.c) ------------------------------------------------------ */
uint64_t hs_now_ns(void);
void hs_pause_us(uint32_t us);
extern _Atomic int hs_stop;        /* slice must stop */
extern _Atomic int hs_violations;
extern _Atomic uint64_t hs_total_cancels, hs_total_registers, hs_total_ebusy, hs_total_spawns;

/* ---- workers, callback, checker (hs_worker.c, hs_callback.c, hs_check.c) ------- */
extern pthread_key_t hs_exit_key;
int hs_make_exit_key(void);
void *hs_worker_main(void *arg);
void hs_check_exited(struct hs_worker *w);
void hs_callback(const struct du_trace *trace, uint64_t cookie, void *arg);
void hs_check_context(struct hs_worker *w, const struct hs_req *E, uint32_t n, int exiting,
                      uint64_t S, uint64_t ctxid);
void hs_cookies_reset(void);
uint64_t hs_mix(uint64_t x);
const char *hs_status_name(int s);
const char *hs_phase_name(int p);

/* ---- run state (written by the main thread between slices; hs_run.c) ----------- */
extern const struct hs_config *hs_cfg;
extern uint64_t hs_t0;
extern int hs_cur_index;           /* index of hs_cur in hs_scenarios */
extern const char *hs_phase_label; /* "" or the half of scenario 16 */
extern _Atomic int hs_reg_stop, hs_aux_stop;
extern uint64_t hs_bound_ns;       /* watchdog bound (invariant 8) */
extern int hs_tsan_scale;          /* pauses x this under TSan */
extern int hs_load_scale;          /* signal periods x this: threads per CPU, x4 under TSan */
extern int hs_tty;

/* ---- statistics and reports (hs_report.c, hs_json.c) ---------------------------- */
struct hs_totals {
    uint64_t req, acc, sig, nested, ctx, cb, skip, exits, nomem, exiting_cb, deadlk;
    uint64_t cancels, registers, ebusy, spawns;
    uint64_t lc[16]; /* hs_lc_count (LCC_*) */
};
struct hs_sstat {
    int slices;
    double seconds;
    struct hs_totals t;
};
extern struct hs_sstat hs_sstats[HS_MAX_SCENARIOS];
extern double hs_ratio, hs_rcu_cbps, hs_mutex_cbps;
extern char hs_ratio_note[128];
extern char hs_first_violation[2048];
void hs_sum(struct hs_totals *t);
void hs_diff(struct hs_totals *acc, const struct hs_totals *a, const struct hs_totals *b);
double hs_elapsed(void);
void hs_status(int force);
void hs_print_summary(void);
void hs_write_json(const char *result);
/* Report a violation (thread context only): prints, writes JSON, exits 1. */
__attribute__((noreturn, format(printf, 2, 3))) void hs_violation(int invariant,
                                                                 const char *fmt, ...);
/* Environment error: prints, exits 2. */
__attribute__((noreturn, format(printf, 1, 2))) void hs_fatal(const char *fmt, ...);

/* ---- registrar (hs_registrar.c) --------------------------------------------------- */
extern uint64_t hs_reg_rng;
void *hs_registrar_main(void *arg);
void hs_fill(int target);
/* Slice end, no worker left: cancel every registered tracer, free them all. */
void hs_registrar_drain(void);
void hs_registrar_dump(void);
int hs_registrar_op(uint64_t *start);

/* ---- injectors, migrator, watchdog, slices ---------------------------------------- */
struct hs_worker *hs_target_get(uint64_t r);
void hs_target_put(struct hs_worker *w);
void *hs_injector_main(void *arg);
void *hs_migrator_main(void *arg);
extern _Atomic int hs_wd_stop;
void *hs_watchdog_main(void *arg);
const char *hs_op_name(int op);
uint64_t hs_slice_seed(int scen, int occurrence, int salt);
void hs_run_slice(int scen, int occurrence, double seconds, const struct hs_api *api);
int hs_variant_default(const char *variant, int *out);

#include "hs_lifecycle.h"

#endif
