/*
 * du-bench-driver - the suite's kernels without Swift or package-benchmark.
 *
 *   du-bench-driver op NAME N      run one kernel N times (for callgrind:
 *       valgrind --tool=callgrind --toggle-collect=k_NAME ... op NAME N
 *       gives instructions per operation = total Ir / N)
 *   du-bench-driver ratios [ROUNDS]  interleaved A/B timing of each
 *       measurement and its baseline; medians of ROUNDS blocks each.
 *   du-bench-driver footprint
 *   du-bench-driver urcu-flavors [ROUNDS]  liburcu bp vs memb, bp/memb per
 *       row (urcu_flavors_mode.c; Scripts/bench/urcu-flavors.sh adds callgrind)
 *   du-bench-driver urcu-op NAME N         one of those kernels, for callgrind
 *   du-bench-driver cancel-idle [SAMPLES [OTHERS]]  (7a) register + cancel,
 *       no callback running (CCancelBench; du-cancel-bench has the same mode)
 *   du-bench-driver cancel-sleep [REPS [MS]]  (7b) cancel of a tracer while
 *       another tracer's callback sleeps MS ms on another thread
 *   du-bench-driver proxy [ROUNDS [THREADS]]  (9) frozen regions and proxy
 *       safe points (CProxyBench)
 *
 * ratios rows keep their names and order (runs stay comparable); new rows
 * are appended after the last one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_support.h"
#include "deferred_unwind.h"
#include "urcu_flavors_mode.h"
#include "dus_bench.h"
#include "cancel_bench.h"
#include "proxy_bench.h"

static void die(const char *what, int r)
{
    fprintf(stderr, "%s: %d (%s)\n", what, r, strerror(r < 0 ? -r : r));
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef uint64_t (*kernel_fn)(uint64_t n, int arg);
static volatile uint64_t sink;

/* The white-box kernels run on duv_; a thread is attached to one library at
 * a time (both register the thread with the same liburcu). */
static void use(int lib)
{
    static int cur = BENCH_DU;
    if (cur == lib)
        return;
    bench_detach(cur);
    int r = bench_attach(lib);
    if (r < 0)
        die("attach", r);
    cur = lib;
}
static uint64_t w_first(uint64_t n, int a) { (void)a; use(BENCH_DUV); uint64_t s = k_request_first(n); use(BENCH_DU); return s; }
static uint64_t w_first_sp(uint64_t n, int a) { (void)a; return k_request_first_sp(n); }
static uint64_t w_first_dus(uint64_t n, int a) { (void)a; return k_request_first_dus(n); }
static uint64_t w_lb(uint64_t n, int a) { (void)a; return k_lower_bound(n); }
static uint64_t w_repeat(uint64_t n, int a) { (void)a; return k_request_repeat(n); }
static uint64_t w_idle(uint64_t n, int a) { (void)a; return k_safepoint_idle(n); }
static uint64_t w_sp(uint64_t n, int k) { return k_safepoint_k(n, k); }
static uint64_t w_bt(uint64_t n, int k) { return k_backtrace_k(n, k); }
static uint64_t w_sig_empty(uint64_t n, int a) { (void)a; bench_signal_install(0); return k_raise(n, 0); }
static uint64_t w_sig_req(uint64_t n, int a) { (void)a; bench_signal_install(1); return k_raise(n, 0); }
static uint64_t w_sig_empty_reset(uint64_t n, int a)
{
    (void)a; use(BENCH_DUV); bench_signal_install(3); uint64_t s = k_raise(n, 1); use(BENCH_DU); return s;
}
static uint64_t w_sig_first(uint64_t n, int a)
{
    (void)a; use(BENCH_DUV); bench_signal_install(2); uint64_t s = k_raise(n, 1); use(BENCH_DU); return s;
}

static double block_ns(kernel_fn f, int arg, uint64_t n)
{
    uint64_t t0 = bench_now_ns();
    sink += f(n, arg);
    uint64_t t1 = bench_now_ns();
    return (double)(t1 - t0) / (double)n;
}

/* Interleave A and B blocks; report medians (ns/op) and their ratio. */
static void pair(const char *name, kernel_fn a, int aa, kernel_fn b, int ba, uint64_t n, int rounds)
{
    uint64_t *va = calloc((size_t)rounds, sizeof(uint64_t)), *vb = calloc((size_t)rounds, sizeof(uint64_t));
    sink += a(n / 10 + 1, aa) + b(n / 10 + 1, ba); /* warm-up */
    for (int r = 0; r < rounds; r++) {
        va[r] = (uint64_t)(block_ns(a, aa, n) * 1000.0);
        vb[r] = (uint64_t)(block_ns(b, ba, n) * 1000.0);
    }
    qsort(va, (size_t)rounds, sizeof(uint64_t), cmp_u64);
    qsort(vb, (size_t)rounds, sizeof(uint64_t), cmp_u64);
    double ma = va[rounds / 2] / 1000.0, mb = vb[rounds / 2] / 1000.0;
    printf("%-34s %12.2f %12.2f %8.3f   (min %.2f / %.2f)\n", name, ma, mb, ma / mb,
           va[0] / 1000.0, vb[0] / 1000.0);
    free(va);
    free(vb);
}

