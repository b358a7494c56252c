/*
 * hs_report.c - totals, the status line, the SUMMARY line, and the
 * violation report with its replay command line (exit 1).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_internal.h"

/* ---- statistics ----------------------------------------------------------------- */
struct hs_sstat hs_sstats[HS_MAX_SCENARIOS];
double hs_ratio = -1, hs_rcu_cbps = 0, hs_mutex_cbps = 0;
char hs_ratio_note[128] = "";

_Static_assert(LCC_N <= sizeof(((struct hs_totals *)0)->lc) / sizeof(uint64_t), "hs_totals.lc holds every LCC_*");

void hs_sum(struct hs_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < hs_nworkers; i++) {
        struct hs_worker *w = &hs_workers[i];
#define A(f, g) t->f += atomic_load_explicit(&w->g, memory_order_relaxed)
        A(req, n_req); A(acc, n_acc); A(sig, n_sig); A(nested, n_nested); A(ctx, n_ctx);
        A(cb, n_cb); A(skip, n_skip); A(exits, n_exits); A(nomem, n_nomem);
        A(exiting_cb, n_exiting_cb); A(deadlk, n_deadlk);
#undef A
    }
    t->cancels = atomic_load(&hs_total_cancels);
    t->registers = atomic_load(&hs_total_registers);
    t->ebusy = atomic_load(&hs_total_ebusy);
    t->spawns = atomic_load(&hs_total_spawns);
    for (int k = 0; k < LCC_N; k++)
        t->lc[k] = atomic_load_explicit(&hs_lc_count[k], memory_order_relaxed);
}

void hs_diff(struct hs_totals *acc, const struct hs_totals *a, const struct hs_totals *b)
{
    uint64_t *pa = (uint64_t *)acc;
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof(*acc) / sizeof(uint64_t); i++)
        pa[i] += y[i] - x[i];
}

double hs_elapsed(void) { return (double)(hs_now_ns() - hs_t0) / 1e9; }

/* ---- replay command, violation ----------------------------------------------------- */
static void hs_replay(char *buf, size_t len)
{
    int n = snprintf(buf, len, "swift run -c release unwind-stress --scenario %s", hs_scenarios[hs_cur_index].name);
    if (hs_cfg->variant)
        n += snprintf(buf + n, len - (size_t)n, " --variant %s", hs_cfg->variant);
    snprintf(buf + n, len - (size_t)n, " --seed %llu --threads %d --duration %g",
             (unsigned long long)hs_cfg->seed, hs_cfg->threads, hs_cfg->duration);
}

char hs_first_violation[2048];

static const char *hs_inv_name(int i)
{
    static const char *n[] = {"?", "nonzero cookie", "one cookie per context", "unique cookies",
                              "exactly once", "no spurious callbacks", "no callback after cancel",
                              "real call path", "progress", "truthful status", "no crash",
                              "fork safety", "delivery at exit"};
    return i >= 1 && i <= INV_EXIT ? n[i] : "?";
}

static pthread_mutex_t hs_report_lock = PTHREAD_MUTEX_INITIALIZER;

