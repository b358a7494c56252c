/*
 * unwinder_bench.c - cost per frame of glibc backtrace() (DWARF CFI, what
 * the core ships) against libunwind's unw_backtrace() with its per-thread
 * cache (Debian libunwind-dev's libunwind.so.8, dlopened RTLD_LOCAL: it
 * exports a weak backtrace and a strong _Unwind_Backtrace that must not
 * replace the program's) and a bounded, checked frame-pointer walk
 * (fp_walk.c), and whether each is correct across a frame built without a
 * frame pointer.  Measures only; prints grep-able lines:
 *   UNWINDER depth=<d> backtrace_ns=<x> libunwind_ns=<z> fp_ns=<y>
 *   UNWINDER per-frame backtrace_ns=<x> libunwind_ns=<z> fp_ns=<y> ratio=<x/z>
 *   UNWINDER correctness fp_frames=<n> dwarf_frames=<m> missing=<names>
 *   UNWINDER libunwind-vs-backtrace frames=<n> equal=<m>
 * (libunwind_ns=-1 when libunwind.so.8 is not installed).
 * Build and run: Benchmarks/unwinder.sh (callgrind instruction counts too).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fp_walk.h"

int nofp_middle(int (*next)(int), int x);

static struct fp_stack stack;
static volatile int sink;
static int iterations = 20000;
static double t_bt, t_fp, t_lu = -1;

/* libunwind, when installed: unw_backtrace and the caching policy. */
static int (*lu_backtrace)(void **, int);

static void lu_open(void)
{
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    int (*set_policy)(void *, int) = (int (*)(void *, int))dlsym(h, "_ULx86_64_set_caching_policy");
    void **local_as = dlsym(h, "_ULx86_64_local_addr_space");
    lu_backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    if (set_policy && local_as)
        set_policy(*local_as, 2 /* UNW_CACHE_PER_THREAD */);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static __attribute__((noinline)) void measure(void)
{
    void *bt[256];
    uintptr_t ips[256];
    int stop, n = 0;
    double t0 = now();
    for (int i = 0; i < iterations; i++)
        n += backtrace(bt, 256);
    double t1 = now();
    for (int i = 0; i < iterations; i++)
        n += fp_walk(&stack, ips, 256, &stop);
    double t2 = now();
    if (lu_backtrace) {
        for (int i = 0; i < iterations; i++)
            n += lu_backtrace(bt, 256);
        t_lu = (now() - t2) / iterations;
    }
    sink = n;
    t_bt = (t1 - t0) / iterations;
    t_fp = (t2 - t1) / iterations;
}

static __attribute__((noinline)) int chain(int depth)
{
    if (depth <= 0) {
        measure();
        return 0;
    }
    int r = chain(depth - 1);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return r + 1;
}

/* Correctness across a frame without a frame pointer:
 * main -> outer_fp -> nofp_middle -> inner_fp -> compare(). */
static __attribute__((noinline)) int compare(int x)
{
    void *bt[64];
    uintptr_t ips[64];
    int stop;
    int nd = backtrace(bt, 64);
    int nf = fp_walk(&stack, ips, 64, &stop);
    printf("UNWINDER correctness fp_frames=%d dwarf_frames=%d stop=%d missing=", nf, nd, stop);
    /* A DWARF frame is "missing" when its function has no frame in the fp walk. */
    int missing = 0;
    for (int i = 1; i < nd; i++) {
        Dl_info di, dj;
        if (!dladdr((char *)bt[i] - 1, &di) || !di.dli_saddr)
            continue;
        int found = 0;
        for (int j = 0; j < nf; j++)
            if (dladdr((char *)ips[j] - 1, &dj) && dj.dli_saddr == di.dli_saddr)
                found = 1;
        if (!found) {
            printf("%s%s", missing ? "," : "", di.dli_sname ? di.dli_sname : "?");
            missing++;
        }
    }
    printf("%s\n", missing ? "" : "none");
    if (lu_backtrace) {
        void *lu[64];
        int nl = lu_backtrace(lu, 64), equal = 0;
        for (int i = 0; i < nl && i < nd; i++)
            equal += lu[i] == bt[i];
        printf("UNWINDER libunwind-vs-backtrace frames=%d/%d equal=%d\n", nl, nd, equal);
    }
    return x + missing;
}

static __attribute__((noinline)) int inner_fp(int x)
{
    int r = compare(x);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

__attribute__((noinline)) int outer_fp(int x)
{
    int r = nofp_middle(inner_fp, x);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iterations = atoi(argv[1]);
    fp_walk_init(&stack);
    lu_open();
    void *warm[4];
    backtrace(warm, 4); /* first use loads libgcc_s */
    static const int depths[] = {8, 16, 32, 64};
    double bt8 = 0, fp8 = 0, bt64 = 0, fp64 = 0, lu8 = 0, lu64 = 0;
    for (unsigned k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        chain(depths[k]);
        printf("UNWINDER depth=%d backtrace_ns=%.1f libunwind_ns=%.1f fp_ns=%.1f\n", depths[k], t_bt, t_lu, t_fp);
        if (depths[k] == 8) { bt8 = t_bt; fp8 = t_fp; lu8 = t_lu; }
        if (depths[k] == 64) { bt64 = t_bt; fp64 = t_fp; lu64 = t_lu; }
    }
    double pb = (bt64 - bt8) / 56, pf = (fp64 - fp8) / 56, pl = lu_backtrace ? (lu64 - lu8) / 56 : -1;
    printf("UNWINDER per-frame backtrace_ns=%.2f libunwind_ns=%.2f fp_ns=%.2f ratio=%.1f\n", pb, pl, pf,
           lu_backtrace ? pb / pl : 0.0);
    outer_fp(0);
    return 0;
}
