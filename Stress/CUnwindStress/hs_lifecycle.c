/*
 * hs_lifecycle.c - the lifecycle scenarios' place in a slice: start their
 * drivers after the workers, stop them after the registrar, wait for every
 * child; what a build skips and why; the driver threads' watchdog slots.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hs_internal.h"

_Atomic uint64_t hs_lc_count[LCC_N];
struct hs_opslot hs_opslots[HS_OPSLOTS];

#define HS_LC_MAXTHR HS_OPSLOTS
static struct hs_lc_arg hs_lc_args[HS_LC_MAXTHR];
static pthread_t hs_lc_thr[HS_LC_MAXTHR];
static int hs_lc_nthr;
static pthread_t hs_monitor;
static int hs_have_monitor, hs_lc_now;

void hs_op_begin(struct hs_opslot *s, int op)
{
    atomic_store_explicit(&s->start, hs_now_ns(), memory_order_relaxed);
    /* Release, partner: the watchdog's acquire load of op (then start). */
    atomic_store_explicit(&s->op, op, memory_order_release);
}

void hs_op_end(struct hs_opslot *s) { atomic_store_explicit(&s->op, HS_OP_NONE, memory_order_release); }

static const char *hs_lc_skip_reason(int lifecycle)
{
    if ((lifecycle == LC_FORK || lifecycle == LC_EXIT) && hs_cfg && hs_cfg->variant)
        return "--variant runs the duv_ copy of the core, which registers no atfork handlers (by design: "
               "liburcu-bp's fork hooks do not nest); the fork scenarios test the release du_ library";
#ifdef HS_TSAN
    if (lifecycle == LC_DLOPEN)
        return "the dlopen'ed libCDeferredUnwindShared.so is not TSan-instrumented: its atomics are invisible to "
               "TSan, which would report the harness's callbacks as races";
#endif
#ifdef HS_ASAN
    if (lifecycle == LC_FORK || lifecycle == LC_EXIT)
        return "ASan's backtrace() interceptor deadlocks in a fork child of busy threads (its internal "
               "allocator's lock, held by a thread that is gone): attach and every unwind in the child hang";
    char path[PATH_MAX];
    if (lifecycle == LC_DLOPEN && hs_dlopen_find(path, sizeof path) != 0)
        return "no libCDeferredUnwindShared.so next to this ASan binary (swift build -c release --sanitize=address "
               "--scratch-path <this build> --product CDeferredUnwindShared adds it)";
#endif
    (void)lifecycle;
    return NULL;
}

int hs_lc_skipped(int lifecycle)
{
    static int told[LC_PROXY + 1];
    const char *why = hs_lc_skip_reason(lifecycle);
    if (why && !told[lifecycle]) {
        told[lifecycle] = 1;
        static const char *names[] = {"?", "fork-storm", "exit-pending", "dlopen-cycle", "longjmp-request",
                                      "tracer-churn", "proxy"};
        printf("unwind-stress: scenario %s skipped: %s\n", names[lifecycle], why);
        fflush(stdout);
    }
    return why != NULL;
}

int hs_lc_prepare(const int *scen, int n)
{
    int r = hs_children_init();
    if (r) {
        fprintf(stderr, "unwind-stress: mmap of the child table failed: %s\n", strerror(-r));
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (hs_scenarios[scen[i]].lifecycle != LC_DLOPEN || hs_lc_skip_reason(LC_DLOPEN))
            continue;
        char path[PATH_MAX];
        if (hs_dlopen_find(path, sizeof path) != 0) {
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

static void hs_lc_spawn(void *(*fn)(void *), int n, int scen, int occurrence, const char *who)
{
    for (int i = 0; i < n && hs_lc_nthr < HS_LC_MAXTHR; i++) {
        struct hs_lc_arg *a = &hs_lc_args[hs_lc_nthr];
        a->index = hs_lc_nthr;
        a->seed = hs_slice_seed(scen, occurrence, 30 + i);
        snprintf(hs_opslots[a->index].who, sizeof hs_opslots[a->index].who, "%s %d", who, i);
        atomic_store(&hs_opslots[a->index].op, HS_OP_NONE); /* before the thread exists: no partner */
        int r = pthread_create(&hs_lc_thr[hs_lc_nthr], NULL, fn, a);
        if (r != 0)
            hs_fatal("pthread_create: %s", strerror(r));
        hs_lc_nthr++;
    }
}

void hs_lc_slice_start(int scen, int occurrence)
{
    const struct hs_scenario *sc = &hs_scenarios[scen];
    hs_lc_nthr = 0;
    hs_have_monitor = 0;
    hs_lc_now = sc->lifecycle;
    int n = sc->lc_threads ? sc->lc_threads : 1;
    switch (sc->lifecycle) {
    case LC_FORK:
        if (pthread_create(&hs_monitor, NULL, hs_child_monitor_main, NULL) != 0)
            hs_fatal("pthread_create: %s", strerror(errno));
        hs_have_monitor = 1;
        break;
    case LC_EXIT:
        hs_lc_spawn(hs_exit_driver_main, n, scen, occurrence, "exit driver");
        break;
    case LC_DLOPEN:
        hs_lc_spawn(hs_dlopen_driver_main, n, scen, occurrence, "dlopen driver");
        break;
    case LC_LONGJMP:
        hs_lc_spawn(hs_lj_injector_main, n, scen, occurrence, "jump injector");
        break;
    case LC_CHURN:
        hs_lc_spawn(hs_churn_main, n, scen, occurrence, "churner");
        break;
    case LC_PROXY:
        hs_lc_spawn(hs_proxy_main, n, scen, occurrence, "proxy");
        break;
    default:
        break;
    }
}

void hs_lc_slice_stop(void)
{
    for (int i = 0; i < hs_lc_nthr; i++)
        pthread_join(hs_lc_thr[i], NULL);
    for (int i = 0; i < HS_OPSLOTS; i++)
        atomic_store(&hs_opslots[i].op, HS_OP_NONE); /* drivers joined: no partner */
    hs_lc_nthr = 0;
    if (hs_have_monitor) {
        pthread_join(hs_monitor, NULL);
        hs_have_monitor = 0;
    }
    hs_children_wait_all();
    if (hs_lc_now == LC_CHURN)
        hs_churn_drain();
    hs_lc_now = LC_NONE;
}