void hs_violation(int inv, const char *fmt, ...)
{
    char msg[1600], replay[400];
    va_list ap;
    if (hs_in_child) {
        /* A forked child reports to its parent, never to the run's output. */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        hs_child_fail(inv, "%s", msg);
    }
    /* No stress signal from here on: a handler that lands on the first
     * reporter and reports too would pause forever below, and the report
     * with it (a violation found inside a handler, e.g. a callback a
     * variant runs there). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (atomic_fetch_add(&hs_violations, 1) != 0) {
        for (;;)
            pause(); /* the first reporter exits the process */
    }
    pthread_mutex_lock(&hs_report_lock);
    hs_children_kill_all();
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hs_replay(replay, sizeof replay);
    double el = hs_elapsed();
    snprintf(hs_first_violation, sizeof hs_first_violation,
             "invariant %d (%s) in scenario %s, library %s, variant %s, seed %llu, after %.2fs: %s", inv,
             hs_inv_name(inv), hs_scenarios[hs_cur_index].name, hs_api->name,
             hs_cfg->variant ? hs_cfg->variant : "none", (unsigned long long)hs_cfg->seed, el, msg);
    fflush(stdout);
    fprintf(stderr, "\nunwind-stress: VIOLATION of invariant %d (%s)%s\n  scenario: %s   variant: %s   seed: %llu   after: %.2fs\n  %s\n  replay: %s\n",
            inv, hs_inv_name(inv), hs_phase_label, hs_scenarios[hs_cur_index].name,
            hs_cfg->variant ? hs_cfg->variant : "none (release du_ library)", (unsigned long long)hs_cfg->seed, el,
            msg, replay);
    struct hs_totals t;
    hs_sum(&t);
    printf("SUMMARY unwind-stress: library=%s variant=%s seed=%llu threads=%d elapsed=%.2fs scenario=%s "
           "contexts=%llu requests=%llu signals=%llu nested=%llu callbacks=%llu cancels=%llu violations=1 "
           "detected_after=%.2fs result=FAIL\n",
           hs_cfg->variant ? "duv" : "du", hs_cfg->variant ? hs_cfg->variant : "none",
           (unsigned long long)hs_cfg->seed, hs_cfg->threads, el, hs_scenarios[hs_cur_index].name,
           (unsigned long long)t.ctx, (unsigned long long)t.req, (unsigned long long)t.sig,
           (unsigned long long)t.nested, (unsigned long long)t.cb, (unsigned long long)t.cancels, el);
    fflush(stdout);
    fflush(stderr);
    hs_write_json("FAIL");
    _exit(1);
}

void hs_fatal(const char *fmt, ...)
{
    if (hs_in_child) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        hs_child_fail(INV_FORK, "environment error: %s", msg);
    }
    hs_children_kill_all();
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
static char hs_crash_msg[1200];
static size_t hs_crash_len;

void hs_crash_prepare(void)
{
    char replay[400];
    hs_replay(replay, sizeof replay);
    int n = snprintf(hs_crash_msg, sizeof hs_crash_msg,
                     "\nunwind-stress: VIOLATION of invariant %d (%s)\n  scenario: %s   variant: %s   seed: %llu\n"
                     "  expected no crash; seen a fatal signal (number above)\n  replay: %s\n"
                     "SUMMARY unwind-stress: library=%s variant=%s seed=%llu threads=%d scenario=%s violations=1 "
                     "result=FAIL\n",
                     INV_CRASH, hs_inv_name(INV_CRASH), hs_scenarios[hs_cur_index].name,
                     hs_cfg->variant ? hs_cfg->variant : "none (release du_ library)",
                     (unsigned long long)hs_cfg->seed, replay, hs_cfg->variant ? "duv" : "du",
                     hs_cfg->variant ? hs_cfg->variant : "none", (unsigned long long)hs_cfg->seed,
                     hs_cfg->threads, hs_scenarios[hs_cur_index].name);
    hs_crash_len = n > 0 && (size_t)n < sizeof hs_crash_msg ? (size_t)n : 0;
}

#ifndef HS_TSAN
static void hs_crash_handler(int sig)
{
    if (hs_in_child) {
        signal(sig, SIG_DFL);
        return;
    }
    char num[48] = "\nunwind-stress: fatal signal ";
    size_t k = strlen(num);
    if (sig >= 10)
        num[k++] = (char)('0' + sig / 10);
    num[k++] = (char)('0' + sig % 10);
    if (write(STDERR_FILENO, num, k) < 0 || write(STDOUT_FILENO, hs_crash_msg, hs_crash_len) < 0)
        _exit(1);
    hs_children_kill_all(); /* kill(): async-signal-safe */
    _exit(1);
}
#endif

void hs_crash_install(void)
{
#ifndef HS_TSAN /* TSan reports fatal signals itself */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hs_crash_handler;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
#endif
}

/* ---- status line (a terminal only) and summary ------------------------------------- */
static uint64_t hs_last_status;
static struct hs_totals hs_status_prev;

void hs_status(int force)
{
    if (!hs_tty)
        return;
    uint64_t now = hs_now_ns();
    if (!force && now - hs_last_status < 1000000000ull)
        return;
    double dt = hs_last_status ? (double)(now - hs_last_status) / 1e9 : hs_elapsed();
    hs_last_status = now;
    struct hs_totals t;
    hs_sum(&t);
    printf("[%6.1fs] %-18s req/s %9.0f  sig/s %8.0f  nested %9llu  contexts %10llu  callbacks %10llu  "
           "cancels %7llu  violations %d\n",
           hs_elapsed(), hs_scenarios[hs_cur_index].name, (t.req - hs_status_prev.req) / dt,
           (t.sig - hs_status_prev.sig) / dt, (unsigned long long)t.nested, (unsigned long long)t.ctx,
           (unsigned long long)t.cb, (unsigned long long)t.cancels, atomic_load(&hs_violations));
    fflush(stdout);
    hs_status_prev = t;
}

