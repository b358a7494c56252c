/*
 * us_run.c - the run: slices of scenarios, registrar, injectors, migrator,
 * watchdog (invariant 8), thread churn, status line, summary, JSON, and the
 * violation report with its replay command line.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "us_internal.h"

struct us_rec us_pool[US_POOL];
_Atomic uint64_t us_cancel_seq[US_CSEQ];
_Atomic uint64_t us_cancel_clock;
_Atomic int us_active[64];
struct us_worker *us_workers;
int us_nworkers;
_Atomic int us_stop;
_Atomic int us_violations;
_Atomic uint64_t us_total_cancels, us_total_registers, us_total_ebusy, us_total_spawns;

extern pthread_key_t us_exit_key;
int us_make_exit_key(void);
void *us_worker_main(void *arg);
void us_check_exited(struct us_worker *w);
void us_callback(const struct du_trace *trace, uint64_t cookie, void *arg);
void us_cookies_reset(void);
void us_pause_us(uint32_t us);

static const struct us_config *us_cfg;
static uint64_t us_t0;
static int us_cur_index;
static const char *us_phase_label = "";
static _Atomic int us_reg_stop, us_aux_stop;
static _Atomic int us_reg_op;
static _Atomic uint64_t us_reg_op_start;
static uint64_t us_bound_ns;
static int us_tsan_scale = 1;
int us_load_scale = 1; /* signal periods x this: threads per CPU, x4 under TSan */

/* ---- statistics --------------------------------------------------------------- */
struct us_totals {
    uint64_t req, acc, sig, nested, ctx, cb, skip, exits, nomem, exiting_cb, deadlk;
    uint64_t cancels, registers, ebusy, spawns;
};
struct us_sstat {
    int slices;
    double seconds;
    struct us_totals t;
};
static struct us_sstat us_sstats[US_MAX_SCENARIOS];
static double us_ratio = -1, us_rcu_cbps = 0, us_mutex_cbps = 0;
static char us_ratio_note[128] = "";

static void us_sum(struct us_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < us_nworkers; i++) {
        struct us_worker *w = &us_workers[i];
#define A(f, g) t->f += atomic_load_explicit(&w->g, memory_order_relaxed)
        A(req, n_req); A(acc, n_acc); A(sig, n_sig); A(nested, n_nested); A(ctx, n_ctx);
        A(cb, n_cb); A(skip, n_skip); A(exits, n_exits); A(nomem, n_nomem);
        A(exiting_cb, n_exiting_cb); A(deadlk, n_deadlk);
#undef A
    }
    t->cancels = atomic_load(&us_total_cancels);
    t->registers = atomic_load(&us_total_registers);
    t->ebusy = atomic_load(&us_total_ebusy);
    t->spawns = atomic_load(&us_total_spawns);
}

static void us_diff(struct us_totals *acc, const struct us_totals *a, const struct us_totals *b)
{
    uint64_t *pa = (uint64_t *)acc;
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof(*acc) / sizeof(uint64_t); i++)
        pa[i] += y[i] - x[i];
}

static double us_elapsed(void) { return (double)(us_now_ns() - us_t0) / 1e9; }

/* ---- replay command, JSON, violation --------------------------------------- */
static void us_replay(char *buf, size_t len)
{
    int n = snprintf(buf, len, "swift run -c release unwind-stress --scenario %s", us_scenarios[us_cur_index].name);
    if (us_cfg->variant)
        n += snprintf(buf + n, len - (size_t)n, " --variant %s", us_cfg->variant);
    snprintf(buf + n, len - (size_t)n, " --seed %llu --threads %d --duration %g",
             (unsigned long long)us_cfg->seed, us_cfg->threads, us_cfg->duration);
}

static char us_first_violation[2048];

