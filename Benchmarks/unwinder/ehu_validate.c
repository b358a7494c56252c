/*
 * ehu_validate.c - ehu against glibc backtrace() (the reference), frame by
 * frame, over thousands of stacks built from random plans of steps (val.h:
 * -O2 -fomit-frame-pointer and -O0 C, tail calls, noreturn callers, libc's
 * qsort/bsearch calling back, PLT-heavy loops, over-aligned frames, a
 * hand-written CFA expression, the handler of a raised signal, libstdc++
 * frames, a dlopened object), deep recursion (200-300 steps), a second thread, and a dlclose/dlopen of an
 * object with the same code layout but other frame sizes at the same
 * address.  Two kinds of stacks:
 *   live:   backtrace() and ehu_backtrace() from the same function;
 *   signal: a profiling signal's handler takes backtrace() and copies the
 *           interrupted stack; later, in thread context, ehu unwinds the
 *           copy from the ucontext registers (bounded reader, exact pc).
 *           The handler also walks the live stack with NOFILL|NOGEN (the
 *           async-signal-safe mode): hits must equal the reference too.
 * Prints "EHU validate stacks=N frames=M equal=E differ=D fallback=F" and
 * every difference, both frames symbolized.  N = live + signal-copy stacks;
 * F = stacks with a frame ehu's rows cannot express (live: ehu_backtrace
 * returned backtrace()'s frames, flagged; copies: ehu stopped there,
 * flagged, and the frames up to it are compared).  D also counts the
 * handler walks' and the .plt rules' differences and live walks that
 * failed a bounds check.  Exit status 1 on a difference, or if the
 * dlclose control (generation check disabled) saw no stale row.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <time.h>
#include "ehu.h"
#include "ehu_cfi.h"
#include "val.h"
#include "val_check.h"


enum { K_O2, K_O0, K_TAIL, K_NORET, K_QSORT, K_BSEARCH, K_SPIN, K_ALIGN, K_EXPR, K_SIGNAL, K_PLUG, K_CXX_SORT, K_CXX_ONCE, K_CXX_STREAM, K_SWIFT_REC, K_SWIFT_DESCRIBE, K_SWIFT_CLASS, K_N };

struct counts sig, hnd;
static struct counts live, control;
static __thread struct counts *cur = &live; /* where live probes count (control: the stale-row run) */
long diffs_printed;
static int show_diffs = 1;

static __thread unsigned char plan[512]; /* per thread: the concurrent phase */
static __thread int plan_len, pos;
static int (*plug_fn)(int);
static int (*cxx[3])(int);
static int (*swift[3])(int); /* Swift -O (validate.sh: when swiftc is there) */

void val_sym(uintptr_t a, char *buf, size_t n)
{
    Dl_info di;
    if (a && dladdr((void *)(a - 1), &di) && di.dli_fname) {
        const char *f = strrchr(di.dli_fname, '/');
        snprintf(buf, n, "%s+%#lx (%s)", di.dli_sname ? di.dli_sname : "?",
                 (unsigned long)(a - (uintptr_t)(di.dli_sname ? di.dli_saddr : di.dli_fbase)), f ? f + 1 : di.dli_fname);
    } else
        snprintf(buf, n, "%#lx", (unsigned long)a);
}

/* ref[r0..nr) against got[g0..ng); returns the number of differing frames. */
long val_compare(struct counts *c, const char *what, void **ref, int nr, int r0, const uintptr_t *got, int ng,
                    int g0, unsigned fl)
{
    long d = 0;
    int n = nr - r0 > ng - g0 ? nr - r0 : ng - g0;
    c->stacks++;
    c->fallback += !!(fl & EHU_F_BACKTRACE);
    c->incomplete += !(fl & (EHU_F_COMPLETE | EHU_F_BACKTRACE));
    for (int i = 0; i < n; i++) {
        uintptr_t r = r0 + i < nr ? (uintptr_t)ref[r0 + i] : 0, g = g0 + i < ng ? got[g0 + i] : 0;
        c->frames++;
        if (r == g) {
            c->equal++;
            continue;
        }
        d++;
        c->differ++;
        if (show_diffs && __atomic_fetch_add(&diffs_printed, 1, __ATOMIC_RELAXED) < 200) {
            char a[256], b[256];
            val_sym(r, a, sizeof a);
            val_sym(g, b, sizeof b);
            printf("EHU diff %s frame=%d flags=%#x backtrace=%s ehu=%s\n", what, i, fl, a, b);
        }
    }
    return d;
}

