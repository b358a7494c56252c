/*
 * unwinder_bench.c - cost per frame of glibc backtrace() (DWARF CFI, what
 * the core ships) against libunwind's unw_backtrace() with its per-thread
 * cache (Debian libunwind-dev's libunwind.so.8, dlopened RTLD_LOCAL: it
 * exports a weak backtrace and a strong _Unwind_Backtrace that must not
 * replace the program's) and a bounded, checked frame-pointer walk
 * (fp_walk.c), and whether each is correct across a frame built without a
 * frame pointer, and ehu (ehu.c: the project's own rule cache built from
 * .eh_frame; ehu_nogen = the same walk without the per-walk dlclose check).
 * Measures only; prints grep-able lines:
 *   UNWINDER depth=<d> backtrace_ns=<x> libunwind_ns=<z> fp_ns=<y> ehu_ns=<e> ehu_nogen_ns=<g>
 *   UNWINDER per-frame backtrace_ns=<x> libunwind_ns=<z> fp_ns=<y> ehu_ns=<e> ratio=<x/z> ehu_ratio=<x/e>
 *   UNWINDER stack20 frames=20 backtrace_ns=.. libunwind_ns=.. fp_ns=.. ehu_ns=.. ehu_nogen_ns=.. ehu_speedup=<bt/ehu>
 *   UNWINDER correctness fp_frames=<n> dwarf_frames=<m> missing=<names>
 *   UNWINDER libunwind-vs-backtrace frames=<n> equal=<m>
 *   UNWINDER ehu-vs-backtrace frames=<n>/<m> equal=<k> flags=<f>
 * (libunwind_ns=-1 when libunwind.so.8 is not installed).  With a second
 * argument "stack20" only the 20-frame stack is measured (for callgrind:
 * inclusive instructions / iterations = instructions per 20-frame stack).
 * Build and run: Scripts/bench/unwinder.sh (callgrind instruction counts too).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ehu.h"
#include "fp_walk.h"

int nofp_middle(int (*next)(int), int x);

static struct fp_stack stack;
static volatile int sink;
static int iterations = 20000;
static double t_bt, t_fp, t_lu = -1, t_ehu, t_ehu_nogen;
static int frames_seen; /* backtrace()'s count in measure() */
static int probe_only;

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

/* Each unwinder in ROUNDS interleaved rounds of iterations/ROUNDS calls;
 * the fastest round counts (the machine is shared: the minimum is the
 * repeatable estimate, and all five see the same rounds). */
#define ROUNDS 5
static __attribute__((noinline)) void measure(void)
{
    void *bt[256];
    uintptr_t ips[256];
    int stop, n = 0, per = iterations / ROUNDS > 0 ? iterations / ROUNDS : 1;
    unsigned fl;
    struct ehu_regs r;
    struct ehu_stack st = {0, stack.hi, 0};
    frames_seen = backtrace(bt, 256);
    if (probe_only)
        return;
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
    for (int round = 0; round < ROUNDS; round++) {
        double t[6];
        t[0] = now();
        for (int i = 0; i < per; i++)
            n += backtrace(bt, 256);
        t[1] = now();
        for (int i = 0; i < per; i++)
            n += fp_walk(&stack, ips, 256, &stop);
        t[2] = now();
        for (int i = 0; lu_backtrace && i < per; i++)
            n += lu_backtrace(bt, 256);
        t[3] = now();
        for (int i = 0; i < per; i++)
            n += ehu_backtrace(ips, 256, &fl);
        t[4] = now();
        for (int i = 0; i < per; i++) {
            EHU_CAPTURE(&r);
            st.lo = r.rsp;
            n += ehu_backtrace_from(&r, &st, ips, 256, EHU_O_EXACT_PC | EHU_O_NOGEN, &fl);
        }
        t[5] = now();
        for (int k = 0; k < 5; k++)
            if ((t[k + 1] - t[k]) / per < best[k])
                best[k] = (t[k + 1] - t[k]) / per;
    }
    sink = n;
    t_bt = best[0];
    t_fp = best[1];
    t_lu = lu_backtrace ? best[2] : -1;
    t_ehu = best[3];
    t_ehu_nogen = best[4];
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
    uintptr_t eh[64];
    unsigned fl;
    int ne = ehu_backtrace(eh, 64, &fl), eq = 0;
    for (int i = 1; i < ne && i < nd; i++) /* frame 0: two call sites in compare() */
        eq += eh[i] == (uintptr_t)bt[i];
    printf("UNWINDER ehu-vs-backtrace frames=%d/%d equal=%d (frames 1..) flags=%#x\n", ne, nd, eq, fl);
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
    int stack20_only = argc > 2 && strcmp(argv[2], "stack20") == 0;
    fp_walk_init(&stack);
    lu_open();
    void *warm[4];
    backtrace(warm, 4); /* first use loads libgcc_s */
    probe_only = 1;
    chain(0);
    probe_only = 0;
    int depth20 = 20 - frames_seen; /* chain(d) adds d frames */
    if (stack20_only) {
        chain(depth20);
        printf("UNWINDER stack20 frames=%d iterations=%d\n", frames_seen, iterations);
        return 0;
    }
    static const int depths[] = {8, 16, 32, 64};
    double bt8 = 0, fp8 = 0, bt64 = 0, fp64 = 0, lu8 = 0, lu64 = 0, eh8 = 0, eh64 = 0;
    for (unsigned k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        chain(depths[k]);
        printf("UNWINDER depth=%d backtrace_ns=%.1f libunwind_ns=%.1f fp_ns=%.1f ehu_ns=%.1f ehu_nogen_ns=%.1f\n",
               depths[k], t_bt, t_lu, t_fp, t_ehu, t_ehu_nogen);
        if (depths[k] == 8) { bt8 = t_bt; fp8 = t_fp; lu8 = t_lu; eh8 = t_ehu; }
        if (depths[k] == 64) { bt64 = t_bt; fp64 = t_fp; lu64 = t_lu; eh64 = t_ehu; }
    }
    double pb = (bt64 - bt8) / 56, pf = (fp64 - fp8) / 56, pl = lu_backtrace ? (lu64 - lu8) / 56 : -1;
    double pe = (eh64 - eh8) / 56;
    printf("UNWINDER per-frame backtrace_ns=%.2f libunwind_ns=%.2f fp_ns=%.2f ehu_ns=%.2f ratio=%.1f ehu_ratio=%.1f\n",
           pb, pl, pf, pe, lu_backtrace ? pb / pl : 0.0, pb / pe);
    chain(depth20);
    printf("UNWINDER stack20 frames=%d backtrace_ns=%.1f libunwind_ns=%.1f fp_ns=%.1f ehu_ns=%.1f ehu_nogen_ns=%.1f "
           "ehu_speedup=%.1f\n", frames_seen, t_bt, t_lu, t_fp, t_ehu, t_ehu_nogen, t_bt / t_ehu);
    outer_fp(0);
    return 0;
}