static void us_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void us_write_json(const char *result)
{
    if (!us_cfg || !us_cfg->json_path)
        return;
    FILE *f = fopen(us_cfg->json_path, "w");
    if (!f) {
        fprintf(stderr, "unwind-stress: cannot write %s: %s\n", us_cfg->json_path, strerror(errno));
        return;
    }
    struct us_totals t;
    us_sum(&t);
    double el = us_elapsed();
    fprintf(f, "{\n  \"tool\": \"unwind-stress\",\n  \"library\": ");
    us_json_str(f, us_cfg->variant ? "duv" : "du");
    fprintf(f, ",\n  \"variant\": ");
    us_json_str(f, us_cfg->variant ? us_cfg->variant : "none");
    fprintf(f, ",\n  \"seed\": %llu,\n  \"threads\": %d,\n  \"duration\": %.3f,\n  \"elapsed\": %.3f,\n",
            (unsigned long long)us_cfg->seed, us_cfg->threads, us_cfg->duration, el);
    fprintf(f, "  \"result\": \"%s\",\n", result);
    fprintf(f, "  \"throughput\": {\"requests_per_s\": %.0f, \"contexts_per_s\": %.0f, \"signals_per_s\": %.0f, "
               "\"callbacks_per_s\": %.0f",
            t.req / el, t.ctx / el, t.sig / el, t.cb / el);
    if (us_ratio >= 0)
        fprintf(f, ", \"rcu_callbacks_per_s\": %.0f, \"mutex_callbacks_per_s\": %.0f, \"rcu_over_mutex\": %.3f",
                us_rcu_cbps, us_mutex_cbps, us_ratio);
    fprintf(f, "},\n  \"scenarios\": [\n");
    int firstp = 1;
    for (int i = 0; i < us_nscenarios; i++) {
        struct us_sstat *s = &us_sstats[i];
        if (!s->slices)
            continue;
        fprintf(f, "%s    {\"name\": \"%s\", \"slices\": %d, \"seconds\": %.3f, \"contexts\": %llu, \"requests\": %llu, "
                   "\"accepted\": %llu, \"signals\": %llu, \"nested_signals\": %llu, \"callbacks\": %llu, "
                   "\"exiting_callbacks\": %llu, \"cancels\": %llu, \"registers\": %llu, \"ebusy\": %llu, "
                   "\"thread_spawns\": %llu, \"thread_exits\": %llu, \"deadlk_checks\": %llu, \"skipped_requests\": %llu",
                firstp ? "" : ",\n", us_scenarios[i].name, s->slices, s->seconds,
                (unsigned long long)s->t.ctx, (unsigned long long)s->t.req, (unsigned long long)s->t.acc,
                (unsigned long long)s->t.sig, (unsigned long long)s->t.nested, (unsigned long long)s->t.cb,
                (unsigned long long)s->t.exiting_cb, (unsigned long long)s->t.cancels,
                (unsigned long long)s->t.registers, (unsigned long long)s->t.ebusy,
                (unsigned long long)s->t.spawns, (unsigned long long)s->t.exits,
                (unsigned long long)s->t.deadlk, (unsigned long long)s->t.skip);
        if (us_scenarios[i].throughput) {
            if (us_ratio >= 0)
                fprintf(f, ", \"rcu_over_mutex\": %.3f", us_ratio);
            else
                fprintf(f, ", \"note\": \"%s\"", us_ratio_note);
        }
        fprintf(f, "}");
        firstp = 0;
    }
    fprintf(f, "\n  ],\n  \"violations\": [");
    if (us_first_violation[0]) {
        fprintf(f, "\n    ");
        us_json_str(f, us_first_violation);
        fprintf(f, "\n  ");
    }
    fprintf(f, "]\n}\n");
    fclose(f);
}

static const char *us_inv_name(int i)
{
    static const char *n[] = {"?", "nonzero cookie", "one cookie per context", "unique cookies",
                              "exactly once", "no spurious callbacks", "no callback after cancel",
                              "real call path", "progress", "truthful status"};
    return i >= 1 && i <= 9 ? n[i] : "?";
}

static pthread_mutex_t us_report_lock = PTHREAD_MUTEX_INITIALIZER;

void us_violation(int inv, const char *fmt, ...)
{
    if (atomic_fetch_add(&us_violations, 1) != 0) {
        for (;;)
            pause(); /* the first reporter exits the process */
    }
    pthread_mutex_lock(&us_report_lock);
    char msg[1600], replay[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    us_replay(replay, sizeof replay);
    double el = us_elapsed();
    snprintf(us_first_violation, sizeof us_first_violation,
             "invariant %d (%s) in scenario %s, library %s, variant %s, seed %llu, after %.2fs: %s", inv,
             us_inv_name(inv), us_scenarios[us_cur_index].name, us_api->name,
             us_cfg->variant ? us_cfg->variant : "none", (unsigned long long)us_cfg->seed, el, msg);
    fflush(stdout);
    fprintf(stderr, "\nunwind-stress: VIOLATION of invariant %d (%s)%s\n  scenario: %s   variant: %s   seed: %llu   after: %.2fs\n  %s\n  replay: %s\n",
            inv, us_inv_name(inv), us_phase_label, us_scenarios[us_cur_index].name,
            us_cfg->variant ? us_cfg->variant : "none (release du_ library)", (unsigned long long)us_cfg->seed, el,
            msg, replay);
    struct us_totals t;
    us_sum(&t);
    printf("SUMMARY unwind-stress: library=%s variant=%s seed=%llu threads=%d elapsed=%.2fs scenario=%s "
           "contexts=%llu requests=%llu signals=%llu nested=%llu callbacks=%llu cancels=%llu violations=1 "
           "detected_after=%.2fs result=FAIL\n",
           us_cfg->variant ? "duv" : "du", us_cfg->variant ? us_cfg->variant : "none",
           (unsigned long long)us_cfg->seed, us_cfg->threads, el, us_scenarios[us_cur_index].name,
           (unsigned long long)t.ctx, (unsigned long long)t.req, (unsigned long long)t.sig,
           (unsigned long long)t.nested, (unsigned long long)t.cb, (unsigned long long)t.cancels, el);
    fflush(stdout);
    fflush(stderr);
    us_write_json("FAIL");
    _exit(1);
}

__attribute__((noreturn, format(printf, 1, 2))) void us_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unwind-stress: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    _exit(2);
}

/* ---- registrar ---------------------------------------------------------------- */
static uint64_t us_next_id;
static uint64_t us_used_bits; /* registrar's view: bits of registered tracers */
static int us_live_count;
static uint64_t us_reg_rng;
static int us_limbo[US_POOL], us_nlimbo;
static uint64_t us_limbo_q[US_POOL]; /* per limbo record: slots seen quiescent */