static const struct { const char *name; kernel_fn f; int arg; } kernels[] = {
    {"request_first", w_first, 0},   {"lower_bound", w_lb, 0},
    {"request_first_sp", w_first_sp, 0},
    {"request_repeat", w_repeat, 0}, {"safepoint_idle", w_idle, 0},
    {"safepoint_k1", w_sp, 1},       {"safepoint_k8", w_sp, 8},
    {"safepoint_k61", w_sp, 61},     {"backtrace_k1", w_bt, 1},
    {"backtrace_k8", w_bt, 8},       {"backtrace_k61", w_bt, 61},
    {"raise_empty", w_sig_empty, 0}, {"raise_request", w_sig_req, 0},
    {"raise_empty_reset", w_sig_empty_reset, 0}, {"raise_request_first", w_sig_first, 0},
    {"request_first_dus", w_first_dus, 0},
};

int main(int argc, char **argv)
{
    int r;
    /* Before bench_init: these modes want no thread registered by the library. */
    if (argc >= 2 && strcmp(argv[1], "urcu-flavors") == 0)
        return urcu_flavors_table(argc >= 3 ? atoi(argv[2]) : 31);
    if (argc >= 4 && strcmp(argv[1], "urcu-op") == 0)
        return urcu_flavors_op(argv[2], strtoull(argv[3], NULL, 0));
    if ((r = bench_init("none")) < 0)
        die("duv_select", r);
    /* Cancel rows: their own tracers (the table below holds every bit). */
    if (argc >= 2 && strcmp(argv[1], "proxy") == 0)
        return proxy_bench_main(argc >= 3 ? atoi(argv[2]) : 201, argc >= 4 ? atoi(argv[3]) : 8);
    if (argc >= 2 && strncmp(argv[1], "cancel-", 7) == 0) {
        if ((r = bench_attach(BENCH_DU)) < 0)
            die("attach", r);
        if (strcmp(argv[1], "cancel-idle") == 0)
            return cancel_idle_main(argc >= 3 ? atoi(argv[2]) : 2000, argc >= 4 ? atoi(argv[3]) : 1);
        if (strcmp(argv[1], "cancel-sleep") == 0)
            return cancel_sleep_main(argc >= 3 ? atoi(argv[2]) : 21,
                                     argc >= 4 ? (unsigned)atoi(argv[3]) : 100);
    }
    if ((r = bench_register(BENCH_DU, DU_MAX_TRACERS, 0, 0)) < 0)
        die("register", r);
    if ((r = bench_register(BENCH_DUV, 1, 0, 0)) < 0)
        die("register duv", r);
    if ((r = bench_attach(BENCH_DU)) < 0)
        die("attach", r);
    dus_setup(); /* the dus_ copy's own thread state and tracer (dus_harness.c) */
    sink += k_safepoint_k(2, 1); /* warm-up: the trace cache */

    if (argc >= 4 && strcmp(argv[1], "op") == 0) {
        uint64_t n = strtoull(argv[3], NULL, 0);
        for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
            if (strcmp(argv[2], kernels[i].name) == 0) {
                sink += kernels[i].f(n, kernels[i].arg);
                printf("%s x %llu done\n", argv[2], (unsigned long long)n);
                return 0;
            }
        fprintf(stderr, "unknown kernel %s\n", argv[2]);
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "footprint") == 0) {
        printf("du_thread_footprint() = %u bytes\ndu_trace_cache_bytes() = %u bytes (capacity %u ips)\n",
               bench_thread_footprint(), bench_trace_cache_bytes(), bench_trace_capacity());
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "ratios") == 0) {
        int rounds = argc >= 3 ? atoi(argv[2]) : 31;
        printf("%-34s %12s %12s %8s\n", "measurement vs baseline (ns/op)", "A", "B", "A/B");
        pair("(1) request first vs lower bound", w_first, 0, w_lb, 0, 200000, rounds);
        pair("(2) request repeat vs lower bound", w_repeat, 0, w_lb, 0, 1000000, rounds);
        pair("(4) safe point idle vs request rep", w_idle, 0, w_repeat, 0, 1000000, rounds);
        pair("(3) raise+request vs raise+empty", w_sig_req, 0, w_sig_empty, 0, 20000, rounds);
        pair("(3) raise+first vs raise+empty(+rst)", w_sig_first, 0, w_sig_empty_reset, 0, 20000, rounds);
        pair("(5) K=1: safe point vs 1 backtrace", w_sp, 1, w_bt, 1, 2000, rounds);
        pair("(5) K=8: safe point vs 8 backtraces", w_sp, 8, w_bt, 8, 500, rounds);
        pair("(5) K=61: safe point vs 61 bt", w_sp, 61, w_bt, 61, 100, rounds);
        /* Added 2026-11-21 (after the thread-owned cookie): the shipped
         * request source (dus_, static, white-box reset) against the same
         * lower bound. */
        pair("(1s) request first (dus_) vs lower bd", w_first_dus, 0, w_lb, 0, 200000, rounds);
        return 0;
    }
    fprintf(stderr, "usage: %s op NAME N | ratios [ROUNDS] | footprint | urcu-flavors [ROUNDS] | urcu-op NAME N | cancel-idle [SAMPLES [OTHERS]] | cancel-sleep [REPS [MS]] | proxy [ROUNDS [THREADS]]\n", argv[0]);
    return 2;
}