static __attribute__((noinline)) int both(void **ref, uintptr_t *ips, int *ne, unsigned *fl)
{
    int n = backtrace(ref, MAXF);
    *ne = ehu_backtrace(ips, MAXF, fl);
    __asm__ volatile("" ::: "memory");
    return n;
}

static void probe(void)
{
    void *ref[MAXF];
    uintptr_t ips[MAXF];
    int ne;
    unsigned fl;
    val_check_sample();
    int nr = both(ref, ips, &ne, &fl);
    if (nr == MAXF && (fl & EHU_F_TRUNCATED) && ne < nr)
        nr = ne; /* both cut by the capacity: compare what both have */
    /* Frame 0 is both()'s own, at two call sites: compare from frame 1. */
    val_compare(cur, cur == &control ? "stale-control" : "live", ref, nr, 1, ips, ne, 1, fl);
    if ((fl & EHU_F_BADREAD) && cur != &control) { /* ehu's walk failed a bounds check: a bug to look at */
        cur->differ++;
        printf("EHU diff live: BADREAD (fell back to backtrace)\n");
    }
}

void vstep(void)
{
    if (pos >= plan_len) {
        probe();
        return;
    }
    int k = plan[pos++], x = pos;
    switch (k) {
    case K_O2: v_o2_rec(x); break;
    case K_O0: v_o0_rec(x); break;
    case K_TAIL: v_tail(x); break;
    case K_NORET: v_noret(x); break;
    case K_QSORT: v_qsort(x); break;
    case K_BSEARCH: v_bsearch(x); break;
    case K_SPIN: v_spin(x); break;
    case K_ALIGN: v_align(x); break;
    case K_EXPR: v_expr(x); break;
    case K_SIGNAL: v_signal(x); break;
    case K_PLUG: plug_fn(x); break;
    case K_CXX_SORT: case K_CXX_ONCE: case K_CXX_STREAM: cxx[k - K_CXX_SORT](x); break;
    default: swift[k - K_SWIFT_REC](x); break;
    }
    val_check_sample();
}

static void run(unsigned *seed, int n, int minlen, int maxlen, int force_plug)
{
    for (int s = 0; s < n; s++) {
        plan_len = minlen + (int)(rand_r(seed) % (unsigned)(maxlen - minlen + 1));
        for (int i = 0; i < plan_len; i++) {
            int k = (int)(rand_r(seed) % K_N);
            if ((k == K_PLUG && !plug_fn) || (k >= K_CXX_SORT && k <= K_CXX_STREAM && !cxx[0]) ||
                (k >= K_SWIFT_REC && !swift[0]) || (k == K_SPIN && rand_r(seed) % 4) ||
                (k == K_EXPR && rand_r(seed) % 8))
                k = i & 1 ? K_O0 : K_O2;
            plan[i] = (unsigned char)k;
        }
        if (force_plug)
            plan[rand_r(seed) % (unsigned)plan_len] = K_PLUG;
        pos = 0;
        vstep();
    }
}

static void set_stack_hi(void)
{
    pthread_attr_t a;
    void *addr;
    size_t size;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    t_stack_hi = (uintptr_t)addr + size;
}

struct targ {
    unsigned seed;
    pthread_t main;
};

static void *thread_main(void *arg)
{
    set_stack_hi();
    val_set_target(pthread_self());
    run(&((struct targ *)arg)->seed, 400, 1, 40, 0);
    val_set_target(((struct targ *)arg)->main); /* never signal a thread that has left */
    return NULL;
}