static void us_reg_op_begin(int op)
{
    atomic_store_explicit(&us_reg_op_start, us_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&us_reg_op, op, memory_order_release);
}
static void us_reg_op_end(void) { atomic_store_explicit(&us_reg_op, OP_NONE, memory_order_release); }

static int us_register_one(void)
{
    int idx = -1;
    static int scan;
    for (int i = 0; i < US_POOL; i++) {
        int k = (scan + i) % US_POOL;
        if (atomic_load_explicit(&us_pool[k].state, memory_order_relaxed) == ST_FREE &&
            atomic_load_explicit(&us_pool[k].id, memory_order_relaxed) == 0) {
            idx = k;
            break;
        }
    }
    if (idx < 0)
        return -ENOSPC; /* every record waits for quiescence: try later */
    /* id ≡ idx (mod US_POOL), so a callback finds its record from its id. */
    uint64_t id = (us_next_id / US_POOL + 1) * US_POOL + (uint64_t)idx;
    us_next_id = id;
    scan = idx + 1;
    struct us_rec *rec = &us_pool[idx];
    uint64_t r = us_rng_next(&us_reg_rng);
    rec->sleep = (r & 1) != 0;
    rec->yield = (r & 2) != 0;
    rec->rereq = (r & 12) != 0;
    rec->deadlk = (r & 16) != 0;
    atomic_store_explicit(&us_cancel_seq[id % US_CSEQ], 0, memory_order_seq_cst);
    atomic_store_explicit(&rec->id, id, memory_order_release);
    atomic_store_explicit(&rec->state, ST_LIVE, memory_order_release);
    du_tracer *t = NULL;
    char name[32];
    snprintf(name, sizeof name, "stress-%llu", (unsigned long long)id);
    us_reg_op_begin(OP_REGISTER);
    int ret = us_api->reg(us_callback, (void *)(uintptr_t)id, name, &t);
    us_reg_op_end();
    if (ret == -EBUSY) {
        atomic_fetch_add(&us_total_ebusy, 1);
        if (us_live_count != DU_MAX_TRACERS)
            us_violation(9, "expected -EBUSY only with %d tracers registered; seen -EBUSY with %d registered",
                         DU_MAX_TRACERS, us_live_count);
        atomic_store_explicit(&rec->state, ST_FREE, memory_order_release);
        atomic_store_explicit(&rec->id, 0, memory_order_release);
        return ret;
    }
    if (ret != 0)
        us_violation(9, "expected du_tracer_register() to return 0 or -EBUSY; seen %d", ret);
    if (us_live_count >= DU_MAX_TRACERS)
        us_violation(9, "expected -EBUSY with %d tracers registered; seen a %dth tracer registered (bit %d)",
                     DU_MAX_TRACERS, us_live_count + 1, us_api->bit(t));
    int bit = us_api->bit(t);
    if (bit < 3 || bit > 63)
        us_violation(9, "expected a tracer bit in 3..63; seen %d", bit);
    if (us_used_bits & (1ull << bit))
        us_violation(9, "expected distinct bits for registered tracers (registry full or not); seen bit %d "
                        "given twice (new tracer #%llu)",
                     bit, (unsigned long long)id);
    us_used_bits |= 1ull << bit;
    us_live_count++;
    rec->bit = bit;
    atomic_store_explicit(&rec->t, t, memory_order_release);
    atomic_store_explicit(&us_active[bit], idx + 1, memory_order_seq_cst);
    atomic_fetch_add(&us_total_registers, 1);
    return 0;
}

static void us_cancel_one(int idx)
{
    struct us_rec *rec = &us_pool[idx];
    uint64_t id = atomic_load_explicit(&rec->id, memory_order_relaxed);
    du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
    atomic_store_explicit(&rec->state, ST_CANCELLING, memory_order_release);
    uint64_t seq = atomic_fetch_add_explicit(&us_cancel_clock, 1, memory_order_seq_cst) + 1;
    atomic_store_explicit(&us_cancel_seq[id % US_CSEQ], seq, memory_order_seq_cst);
    us_reg_op_begin(OP_CANCEL);
    int ret = us_api->cancel(t);
    us_reg_op_end();
    if (ret != 0)
        us_violation(9, "expected du_tracer_cancel() == 0 for a registered tracer; seen %d (tracer #%llu)", ret,
                     (unsigned long long)id);
    int after = us_api->bit(t);
    if (after != -1)
        us_violation(9, "expected du_tracer_bit() == -1 after cancel; seen %d (tracer #%llu)", after,
                     (unsigned long long)id);
    /* Poison: any callback of this instance that starts or is still running
     * from here on reports invariant 6. */
    atomic_store_explicit(&rec->state, ST_CANCELLED, memory_order_seq_cst);
    int expect = idx + 1;
    atomic_compare_exchange_strong(&us_active[rec->bit], &expect, 0);
    us_used_bits &= ~(1ull << rec->bit);
    us_live_count--;
    atomic_fetch_add(&us_total_cancels, 1);
    us_limbo_q[us_nlimbo] = 0;
    us_limbo[us_nlimbo++] = idx;
}

/* Free cancelled tracers nobody can still hold: every worker slot was seen
 * with no request/handler/callback section open after the removal. */
