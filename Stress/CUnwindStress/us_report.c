/*
 * us_report.c - totals, the status line, the SUMMARY line, and the
 * violation report with its replay command line (exit 1).
 */
#include <errno.h>
#include <signal.h>
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

_Static_assert(LCC_N <= sizeof(((struct us_totals *)0)->lc) / sizeof(uint64_t), "us_totals.lc holds every LCC_*");

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
    for (int k = 0; k < LCC_N; k++)
        t->lc[k] = atomic_load_explicit(&us_lc_count[k], memory_order_relaxed);
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
                              "real call path", "progress", "truthful status", "no crash",
                              "fork safety", "delivery at exit"};
    return i >= 1 && i <= INV_EXIT ? n[i] : "?";
}

static pthread_mutex_t us_report_lock = PTHREAD_MUTEX_INITIALIZER;

void us_violation(int inv, const char *fmt, ...)
{
    char msg[1600], replay[400];
    va_list ap;
    if (us_in_child) {
        /* A forked child reports to its parent, never to the run's output. */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        us_child_fail(inv, "%s", msg);
    }
    if (atomic_fetch_add(&us_violations, 1) != 0) {
        for (;;)
            pause(); /* the first reporter exits the process */
    }
    pthread_mutex_lock(&us_report_lock);
    us_children_kill_all();
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

void us_fatal(const char *fmt, ...)
{
    if (us_in_child) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        us_child_fail(INV_FORK, "environment error: %s", msg);
    }
    us_children_kill_all();
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unwind-stress: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    _exit(2);
}

/* ---- crashes (invariant 10) ---------------------------------------------------------
 * A fatal signal in the harness prints the violation with the replay line
 * (prepared at each slice start: nothing is formatted in the handler) and
 * exits 1.  In a forked child it restores the default action and returns,
 * so the fault repeats and kills the child: its parent reports it. */
static char us_crash_msg[1200];
static size_t us_crash_len;

void us_crash_prepare(void)
{
    char replay[400];
    us_replay(replay, sizeof replay);
    int n = snprintf(us_crash_msg, sizeof us_crash_msg,
                     "\nunwind-stress: VIOLATION of invariant %d (%s)\n  scenario: %s   variant: %s   seed: %llu\n"
                     "  expected no crash; seen a fatal signal (number above)\n  replay: %s\n"
                     "SUMMARY unwind-stress: library=%s variant=%s seed=%llu threads=%d scenario=%s violations=1 "
                     "result=FAIL\n",
                     INV_CRASH, us_inv_name(INV_CRASH), us_scenarios[us_cur_index].name,
                     us_cfg->variant ? us_cfg->variant : "none (release du_ library)",
                     (unsigned long long)us_cfg->seed, replay, us_cfg->variant ? "duv" : "du",
                     us_cfg->variant ? us_cfg->variant : "none", (unsigned long long)us_cfg->seed,
                     us_cfg->threads, us_scenarios[us_cur_index].name);
    us_crash_len = n > 0 && (size_t)n < sizeof us_crash_msg ? (size_t)n : 0;
}

#ifndef US_TSAN
static void us_crash_handler(int sig)
{
    if (us_in_child) {
        signal(sig, SIG_DFL);
        return;
    }
    char num[48] = "\nunwind-stress: fatal signal ";
    size_t k = strlen(num);
    if (sig >= 10)
        num[k++] = (char)('0' + sig / 10);
    num[k++] = (char)('0' + sig % 10);
    if (write(STDERR_FILENO, num, k) < 0 || write(STDOUT_FILENO, us_crash_msg, us_crash_len) < 0)
        _exit(1);
    us_children_kill_all(); /* kill(): async-signal-safe */
    _exit(1);
}
#endif

void us_crash_install(void)
{
#ifndef US_TSAN /* TSan reports fatal signals itself */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = us_crash_handler;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
#endif
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
    char ratio[96] = "", lc[400];
    if (us_ratio >= 0)
        snprintf(ratio, sizeof ratio, " rcu_over_mutex=%.2f", us_ratio);
    snprintf(lc, sizeof lc,
             " forks=%llu children_ok=%llu exit_callbacks=%llu dlopen_cycles=%llu landings=%llu repairs=%llu "
             "churn_calls=%llu same_tracer=%llu reused_mid_cancel=%llu callback_calls=%llu unjudged=%llu held=%llu",
             (unsigned long long)t.lc[LCC_FORKS], (unsigned long long)t.lc[LCC_CHILD_OK],
             (unsigned long long)t.lc[LCC_EXIT_CBS], (unsigned long long)t.lc[LCC_DLOPEN_CYCLES],
             (unsigned long long)t.lc[LCC_LANDINGS], (unsigned long long)t.lc[LCC_REPAIRS],
             (unsigned long long)t.lc[LCC_CHURN_CALLS], (unsigned long long)t.lc[LCC_SAME_TRACER],
             (unsigned long long)t.lc[LCC_REUSED_MID],
             (unsigned long long)t.lc[LCC_CB_CALLS],
             (unsigned long long)atomic_load(&us_total_unjudged),
             (unsigned long long)atomic_load(&us_total_held));
    printf("SUMMARY unwind-stress: library=%s variant=%s duration=%.0fs elapsed=%.1fs seed=%llu threads=%d "
           "scenarios=%d contexts=%llu requests=%llu accepted=%llu signals=%llu nested=%llu callbacks=%llu "
           "exiting_callbacks=%llu cancels=%llu registers=%llu ebusy=%llu spawns=%llu%s%s violations=%d "
           "result=PASS\n",
           us_cfg->variant ? "duv" : "du", us_cfg->variant ? us_cfg->variant : "none", us_cfg->duration, el, (unsigned long long)us_cfg->seed,
           us_cfg->threads, us_cfg->nscenarios, (unsigned long long)t.ctx, (unsigned long long)t.req,
           (unsigned long long)t.acc, (unsigned long long)t.sig, (unsigned long long)t.nested,
           (unsigned long long)t.cb, (unsigned long long)t.exiting_cb, (unsigned long long)t.cancels,
           (unsigned long long)t.registers, (unsigned long long)t.ebusy, (unsigned long long)t.spawns, ratio,
           lc, atomic_load(&us_violations));
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