/* Concurrent phase: two threads walk (and fill) while the main thread
 * dlopens/dlcloses an object in a loop, so flushes race with lookups and
 * fills in the shared table. */
static pthread_mutex_t merge_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int conc_done;

static void *conc_main(void *arg)
{
    struct counts mine = {0};
    set_stack_hi();
    cur = &mine;
    run(arg, 1000, 1, 40, 0);
    pthread_mutex_lock(&merge_lock);
    live.stacks += mine.stacks, live.frames += mine.frames, live.equal += mine.equal;
    live.differ += mine.differ, live.fallback += mine.fallback, live.incomplete += mine.incomplete;
    conc_done++;
    pthread_mutex_unlock(&merge_lock);
    return NULL;
}

/* A child forked while the workers fill must unwind (ehu's fill lock is
 * held across fork): it compares a few stacks and exits 0 if all equal. */
static long forks, forks_bad;

static int fork_check(unsigned seed)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a deadlocked child dies: counted as bad */
        struct counts mine = {0};
        cur = &mine;
        run(&seed, 20, 1, 20, 0);
        _exit(mine.differ || !mine.stacks);
    }
    int st = 0;
    forks++;
    return pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static long concurrent(unsigned seed, const char *path)
{
    pthread_t t[2];
    unsigned seeds[2] = {seed * 7 + 1, seed * 7 + 2};
    long cycles = 0;
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, conc_main, &seeds[i]);
    for (;;) {
        pthread_mutex_lock(&merge_lock);
        int done = conc_done == 2;
        pthread_mutex_unlock(&merge_lock);
        if (done)
            break;
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (h)
            dlclose(h);
        if (cycles++ % 64 == 0)
            forks_bad += fork_check(seed + (unsigned)cycles);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return cycles;
}

static uintptr_t plug_open(const char *path, void **h)
{
    *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*h) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    plug_fn = (int (*)(int))dlsym(*h, "plug_call");
    ehu_sync(); /* as the core would from an interposed dlopen: the handler's NOGEN walks */
    struct link_map *lm;
    dlinfo(*h, RTLD_DI_LINKMAP, &lm);
    return lm->l_addr;
}

static void plug_close(void *h)
{
    plug_fn = NULL;
    dlclose(h);
    ehu_sync(); /* the same after dlclose */
}

static void print(const char *name, const struct counts *c)
{
    printf("EHU validate-%s stacks=%ld frames=%ld equal=%ld differ=%ld fallback=%ld incomplete=%ld\n", name, c->stacks,
           c->frames, c->equal, c->differ, c->fallback, c->incomplete);
}