static void us_reap(int force)
{
    for (int i = 0; i < us_nlimbo;) {
        int idx = us_limbo[i];
        uint64_t q = us_limbo_q[i];
        for (int s = 0; s < us_nworkers && !force; s++) {
            if (q & (1ull << s))
                continue;
            struct us_worker *w = &us_workers[s];
            uint64_t x = atomic_load_explicit(&w->h_exit, memory_order_seq_cst);
            uint64_t e = atomic_load_explicit(&w->h_enter, memory_order_seq_cst);
            if (x == e)
                q |= 1ull << s;
        }
        uint64_t all = us_nworkers >= 64 ? ~0ull : ((1ull << us_nworkers) - 1);
        if (force || (q & all) == all) {
            struct us_rec *rec = &us_pool[idx];
            du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
            us_reg_op_begin(OP_DESTROY);
            int ret = us_api->destroy(t);
            us_reg_op_end();
            if (ret != 0)
                us_violation(9, "expected du_tracer_destroy() == 0 on a cancelled tracer; seen %d", ret);
            atomic_store_explicit(&rec->t, NULL, memory_order_relaxed);
            atomic_store_explicit(&rec->state, ST_FREE, memory_order_release);
            atomic_store_explicit(&rec->id, 0, memory_order_release);
            us_limbo[i] = us_limbo[--us_nlimbo];
            us_limbo_q[i] = us_limbo_q[us_nlimbo];
        } else {
            us_limbo_q[i] = q;
            i++;
        }
    }
}

static int us_pick_live(void)
{
    if (!us_live_count)
        return -1;
    int n = (int)(us_rng_next(&us_reg_rng) % (uint64_t)us_live_count);
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load_explicit(&us_active[b], memory_order_relaxed);
        if (ri && atomic_load_explicit(&us_pool[ri - 1].state, memory_order_relaxed) == ST_LIVE && n-- == 0)
            return ri - 1;
    }
    return -1;
}

static void us_fill(int target)
{
    while (us_live_count < target && us_live_count < DU_MAX_TRACERS)
        if (us_register_one() != 0)
            break;
}

