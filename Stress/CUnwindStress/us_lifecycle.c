/*
 * us_lifecycle.c - the lifecycle scenarios' place in a slice: start their
 * drivers after the workers, stop them after the registrar, wait for every
 * child; what a build skips and why; the driver threads' watchdog slots.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "us_internal.h"

_Atomic uint64_t us_lc_count[LCC_N];
struct us_opslot us_opslots[US_OPSLOTS];

#define US_LC_MAXTHR US_OPSLOTS
static struct us_lc_arg us_lc_args[US_LC_MAXTHR];
static pthread_t us_lc_thr[US_LC_MAXTHR];
static int us_lc_nthr;
static pthread_t us_monitor;
static int us_have_monitor, us_lc_now;

void us_op_begin(struct us_opslot *s, int op)
{
    atomic_store_explicit(&s->start, us_now_ns(), memory_order_relaxed);
    /* Release, partner: the watchdog's acquire load of op (then start). */
    atomic_store_explicit(&s->op, op, memory_order_release);
}

void us_op_end(struct us_opslot *s) { atomic_store_explicit(&s->op, US_OP_NONE, memory_order_release); }

static const char *us_lc_skip_reason(int lifecycle)
{
    if ((lifecycle == LC_FORK || lifecycle == LC_EXIT) && us_cfg && us_cfg->variant)
        return "--variant runs the duv_ copy of the core, which registers no atfork handlers (by design: "
               "liburcu-bp's fork hooks do not nest); the fork scenarios test the release du_ library";
#ifdef US_TSAN
    if (lifecycle == LC_DLOPEN)
        return "the dlopen'ed libCDeferredUnwindShared.so is not TSan-instrumented: its atomics are invisible to "
               "TSan, which would report the harness's callbacks as races";
#endif
#ifdef US_ASAN
    if (lifecycle == LC_FORK || lifecycle == LC_EXIT)
        return "ASan's backtrace() interceptor deadlocks in a fork child of busy threads (its internal "
               "allocator's lock, held by a thread that is gone): attach and every unwind in the child hang";
    char path[PATH_MAX];
    if (lifecycle == LC_DLOPEN && us_dlopen_find(path, sizeof path) != 0)
        return "no libCDeferredUnwindShared.so next to this ASan binary (swift build -c release --sanitize=address "
               "--scratch-path <this build> --product CDeferredUnwindShared adds it)";
#endif
    (void)lifecycle;
    return NULL;
}

int us_lc_skipped(int lifecycle)
{
    static int told[LC_CHURN + 1];
    const char *why = us_lc_skip_reason(lifecycle);
    if (why && !told[lifecycle]) {
        told[lifecycle] = 1;
        static const char *names[] = {"?", "fork-storm", "exit-pending", "dlopen-cycle", "longjmp-request",
                                      "tracer-churn"};
        printf("unwind-stress: scenario %s skipped: %s\n", names[lifecycle], why);
        fflush(stdout);
    }
    return why != NULL;
}

int us_lc_prepare(const int *scen, int n)
{
    int r = us_children_init();
    if (r) {
        fprintf(stderr, "unwind-stress: mmap of the child table failed: %s\n", strerror(-r));
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (us_scenarios[scen[i]].lifecycle != LC_DLOPEN || us_lc_skip_reason(LC_DLOPEN))
            continue;
        char path[PATH_MAX];
        if (us_dlopen_find(path, sizeof path) != 0) {
            fprintf(stderr,
                    "unwind-stress: scenario dlopen-cycle needs %s (the CDeferredUnwind library product, "
                    "built next to this binary): run `swift build -c release --product CDeferredUnwindShared` "
                    "(Scripts/stress.sh does), or leave out --scenario dlopen-cycle\n",
                    path);
            return 2;
        }
    }
    return 0;
}

static void us_lc_spawn(void *(*fn)(void *), int n, int scen, int occurrence, const char *who)
{
    for (int i = 0; i < n && us_lc_nthr < US_LC_MAXTHR; i++) {
        struct us_lc_arg *a = &us_lc_args[us_lc_nthr];
        a->index = us_lc_nthr;
        a->seed = us_slice_seed(scen, occurrence, 30 + i);
        snprintf(us_opslots[a->index].who, sizeof us_opslots[a->index].who, "%s %d", who, i);
        atomic_store(&us_opslots[a->index].op, US_OP_NONE); /* before the thread exists: no partner */
        int r = pthread_create(&us_lc_thr[us_lc_nthr], NULL, fn, a);
        if (r != 0)
            us_fatal("pthread_create: %s", strerror(r));
        us_lc_nthr++;
    }
}

void us_lc_slice_start(int scen, int occurrence)
{
    const struct us_scenario *sc = &us_scenarios[scen];
    us_lc_nthr = 0;
    us_have_monitor = 0;
    us_lc_now = sc->lifecycle;
    int n = sc->lc_threads ? sc->lc_threads : 1;
    switch (sc->lifecycle) {
    case LC_FORK:
        if (pthread_create(&us_monitor, NULL, us_child_monitor_main, NULL) != 0)
            us_fatal("pthread_create: %s", strerror(errno));
        us_have_monitor = 1;
        break;
    case LC_EXIT:
        us_lc_spawn(us_exit_driver_main, n, scen, occurrence, "exit driver");
        break;
    case LC_DLOPEN:
        us_lc_spawn(us_dlopen_driver_main, n, scen, occurrence, "dlopen driver");
        break;
    case LC_LONGJMP:
        us_lc_spawn(us_lj_injector_main, n, scen, occurrence, "jump injector");
        break;
    case LC_CHURN:
        us_lc_spawn(us_churn_main, n, scen, occurrence, "churner");
        break;
    default:
        break;
    }
}

void us_lc_slice_stop(void)
{
    for (int i = 0; i < us_lc_nthr; i++)
        pthread_join(us_lc_thr[i], NULL);
    for (int i = 0; i < US_OPSLOTS; i++)
        atomic_store(&us_opslots[i].op, US_OP_NONE); /* drivers joined: no partner */
    us_lc_nthr = 0;
    if (us_have_monitor) {
        pthread_join(us_monitor, NULL);
        us_have_monitor = 0;
    }
    us_children_wait_all();
    if (us_lc_now == LC_CHURN)
        us_churn_drain();
    us_lc_now = LC_NONE;
}