/* ehu.h's test hooks (built with -DEHU_TEST_HOOKS). */
int ehu_test_skip_generation, ehu_test_no_dl_find_object;

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines survive a crash */
    /* In the core, fork.c registers these; here the suite does. */
    pthread_atfork(ehu_fork_prepare, ehu_fork_after, ehu_fork_after);
    /* EHU_PHDR=1: the FDE lookup of glibc < 2.35 (dl_iterate_phdr). */
    ehu_test_no_dl_find_object = getenv("EHU_PHDR") != NULL;
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    const char *dir = argc > 2 ? argv[2] : ".";
    unsigned seed = argc > 3 ? (unsigned)atoi(argv[3]) : 12345;
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/libehu_plug_a.so", dir);
    snprintf(pb, sizeof pb, "%s/libehu_plug_b.so", dir);
    void *self = dlopen(NULL, RTLD_NOW);
    static const char *cn[3] = {"v_cxx_sort", "v_cxx_once", "v_cxx_stream"};
    static const char *sn[3] = {"v_swift_rec", "v_swift_describe", "v_swift_class"};
    for (int i = 0; i < 3; i++) {
        cxx[i] = (int (*)(int))dlsym(self, cn[i]);
        swift[i] = (int (*)(int))dlsym(self, sn[i]);
    }
    printf("EHU workloads: c++ %s, swift -O %s\n", cxx[0] ? "yes" : "no (no c++)", swift[0] ? "yes" : "no (no swiftc)");
    set_stack_hi();
    void *warm[4];
    backtrace(warm, 4);
    val_sampling_start();

    void *h;
    uintptr_t base_a = plug_open(pa, &h);
    run(&seed, 1500 * scale, 1, 40, 0);   /* random stacks, the plugin (a) loaded */
    run(&seed, 40 * scale, 200, 300, 0);  /* deep recursion */
    pthread_t t;
    struct targ ta = {seed + 1, pthread_self()};
    pthread_create(&t, NULL, thread_main, &ta);
    pthread_join(t, NULL);
    /* Until enough signal samples (the machine may give us little CPU). */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        run(&seed, 50, 1, 40, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while (sig.stacks < 1000L * scale && t1.tv_sec - t0.tv_sec < 30);
    run(&seed, 200 * scale, 1, 30, 1);    /* frames of (a) in every stack */
    plug_close(h);
    uintptr_t base_b = plug_open(pb, &h); /* same code layout, other frames */
    run(&seed, 200 * scale, 1, 30, 1);
    printf("EHU dlclose a_base=%#lx b_base=%#lx same_address=%d\n", (unsigned long)base_a, (unsigned long)base_b,
           base_a == base_b);

    val_sampling_stop();
    /* Control: without the generation check, (b)'s rows are used for (a). */
    ehu_test_skip_generation = 1; /* before the close: (b)'s rows stay */
    plug_close(h);
    uintptr_t base_a2 = plug_open(pa, &h);
    cur = &control;
    show_diffs = 0;
    run(&seed, 50, 1, 10, 1);
    ehu_test_skip_generation = 0;
    cur = &live;
    show_diffs = 1;
    plug_close(h);
    printf("EHU dlclose-control (generation check disabled, same_address=%d): stacks=%ld differ=%ld "
           "(expected > 0: proves the dlclose test can see stale rows)\n", base_a2 == base_b, control.stacks,
           control.differ);
    run(&seed, 100, 1, 20, 0); /* after re-enabling: flushed, correct again */
    struct ehu_stats before;
    ehu_get_stats(&before);
    long stacks0 = live.stacks;
    long cycles = concurrent(seed, pb);
    struct ehu_stats after;
    ehu_get_stats(&after);
    printf("EHU concurrent threads=2 stacks=%ld dlopen_dlclose_cycles=%ld flushes=%lu fills=%lu forks=%ld "
           "forks_bad=%ld (walks and fills racing flushes and forks)\n", live.stacks - stacks0, cycles,
           after.flushes - before.flushes, after.fills - before.fills, forks, forks_bad);

    long plt_bad = val_check_plt();
    val_signal_notes();
    print("live", &live);
    print("signal", &sig);
    print("handler", &hnd);
    struct ehu_stats es;
    ehu_get_stats(&es);
    printf("EHU validate-notes fills=%lu flushes=%lu evictions=%lu dwarf_rows=%lu nofde_rows=%lu fallbacks=%lu\n",
           es.fills, es.flushes, es.evictions, es.dwarf_rows, es.nofde_rows, es.fallbacks);
    /* The handler's NOFILL walks (a prefix until the first miss) are
     * reported above, not added here: they re-walk the signal stacks. */
    long S = live.stacks + sig.stacks, M = live.frames + sig.frames;
    long E = live.equal + sig.equal, D = live.differ + sig.differ + hnd.differ + plt_bad + forks_bad;
    long F = live.fallback + sig.fallback;
    printf("EHU validate stacks=%ld frames=%ld equal=%ld differ=%ld fallback=%ld\n", S, M, E, D, F);
    /* The control must see the stale rows, or the dlclose test proves nothing. */
    int control_ok = base_a2 != base_b || control.differ > 0;
    if (!control_ok)
        printf("EHU dlclose-control FAILED: no stale row seen at the same address\n");
    return D != 0 || !control_ok;
}
