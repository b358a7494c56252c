/*
 * ehu_costs.c - the measurements behind ehu's design choices (ehu.c,
 * ehu_cfi.c), one run, fastest of 5 rounds each:
 *   gen_phdr     one dl_iterate_phdr callback (dlpi_adds/subs): the per-walk
 *                dlclose check ehu_sync() pays (takes the loader lock)
 *   find_object  _dl_find_object (glibc >= 2.35, lock-free): ehu's FDE
 *                lookup, first step of a miss
 *   unwind_fde   libgcc's _Unwind_Find_FDE: the alternative FDE lookup
 *   cfi_rule     ehu_cfi_rule: a whole miss (lookup, CIE/FDE parse, CFA
 *                program up to the pc), over the pcs of this program's
 *                functions
 *   flush        ehu_sync() after a dlopen/dlclose: the whole-table flush
 * Prints "EHU costs gen_phdr_ns=.. find_object_ns=.. unwind_fde_ns=..
 * cfi_rule_ns=.. flush_us=..".  Then why ehu holds fork off around its
 * dl_iterate_phdr: children forked while another thread loops on raw
 * dl_iterate_phdr hang in their own (glibc 2.36 leaves the loader's write
 * lock held in the child); with the thread looping on ehu_sync() they do
 * not: "EHU fork children_hung raw=../10 ehu_sync=../10".
 * Build/run: Scripts/bench/unwinder.sh.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>
#include "ehu.h"
#include "ehu_cfi.h"

struct dwarf_eh_bases {
    void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int gen_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(unsigned long *)arg = info->dlpi_adds + info->dlpi_subs;
    return 1;
}

int main(int argc, char **argv);

/* pcs spread over libc's text (printf's neighbourhood) and ours. */
static uintptr_t pc_at(int i)
{
    return (i & 1 ? (uintptr_t)printf : (uintptr_t)main) + (uintptr_t)(i * 37 % 512);
}

#define BEST(label, n, body)                                                   \
    do {                                                                       \
        double best = 1e30;                                                    \
        for (int rd_ = 0; rd_ < 5; rd_++) {                                    \
            double t0 = now();                                                 \
            for (int i = 0; i < (n); i++) { body; }                            \
            double t = (now() - t0) / (n);                                     \
            if (t < best) best = t;                                            \
        }                                                                      \
        label = best;                                                          \
    } while (0)

static int slow_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size, (void)arg;
    for (volatile int k = 0; k < 200; k++)
        ;
    return 0;
}

static volatile int spin_mode, spin_stop;

static void *spinner(void *arg)
{
    (void)arg;
    while (!spin_stop) {
        if (spin_mode == 0)
            dl_iterate_phdr(slow_cb, NULL);
        else
            ehu_sync();
    }
    return NULL;
}

/* Forks 10 children while a thread loops; each child calls dl_iterate_phdr
 * under alarm(1).  Returns how many hung. */
static int fork_hangs(int mode)
{
    pthread_t t;
    int hung = 0;
    spin_mode = mode;
    spin_stop = 0;
    pthread_create(&t, NULL, spinner, NULL);
    for (int i = 0; i < 10; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(1);
            dl_iterate_phdr(slow_cb, NULL);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        hung += !WIFEXITED(st);
    }
    spin_stop = 1;
    pthread_join(t, NULL);
    return hung;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    pthread_atfork(ehu_fork_prepare, ehu_fork_after, ehu_fork_after); /* fork.c does this in the core */
    double gen, fo, uf, rule, flush;
    unsigned long g = 0;
    struct dl_find_object r;
    struct dwarf_eh_bases b;
    struct ehu_rule ru;
    BEST(gen, n, dl_iterate_phdr(gen_cb, &g); sink += g);
    BEST(fo, n, sink += (unsigned long)_dl_find_object((void *)pc_at(i), &r));
    BEST(uf, n, sink += (unsigned long)_Unwind_Find_FDE((void *)pc_at(i), &b));
    BEST(rule, n, ehu_cfi_rule(pc_at(i), &ru); sink += ru.kind);
    /* Fill the table, then time the flush a dlopen forces. */
    uintptr_t ips[64];
    unsigned fl;
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        ehu_backtrace(ips, 64, &fl); /* some rows to flush */
        void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL); /* not linked in: moves dlpi_adds */
        double t0 = now();
        ehu_sync();
        double t = now() - t0;
        if (t < best)
            best = t;
        if (h)
            dlclose(h);
        ehu_sync();
    }
    flush = best / 1000;
    printf("EHU costs gen_phdr_ns=%.1f find_object_ns=%.1f unwind_fde_ns=%.1f cfi_rule_ns=%.1f flush_us=%.1f\n", gen, fo,
           uf, rule, flush);
    fflush(stdout);
    int raw = fork_hangs(0), gated = fork_hangs(1);
    printf("EHU fork children_hung raw=%d/10 ehu_sync=%d/10\n", raw, gated);
    return 0;
}