/* The one grep-able line of a passing run, and the per-scenario table. */
void hs_print_summary(void)
{
    struct hs_totals t;
    hs_sum(&t);
    double el = hs_elapsed();
    char ratio[96] = "", lc[512];
    if (hs_ratio >= 0)
        snprintf(ratio, sizeof ratio, " rcu_over_mutex=%.2f", hs_ratio);
    snprintf(lc, sizeof lc,
             " forks=%llu children_ok=%llu exit_callbacks=%llu dlopen_cycles=%llu landings=%llu repairs=%llu "
             "churn_calls=%llu same_tracer=%llu reused_mid_cancel=%llu callback_calls=%llu unjudged=%llu held=%llu "
             "regions=%llu proxied=%llu leave_waits=%llu region_safe_points=%llu",
             (unsigned long long)t.lc[LCC_FORKS], (unsigned long long)t.lc[LCC_CHILD_OK],
             (unsigned long long)t.lc[LCC_EXIT_CBS], (unsigned long long)t.lc[LCC_DLOPEN_CYCLES],
             (unsigned long long)t.lc[LCC_LANDINGS], (unsigned long long)t.lc[LCC_REPAIRS],
             (unsigned long long)t.lc[LCC_CHURN_CALLS], (unsigned long long)t.lc[LCC_SAME_TRACER],
             (unsigned long long)t.lc[LCC_REUSED_MID],
             (unsigned long long)t.lc[LCC_CB_CALLS],
             (unsigned long long)atomic_load(&hs_total_unjudged),
             (unsigned long long)atomic_load(&hs_total_held), (unsigned long long)t.lc[LCC_REGIONS],
             (unsigned long long)t.lc[LCC_PROXIED], (unsigned long long)t.lc[LCC_LEAVE_WAITS],
             (unsigned long long)t.lc[LCC_REGION_SP]);
    printf("SUMMARY unwind-stress: library=%s variant=%s duration=%.0fs elapsed=%.1fs seed=%llu threads=%d "
           "scenarios=%d contexts=%llu requests=%llu accepted=%llu signals=%llu nested=%llu callbacks=%llu "
           "exiting_callbacks=%llu cancels=%llu registers=%llu ebusy=%llu spawns=%llu%s%s violations=%d "
           "result=PASS\n",
           hs_cfg->variant ? "duv" : "du", hs_cfg->variant ? hs_cfg->variant : "none", hs_cfg->duration, el, (unsigned long long)hs_cfg->seed,
           hs_cfg->threads, hs_cfg->nscenarios, (unsigned long long)t.ctx, (unsigned long long)t.req,
           (unsigned long long)t.acc, (unsigned long long)t.sig, (unsigned long long)t.nested,
           (unsigned long long)t.cb, (unsigned long long)t.exiting_cb, (unsigned long long)t.cancels,
           (unsigned long long)t.registers, (unsigned long long)t.ebusy, (unsigned long long)t.spawns, ratio,
           lc, atomic_load(&hs_violations));
    if (hs_tty) {
        for (int i = 0; i < hs_nscenarios; i++)
            if (hs_sstats[i].slices)
                printf("  %-20s %5.1fs contexts %10llu requests %10llu signals %9llu nested %8llu callbacks %9llu "
                       "cancels %6llu ebusy %5llu spawns %5llu%s\n",
                       hs_scenarios[i].name, hs_sstats[i].seconds, (unsigned long long)hs_sstats[i].t.ctx,
                       (unsigned long long)hs_sstats[i].t.req, (unsigned long long)hs_sstats[i].t.sig,
                       (unsigned long long)hs_sstats[i].t.nested, (unsigned long long)hs_sstats[i].t.cb,
                       (unsigned long long)hs_sstats[i].t.cancels, (unsigned long long)hs_sstats[i].t.ebusy,
                       (unsigned long long)hs_sstats[i].t.spawns,
                       hs_scenarios[i].throughput && hs_ratio >= 0 ? "  (throughput ratio above)" : "");
    }
    fflush(stdout);
}
