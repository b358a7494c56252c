/*
 * us_report.c - totals, the status line, the SUMMARY line, and the
 * violation report with its replay command line (exit 1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "us_internal.h"

/* ---- statistics ----------------------------------------------------------------- */
struct us_sstat us_sstats[US_MAX_SCENARIOS];
double us_ratio = -1, us_rcu_cbps = 0, us_mutex_cbps = 0;
char us_ratio_note[128] = "";

void us_sum(struct us_totals *t)
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

void us_diff(struct us_totals *acc, const struct us_totals *a, const struct us_totals *b)
{
    uint64_t *pa = (uint64_t *)acc;
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof(*acc) / sizeof(uint64_t); i++)
        pa[i] += y[i] - x[i];
}

double us_elapsed(void) { return (double)(us_now_ns() - us_t0) / 1e9; }

/* ---- replay command, violation ----------------------------------------------------- */
static void us_replay(char *buf, size_t len)
{
    int n = snprintf(buf, len, "swift run -c release unwind-stress --scenario %s", us_scenarios[us_cur_index].name);
    if (us_cfg->variant)
        n += snprintf(buf + n, len - (size_t)n, " --variant %s", us_cfg->variant);
    snprintf(buf + n, len - (size_t)n, " --seed %llu --threads %d --duration %g",
             (unsigned long long)us_cfg->seed, us_cfg->threads, us_cfg->duration);
}

char us_first_violation[2048];

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

/* ---- status line (a terminal only) and summary ------------------------------------- */
static uint64_t us_last_status;
static struct us_totals us_status_prev;

void us_status(int force)
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

/* The one grep-able line of a passing run, and the per-scenario table. */
void us_print_summary(void)
{
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
           us_cfg->variant ? "duv" : "du", us_cfg->variant ? us_cfg->variant : "none", us_cfg->duration, el, (unsigned long long)us_cfg->seed,
           us_cfg->threads, us_cfg->nscenarios, (unsigned long long)t.ctx, (unsigned long long)t.req,
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
}