static void *us_registrar_main(void *arg)
{
    (void)arg;
    const struct us_scenario *sc = us_cur;
    uint32_t pause = sc->reg_us * (uint32_t)us_tsan_scale;
    while (!atomic_load_explicit(&us_reg_stop, memory_order_relaxed)) {
        us_reap(0);
        switch (sc->reg_mode) {
        case REG_STATIC:
            us_pause_us(2000);
            continue;
        case REG_CHURN:
            if (us_live_count < sc->tracers)
                us_register_one();
            else {
                int i = us_pick_live();
                if (i >= 0)
                    us_cancel_one(i);
            }
            break;
        case REG_FULL: {
            while (us_live_count < DU_MAX_TRACERS)
                if (us_register_one() != 0)
                    break;
            if (us_live_count == DU_MAX_TRACERS)
                us_register_one(); /* must be -EBUSY */
            int n = 1 + (int)(us_rng_next(&us_reg_rng) % 3);
            for (int k = 0; k < n; k++) {
                int i = us_pick_live();
                if (i >= 0)
                    us_cancel_one(i);
            }
            break;
        }
        case REG_REUSE: {
            /* Cancel and immediately register: the lowest free bit, i.e.
             * usually the one just scrubbed, goes to a new tracer while
             * workers still hold requests made in their current contexts. */
            int i = us_pick_live();
            if (i >= 0)
                us_cancel_one(i);
            us_fill(sc->tracers);
            break;
        }
        }
        us_pause_us((uint32_t)(us_rng_next(&us_reg_rng) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

/* ---- injectors and migrator ---------------------------------------------------- */
static struct us_worker *us_target_get(uint64_t r)
{
    struct us_worker *w = &us_workers[r % (uint64_t)us_nworkers];
    atomic_fetch_add_explicit(&w->inflight, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->alive, memory_order_seq_cst))
        return w;
    atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst);
    return NULL;
}
static void us_target_put(struct us_worker *w) { atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst); }

static void *us_injector_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    uint32_t pause = us_cur->inject_us * (uint32_t)us_load_scale;
    while (!atomic_load_explicit(&us_aux_stop, memory_order_relaxed)) {
        uint64_t r = us_rng_next(&rng);
        struct us_worker *w = us_target_get(r);
        if (w) {
            pthread_kill(w->thread, (r >> 32) & 1 ? us_sig_a : us_sig_b);
            us_target_put(w);
        }
        us_pause_us((uint32_t)((r >> 20) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

static void *us_migrator_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    uint32_t pause = us_cur->migrate_us * (uint32_t)us_tsan_scale;
    while (!atomic_load_explicit(&us_aux_stop, memory_order_relaxed)) {
        uint64_t r = us_rng_next(&rng);
        struct us_worker *w = us_target_get(r);
        if (w) {
            cpu_set_t set;
            CPU_ZERO(&set);
            int c = (int)((r >> 16) % (uint64_t)(ncpu + 1));
            if (c == ncpu)
                for (int i = 0; i < ncpu; i++)
                    CPU_SET(i, &set);
            else
                CPU_SET(c, &set);
            sched_setaffinity(w->tid, sizeof(set), &set);
            us_target_put(w);
        }
        us_pause_us((uint32_t)((r >> 24) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

/* ---- watchdog (invariant 8) ----------------------------------------------------- */
static const char *us_op_name(int op)
{
    static const char *n[] = {"none", "safe-point", "detach", "cancel", "register", "exit", "destroy"};
    return op >= 0 && op <= OP_DESTROY ? n[op] : "?";
}

static void us_dump_states(void)
{
    uint64_t now = us_now_ns();
    fprintf(stderr, "unwind-stress: thread states:\n");
    for (int i = 0; i < us_nworkers; i++) {
        struct us_worker *w = &us_workers[i];
        int op = atomic_load(&w->op);
        fprintf(stderr,
                "  worker %d gen %llu tid %d alive %d finished %d op %s for %.3fs phase %d ctx %#llx "
                "handler-depth %d contexts %llu callbacks %llu signals %llu\n",
                i, (unsigned long long)atomic_load(&w->gen), (int)w->tid, atomic_load(&w->alive),
                atomic_load(&w->finished), us_op_name(op),
                op ? (double)(now - atomic_load(&w->op_start)) / 1e9 : 0.0, atomic_load(&w->phase),
                (unsigned long long)atomic_load(&w->ctx), atomic_load(&w->hdepth),
                (unsigned long long)atomic_load(&w->n_ctx), (unsigned long long)atomic_load(&w->n_cb),
                (unsigned long long)atomic_load(&w->n_sig));
    }
    int op = atomic_load(&us_reg_op);
    fprintf(stderr, "  registrar op %s for %.3fs, live tracers %d, waiting to free %d\n", us_op_name(op),
            op ? (double)(now - atomic_load(&us_reg_op_start)) / 1e9 : 0.0, us_live_count, us_nlimbo);
}

static _Atomic int us_wd_stop;
static void *us_watchdog_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&us_wd_stop)) {
        us_pause_us(50000);
        uint64_t now = us_now_ns();
        for (int i = 0; i < us_nworkers; i++) {
            struct us_worker *w = &us_workers[i];
            int op = atomic_load_explicit(&w->op, memory_order_acquire);
            uint64_t st = atomic_load_explicit(&w->op_start, memory_order_relaxed);
            if (op != OP_NONE && now > st && now - st > us_bound_ns) {
                us_dump_states();
                us_violation(8, "expected %s on worker %d to finish within %.1fs; seen it still running after %.1fs",
                             us_op_name(op), i, (double)us_bound_ns / 1e9, (double)(now - st) / 1e9);
            }
        }
        int op = atomic_load_explicit(&us_reg_op, memory_order_acquire);
        uint64_t st = atomic_load_explicit(&us_reg_op_start, memory_order_relaxed);
        if (op != OP_NONE && now > st && now - st > us_bound_ns) {
            us_dump_states();
            us_violation(8, "expected the registrar's %s to finish within %.1fs; seen it still running after %.1fs",
                         us_op_name(op), (double)us_bound_ns / 1e9, (double)(now - st) / 1e9);
        }
    }
    return NULL;
}

/* ---- slices ------------------------------------------------------------------------- */
static int us_tty;
static uint64_t us_last_status;
static struct us_totals us_status_prev;

static void us_status(int force)
{
    if (!us_tty)
        return;
    uint64_t now = us_now_ns();
    if (!force && now - us_last_status < 1000000000ull)
        return;
    double dt = us_last_status ? (double)(now - us_last_status) / 1e9 : us_elapsed();
    us_last_status = now;
    struct us_totals t;
    us_sum(&t);
    printf("[%6.1fs] %-18s req/s %9.0f  sig/s %8.0f  nested %9llu  contexts %10llu  callbacks %10llu  "
           "cancels %7llu  violations %d\n",
           us_elapsed(), us_scenarios[us_cur_index].name, (t.req - us_status_prev.req) / dt,
           (t.sig - us_status_prev.sig) / dt, (unsigned long long)t.nested, (unsigned long long)t.ctx,
           (unsigned long long)t.cb, (unsigned long long)t.cancels, atomic_load(&us_violations));
    fflush(stdout);
    us_status_prev = t;
}

static uint64_t us_slice_seed(int scen, int occurrence, int salt)
{
    uint64_t x = us_cfg->seed ^ ((uint64_t)(scen + 1) * 0x9E3779B97F4A7C15ULL) ^
                 ((uint64_t)(occurrence + 1) * 0xC2B2AE3D27D4EB4FULL) ^ ((uint64_t)(salt + 7) * 0x165667B19E3779F9ULL);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 32;
    return x ? x : 1;
}

static uint64_t us_slice_rng_seed;

static void us_spawn(struct us_worker *w)
{
    uint64_t gen = atomic_load(&w->gen) + 1;
    atomic_store(&w->gen, gen);
    atomic_store(&w->finished, 0);
    atomic_store(&w->tail, 0);
    atomic_store(&w->head, 0);
    w->ncarry = 0;
    w->ncb = 0;
    w->in_cb = 0;
    w->has_timer = 0;
    atomic_store(&w->hdepth, 0);
    atomic_store(&w->phase, PH_RUN);
    atomic_store(&w->ctx, gen << 32);
    atomic_store(&w->op, OP_NONE);
    uint64_t s = us_slice_rng_seed ^ ((uint64_t)(w->slot + 1) << 40) ^ (gen * 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < 4; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        w->hrng[i] = s | 1;
    }
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 1 << 20);
    pthread_t pt;
    int r = pthread_create(&pt, &a, us_worker_main, w);
    pthread_attr_destroy(&a);
    if (r != 0)
        us_fatal("pthread_create: %s", strerror(r));
    w->pt = pt;
    w->running = 1;
    atomic_fetch_add(&us_total_spawns, 1);
}

static pthread_t us_join_handle(struct us_worker *w) { return w->pt; }

static void us_reap_worker(struct us_worker *w)
{
    pthread_join(us_join_handle(w), NULL);
    w->running = 0;
    us_check_exited(w);
}

static void us_run_slice(int scen, int occurrence, double seconds, const struct us_api *api)
{
    const struct us_scenario *sc = &us_scenarios[scen];
    us_cur = sc;
    us_cur_index = scen;
    if (api != us_api)
        us_cookies_reset(); /* another library: another cookie space */
    us_api = api;
    us_slice_rng_seed = us_slice_seed(scen, occurrence, 0);
    us_reg_rng = us_slice_seed(scen, occurrence, 1);
    atomic_store(&us_stop, 0);
    atomic_store(&us_reg_stop, 0);
    atomic_store(&us_aux_stop, 0);
    if (sc->seed_wrap) {
        /* 2^16 draws per slot before the 32-bit counter wraps. */
        api->seed(0xFFFFFFFFu - 2u * 65536u);
        us_cookies_reset();
    }
    struct us_totals before, after;
    us_sum(&before);
    uint64_t t0 = us_now_ns();

    us_fill(sc->tracers);
    pthread_t reg, inj[2], mig;
    int ninj = 0, have_mig = 0;
    pthread_create(&reg, NULL, us_registrar_main, NULL);
    for (int i = 0; i < us_nworkers; i++)
        us_spawn(&us_workers[i]);
    if (sc->inject_us)
        for (ninj = 0; ninj < 2; ninj++)
            pthread_create(&inj[ninj], NULL, us_injector_main, (void *)(uintptr_t)us_slice_seed(scen, occurrence, 10 + ninj));
    if (sc->migrate_us) {
        pthread_create(&mig, NULL, us_migrator_main, (void *)(uintptr_t)us_slice_seed(scen, occurrence, 20));
        have_mig = 1;
    }
    uint64_t end = t0 + (uint64_t)(seconds * 1e9);
    while (us_now_ns() < end) {
        us_pause_us(5000);
        for (int i = 0; i < us_nworkers; i++) {
            struct us_worker *w = &us_workers[i];
            if (w->running && atomic_load_explicit(&w->finished, memory_order_acquire)) {
                us_reap_worker(w);
                us_spawn(w);
            }
        }
        us_status(0);
    }
    atomic_store(&us_stop, 1);
    for (int i = 0; i < us_nworkers; i++)
        if (us_workers[i].running)
            us_reap_worker(&us_workers[i]);
    atomic_store(&us_aux_stop, 1);
    for (int i = 0; i < ninj; i++)
        pthread_join(inj[i], NULL);
    if (have_mig)
        pthread_join(mig, NULL);
    atomic_store(&us_reg_stop, 1);
    pthread_join(reg, NULL);
    /* No worker left: cancel everything, free everything. */
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load(&us_active[b]);
        if (ri && atomic_load(&us_pool[ri - 1].state) == ST_LIVE)
            us_cancel_one(ri - 1);
    }
    us_reap(1);
    us_sum(&after);
    us_diff(&us_sstats[scen].t, &before, &after);
    us_sstats[scen].slices++;
    us_sstats[scen].seconds += (double)(us_now_ns() - t0) / 1e9;
}

/* ---- listing --------------------------------------------------------------------- */
int us_scenario_count(void) { return us_nscenarios; }
const char *us_scenario_name(int i) { return i >= 0 && i < us_nscenarios ? us_scenarios[i].name : NULL; }
const char *us_scenario_desc(int i) { return i >= 0 && i < us_nscenarios ? us_scenarios[i].desc : NULL; }
int us_scenario_find(const char *name)
{
    for (int i = 0; i < us_nscenarios; i++) {
        char num[8];
        snprintf(num, sizeof num, "%d", i + 1);
        if (strcmp(name, us_scenarios[i].name) == 0 || strcmp(name, num) == 0)
            return i;
    }
    return -1;
}

const char *const *us_variant_names(void) { return duv_variant_names(); }

static const struct {
    const char *name, *desc, *scen[3];
} us_vinfo[] = {
    {"none", "the shipped design, through the duv_ library", {NULL}},
    {"cookie48", "48-bit counter | CPU << 48, 0 = none: zero cookie on wrap (race 1)", {"wrap"}},
    {"return-local", "first call of a context returns the unassigned local 0 (race 2)", {"first-cookie"}},
    {"naive-percpu", "kernel get_cookie with a plain per-CPU counter and CPU write (races 3, 4)", {"signal-in-cookie", "migration"}},
    {"pending-late", "PENDING cleared after the callbacks: requests during dispatch lost (race 5)", {"dispatch-requests"}},
    {"nonatomic-claim", "test PENDING, then set it: work queued twice (race 6)", {"claim-race"}},
    {"plain-reset", "reset clears word then cookie with plain stores (race 7)", {"reset-race"}},
    {"no-completed", "no completed bits: a second round calls tracers again (race 8)", {"second-tracer"}},
    {"cancel-no-wait", "cancel does not wait for the grace period (race 10)", {"cancel-callback"}},
    {"cancel-no-scrub", "cancel does not clear the bit in attached threads (race 11)", {"bit-reuse"}},
    {"exit-drops-pending", "detach/exit frees without delivering pending requests (race 13)", {"thread-exit"}},
    {"mutex-dispatch", "v13: callbacks under one global mutex (correct, slow; race 16)", {"mutex-vs-rcu"}},
};

const char *us_variant_desc(const char *name)
{
    for (size_t i = 0; i < sizeof us_vinfo / sizeof us_vinfo[0]; i++)
        if (strcmp(us_vinfo[i].name, name) == 0)
            return us_vinfo[i].desc;
    return "";
}

int us_variant_valid(const char *name)
{
    for (const char *const *p = duv_variant_names(); *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

static int us_variant_default(const char *variant, int *out)
{
    for (size_t i = 0; i < sizeof us_vinfo / sizeof us_vinfo[0]; i++) {
        if (strcmp(us_vinfo[i].name, variant) != 0)
            continue;
        int n = 0;
        for (int k = 0; k < 3 && us_vinfo[i].scen[k]; k++)
            out[n++] = us_scenario_find(us_vinfo[i].scen[k]);
        return n;
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------------------- */
int us_run(const struct us_config *cfg)
{
    static struct us_config c;
    c = *cfg;
    us_cfg = &c;
#ifdef US_TSAN
    us_tsan_scale = 4;
    us_bound_ns = 30ull * 1000000000ull;
#else
    us_bound_ns = 5ull * 1000000000ull;
#endif
    const char *wd = getenv("UNWIND_STRESS_WATCHDOG_S");
    if (wd && atof(wd) > 0)
        us_bound_ns = (uint64_t)(atof(wd) * 1e9);
    if (c.threads < 1 || c.threads > 64) {
        fprintf(stderr, "unwind-stress: --threads must be 1..64\n");
        return 2;
    }
    if (!(c.duration > 0)) {
        fprintf(stderr, "unwind-stress: --duration must be > 0\n");
        return 2;
    }
    const struct us_api *api = &us_api_du;
    int throughput_ok = 1;
    if (c.variant) {
        if (duv_select(c.variant) != 0) {
            fprintf(stderr, "unwind-stress: unknown variant '%s' (see --list)\n", c.variant);
            return 2;
        }
        api = &us_api_duv;
        if (strcmp(c.variant, "mutex-dispatch") != 0) {
            throughput_ok = 0;
            snprintf(us_ratio_note, sizeof us_ratio_note,
                     "skipped: the duv_ library runs variant %s, not mutex-dispatch", c.variant);
        }
    } else {
        /* The default run exercises the release du_ library; the duv_ library
         * only serves the mutex-dispatch side of scenario 16. */
        duv_select("mutex-dispatch");
    }
    if (c.nscenarios == 0) {
        if (c.variant && strcmp(c.variant, "none") != 0 && strcmp(c.variant, "mutex-dispatch") != 0)
            c.nscenarios = us_variant_default(c.variant, c.scenarios);
        if (c.nscenarios == 0) {
            for (int i = 0; i < us_nscenarios; i++)
                c.scenarios[i] = i;
            c.nscenarios = us_nscenarios;
        }
    }

    us_nworkers = c.threads;
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1)
            ncpu = 1;
        us_load_scale = (int)((c.threads + ncpu - 1) / ncpu) * us_tsan_scale;
        if (us_load_scale < 1)
            us_load_scale = 1;
    }
    us_workers = aligned_alloc(64, sizeof(struct us_worker) * (size_t)us_nworkers);
    if (!us_workers) {
        fprintf(stderr, "unwind-stress: out of memory\n");
        return 2;
    }
    memset(us_workers, 0, sizeof(struct us_worker) * (size_t)us_nworkers);
    for (int i = 0; i < us_nworkers; i++)
        us_workers[i].slot = i;
    int r = us_install_handlers();
    if (r) {
        fprintf(stderr, "unwind-stress: sigaction: %s\n", strerror(-r));
        return 2;
    }
    /* Make the libraries create their thread-exit keys before ours, so our
     * destructor (liveness handshake) runs after their exit drain. */
    for (int i = 0; i < 2; i++) {
        const struct us_api *a = i ? &us_api_duv : &us_api_du;
        if (a == &us_api_duv && !c.variant && !throughput_ok)
            continue;
        r = a->attach();
        if (r != 0) {
            fprintf(stderr, "unwind-stress: %s_thread_attach failed (%d): is liburcu usable here?\n", a->name, r);
            return 2;
        }
        a->detach();
    }
    if (us_make_exit_key() != 0) {
        fprintf(stderr, "unwind-stress: pthread_key_create failed\n");
        return 2;
    }
    us_tty = isatty(STDOUT_FILENO);
    us_t0 = us_now_ns();
    pthread_t wdt;
    pthread_create(&wdt, NULL, us_watchdog_main, NULL);

    if (us_tty) {
        printf("unwind-stress: library %s%s%s, seed %llu, %d threads, %.0fs, %d scenario(s)%s\n",
               c.variant ? "duv_ variant " : "du_ (release)", c.variant ? c.variant : "", "",
               (unsigned long long)c.seed, c.threads, c.duration, c.nscenarios,
#ifdef US_TSAN
               " [TSan]"
#else
               ""
#endif
        );
        fflush(stdout);
    }

    /* Slices: cycle through the scenarios, at most 5 s each. */
    double slice = c.duration / c.nscenarios;
    if (slice > 5.0)
        slice = 5.0;
    if (slice < 0.2)
        slice = 0.2;
    int occ[US_MAX_SCENARIOS] = {0};
    double left = c.duration;
    for (int turn = 0; left > 1e-3; turn++) {
        int idx = turn % c.nscenarios;
        int s = c.scenarios[idx];
        double len = slice < left ? slice : left;
        if (us_scenarios[s].throughput) {
            if (throughput_ok) {
                /* Same workload, half with the release (liburcu) library,
                 * half with the duv_ mutex-dispatch design. */
                struct us_totals a0, a1, b0, b1;
                us_phase_label = " [scenario 16, rcu half]";
                us_sum(&a0);
                uint64_t ta = us_now_ns();
                us_run_slice(s, occ[s]++, len / 2, c.variant ? &us_api_duv : &us_api_du);
                double da = (double)(us_now_ns() - ta) / 1e9;
                us_sum(&a1);
                us_phase_label = " [scenario 16, mutex half]";
                us_sum(&b0);
                uint64_t tb = us_now_ns();
                us_run_slice(s, occ[s]++, len / 2, &us_api_duv);
                double db = (double)(us_now_ns() - tb) / 1e9;
                us_sum(&b1);
                us_phase_label = "";
                double ra = (a1.cb - a0.cb) / da, rb = (b1.cb - b0.cb) / db;
                /* Accumulate over all turns. */
                static double sa, sb, ta_s, tb_s;
                sa += (double)(a1.cb - a0.cb);
                sb += (double)(b1.cb - b0.cb);
                ta_s += da;
                tb_s += db;
                (void)ra;
                (void)rb;
                us_rcu_cbps = sa / ta_s;
                us_mutex_cbps = sb / tb_s;
                us_ratio = us_mutex_cbps > 0 ? us_rcu_cbps / us_mutex_cbps : 0;
                us_api = api;
            } else {
                us_run_slice(s, occ[s]++, len, api);
            }
        } else {
            us_run_slice(s, occ[s]++, len, api);
        }
        left -= len;
        if (c.nscenarios == 1 && left < 0.05)
            break;
    }
    atomic_store(&us_wd_stop, 1);
    pthread_join(wdt, NULL);
    us_status(1);

    struct us_totals t;
    us_sum(&t);
    double el = us_elapsed();
    char ratio[96] = "";
    if (us_ratio >= 0)
        snprintf(ratio, sizeof ratio, " rcu_over_mutex=%.2f", us_ratio);
    printf("SUMMARY unwind-stress: library=%s variant=%s duration=%.0fs elapsed=%.1fs seed=%llu threads=%d "
           "scenarios=%d contexts=%llu requests=%llu accepted=%llu signals=%llu nested=%llu callbacks=%llu "
           "exiting_callbacks=%llu cancels=%llu registers=%llu ebusy=%llu spawns=%llu%s violations=%d "
           "result=PASS\n",
           c.variant ? "duv" : "du", c.variant ? c.variant : "none", c.duration, el, (unsigned long long)c.seed,
           c.threads, c.nscenarios, (unsigned long long)t.ctx, (unsigned long long)t.req,
           (unsigned long long)t.acc, (unsigned long long)t.sig, (unsigned long long)t.nested,
           (unsigned long long)t.cb, (unsigned long long)t.exiting_cb, (unsigned long long)t.cancels,
           (unsigned long long)t.registers, (unsigned long long)t.ebusy, (unsigned long long)t.spawns, ratio,
           atomic_load(&us_violations));
    if (us_tty) {
        for (int i = 0; i < us_nscenarios; i++)
            if (us_sstats[i].slices)
                printf("  %-20s %5.1fs contexts %10llu requests %10llu signals %9llu nested %8llu callbacks %9llu "
                       "cancels %6llu ebusy %5llu spawns %5llu%s\n",
                       us_scenarios[i].name, us_sstats[i].seconds, (unsigned long long)us_sstats[i].t.ctx,
                       (unsigned long long)us_sstats[i].t.req, (unsigned long long)us_sstats[i].t.sig,
                       (unsigned long long)us_sstats[i].t.nested, (unsigned long long)us_sstats[i].t.cb,
                       (unsigned long long)us_sstats[i].t.cancels, (unsigned long long)us_sstats[i].t.ebusy,
                       (unsigned long long)us_sstats[i].t.spawns,
                       us_scenarios[i].throughput && us_ratio >= 0 ? "  (throughput ratio above)" : "");
    }
    fflush(stdout);
    us_write_json("PASS");
    return 0;
}
