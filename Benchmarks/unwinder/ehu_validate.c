/*
 * ehu_validate.c - ehu against glibc backtrace() (the reference), frame by
 * frame, over thousands of stacks built from random plans of steps (val.h:
 * -O2 -fomit-frame-pointer and -O0 C, tail calls, noreturn callers, libc's
 * qsort/bsearch calling back, PLT-heavy loops, libstdc++ frames, a dlopened
 * object), deep recursion, a second thread, and a dlclose/dlopen of an
 * object with the same code layout but other frame sizes at the same
 * address.  Two kinds of stacks:
 *   live:   backtrace() and ehu_backtrace() from the same function;
 *   signal: a profiling signal's handler takes backtrace() and copies the
 *           interrupted stack; later, in thread context, ehu unwinds the
 *           copy from the ucontext registers (bounded reader, exact pc).
 *           The handler also walks the live stack with NOFILL|NOGEN (the
 *           async-signal-safe mode): hits must equal the reference too.
 * Prints "EHU validate stacks=N frames=M equal=E differ=D fallback=F" and
 * every difference, both frames symbolized.  Exit status 1 on a difference.
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
#include <sys/prctl.h>
#include <time.h>
#include "ehu.h"
#include "ehu_cfi.h"
#include "val.h"

#define MAXF 1024
#define COPY (256 * 1024)

enum { K_O2, K_O0, K_TAIL, K_NORET, K_QSORT, K_BSEARCH, K_SPIN, K_ALIGN, K_EXPR, K_PLUG, K_CXX_SORT, K_CXX_ONCE, K_CXX_STREAM, K_N };

struct counts { long stacks, frames, equal, differ, fallback, incomplete; };
static struct counts live, sig, hnd, control;
static struct counts *cur = &live; /* live probes count here (control: the stale-row run) */
static long plt_bad, sig_in_plt;
static uintptr_t plt_lo, plt_hi;
static long sig_noref, sig_dwarf, hnd_miss, diffs_printed;
static int show_diffs = 1;

static unsigned char plan[512];
static int plan_len, pos;
static int (*plug_fn)(int);
static int (*cxx[3])(int);

/* The pending signal sample: written by the handler, consumed in thread context. */
static struct {
    volatile sig_atomic_t busy;
    struct ehu_regs regs;
    void *ref[MAXF];
    int nref, nh;
    unsigned hflags;
    uintptr_t hips[MAXF];
    uintptr_t lo, hi;
    _Alignas(16) unsigned char copy[COPY];
} smp;
static __thread uintptr_t t_stack_hi;
static pthread_t target, main_thread; /* the thread running the workload */
static pthread_mutex_t target_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int sampling = 1;
static long signals_sent;

/* Sampler: the kernel's profiling timer ticks every 4 ms at best; to land
 * thousands of signals at random points we pthread_kill the workload
 * thread whenever the previous sample has been consumed. */
static void *sampler_main(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10000};
    prctl(PR_SET_TIMERSLACK, 1000UL);
    while (sampling) {
        pthread_mutex_lock(&target_lock); /* never signal a thread that has left */
        if (!smp.busy) {
            pthread_kill(target, SIGPROF);
            signals_sent++;
        }
        pthread_mutex_unlock(&target_lock);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void sym(uintptr_t a, char *buf, size_t n)
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
static long compare(struct counts *c, const char *what, void **ref, int nr, int r0, const uintptr_t *got, int ng,
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
        if (show_diffs && diffs_printed++ < 200) {
            char a[256], b[256];
            sym(r, a, sizeof a);
            sym(g, b, sizeof b);
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

/* Where walks from copies stopped (DWARF/NOFDE), by function. */
static struct { char name[256]; unsigned fl; long n; } stops[16];

static void note_stop(uintptr_t pc, unsigned fl)
{
    char nm[256];
    sym(pc + 1, nm, sizeof nm);
    char *plus = strchr(nm, '+');
    if (plus)
        memmove(plus, strchr(plus, ' '), strlen(strchr(plus, ' ')) + 1);
    for (int i = 0; i < 16; i++) {
        if (!stops[i].n)
            snprintf(stops[i].name, sizeof stops[i].name, "%s", nm), stops[i].fl = fl & (EHU_F_DWARF | EHU_F_NOFDE);
        if (strcmp(stops[i].name, nm) == 0) {
            stops[i].n++;
            return;
        }
    }
}

static void check_sample(void)
{
    if (!smp.busy)
        return;
    uintptr_t ips[MAXF];
    int k = -1;
    for (int i = 0; i < smp.nref && i < 8; i++)
        if ((uintptr_t)smp.ref[i] == smp.regs.rip) {
            k = i;
            break;
        }
    if (k < 0) {
        sig_noref++; /* the handler's backtrace did not pass the signal frame */
        smp.busy = 0;
        return;
    }
    sig_in_plt += smp.regs.rip >= plt_lo && smp.regs.rip < plt_hi;
    struct ehu_stack st = {smp.lo, smp.hi, (intptr_t)smp.copy - (intptr_t)smp.lo};
    unsigned fl;
    int n = ehu_backtrace_from(&smp.regs, &st, ips, MAXF, EHU_O_EXACT_PC, &fl);
    if (fl & (EHU_F_DWARF | EHU_F_NOFDE)) {
        /* No DWARF fallback from a copy: compare the prefix ehu produced. */
        sig_dwarf++;
        note_stop(ips[n - 1], fl);
        compare(&sig, "signal-prefix", smp.ref, k + n < smp.nref ? k + n : smp.nref, k, ips, n, 0, fl | EHU_F_BACKTRACE);
    } else if (compare(&sig, "signal", smp.ref, smp.nref, k, ips, n, 0, fl) && getenv("EHU_DEBUG")) {
        char nm[256];
        struct ehu_rule ru;
        sym(smp.regs.rip + 1, nm, sizeof nm);
        ehu_cfi_rule(smp.regs.rip, &ru);
        printf("EHU debug %s kind=%d cfa_off=%d rbp=%d/%d\n", nm, ru.kind, ru.cfa_off, ru.rbp_saved, ru.rbp_off);
        printf("EHU debug n=%d rip=%#lx rsp=%#lx rbp=%#lx lo=%#lx hi=%#lx last=%#lx\n", n, smp.regs.rip, smp.regs.rsp,
               smp.regs.rbp, smp.lo, smp.hi, ips[n - 1]);
    }
    if (smp.hflags & EHU_F_MISS) {
        hnd_miss++;
        compare(&hnd, "handler-prefix", smp.ref, k + smp.nh < smp.nref ? k + smp.nh : smp.nref, k, smp.hips, smp.nh, 0,
                smp.hflags | EHU_F_BACKTRACE);
    } else if (!(smp.hflags & (EHU_F_DWARF | EHU_F_NOFDE)))
        compare(&hnd, "handler", smp.ref, smp.nref, k, smp.hips, smp.nh, 0, smp.hflags);
    smp.busy = 0;
}

static void on_prof(int signo, siginfo_t *si, void *ucv)
{
    (void)signo;
    (void)si;
    if (smp.busy || !t_stack_hi)
        return;
    int saved = errno;
    ehu_regs_from_ucontext(ucv, &smp.regs);
    smp.nref = backtrace(smp.ref, MAXF);
    /* From the red zone up: epilogue CFI (GCC emits no .cfi_restore after
     * a pop) can keep a popped register's slot below sp; it is intact. */
    uintptr_t lo = (smp.regs.rsp & ~(uintptr_t)7) - 128, hi = t_stack_hi;
    if (hi - lo > COPY)
        hi = lo + COPY;
    memcpy(smp.copy, (void *)lo, hi - lo);
    smp.lo = lo;
    smp.hi = hi;
    struct ehu_stack live_st = {lo, t_stack_hi, 0};
    smp.nh = ehu_backtrace_from(&smp.regs, &live_st, smp.hips, MAXF, EHU_O_EXACT_PC | EHU_O_NOFILL | EHU_O_NOGEN,
                                &smp.hflags);
    smp.busy = 1;
    errno = saved;
}

static void probe(void)
{
    void *ref[MAXF];
    uintptr_t ips[MAXF];
    int ne;
    unsigned fl;
    check_sample();
    int nr = both(ref, ips, &ne, &fl);
    /* Frame 0 is both()'s own, at two call sites: compare from frame 1. */
    compare(cur, cur == &control ? "stale-control" : "live", ref, nr, 1, ips, ne, 1, fl);
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
    case K_PLUG: plug_fn(x); break;
    default: cxx[k - K_CXX_SORT](x); break;
    }
    check_sample();
}

static void run(unsigned *seed, int n, int minlen, int maxlen, int force_plug)
{
    for (int s = 0; s < n; s++) {
        plan_len = minlen + (int)(rand_r(seed) % (unsigned)(maxlen - minlen + 1));
        for (int i = 0; i < plan_len; i++) {
            int k = (int)(rand_r(seed) % K_N);
            if ((k == K_PLUG && !plug_fn) || (k >= K_CXX_SORT && !cxx[0]) || (k == K_SPIN && rand_r(seed) % 4) ||
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

static void *thread_main(void *arg)
{
    set_stack_hi();
    pthread_mutex_lock(&target_lock);
    target = pthread_self();
    pthread_mutex_unlock(&target_lock);
    run(arg, 400, 1, 40, 0);
    pthread_mutex_lock(&target_lock);
    target = main_thread;
    pthread_mutex_unlock(&target_lock);
    return NULL;
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

/* The executable's .plt (from its section headers) and its load base. */

static void find_plt(void)
{
    FILE *f = fopen("/proc/self/exe", "rb");
    static unsigned char img[8 << 20];
    size_t n = f ? fread(img, 1, sizeof img, f) : 0;
    if (f)
        fclose(f);
    const ElfW(Ehdr) *eh = (const void *)img;
    if (n < sizeof *eh || eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > n)
        return;
    const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);
    const char *names = (const char *)img + sh[eh->e_shstrndx].sh_offset;
    struct link_map *lm;
    dlinfo(dlopen(NULL, RTLD_NOW), RTLD_DI_LINKMAP, &lm);
    for (int i = 0; i < eh->e_shnum; i++)
        if (strcmp(names + sh[i].sh_name, ".plt") == 0) {
            plt_lo = lm->l_addr + sh[i].sh_addr;
            plt_hi = plt_lo + sh[i].sh_size;
        }
}

/* Every pc of the .plt against the linker's known CFA: PLT0 pushes once
 * (rsp+16, then rsp+24 from its 7th byte); each 16-byte entry is
 * "jmp *GOT; push $n; jmp PLT0": rsp+8, rsp+16 from byte 11 (after the
 * push).  ehu evaluates the .plt's CFA expression into these rows. */
static void check_plt(void)
{
    long pcs = 0, ok = 0;
    for (uintptr_t pc = plt_lo; pc < plt_hi; pc++) {
        struct ehu_rule r;
        ehu_cfi_rule(pc, &r);
        uintptr_t o = pc - plt_lo;
        int want = o < 16 ? (o < 6 ? 16 : 24) : ((pc & 15) >= 11 ? 16 : 8);
        pcs++;
        if (r.kind == EHU_K_RSP && r.cfa_off == want && !r.rbp_saved)
            ok++;
        else if (diffs_printed++ < 200)
            printf("EHU diff plt pc=.plt+%#lx kind=%d cfa_off=%d want=rsp+%d\n", (unsigned long)o, r.kind, r.cfa_off,
                   want);
    }
    printf("EHU plt pcs=%ld rules_ok=%ld signals_in_plt=%ld\n", pcs, ok, sig_in_plt);
    plt_bad = pcs - ok;
}

static void print(const char *name, const struct counts *c)
{
    printf("EHU validate-%s stacks=%ld frames=%ld equal=%ld differ=%ld fallback=%ld incomplete=%ld\n", name, c->stacks,
           c->frames, c->equal, c->differ, c->fallback, c->incomplete);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    const char *dir = argc > 2 ? argv[2] : ".";
    unsigned seed = argc > 3 ? (unsigned)atoi(argv[3]) : 12345;
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/libehu_plug_a.so", dir);
    snprintf(pb, sizeof pb, "%s/libehu_plug_b.so", dir);
    void *self = dlopen(NULL, RTLD_NOW);
    static const char *cn[3] = {"v_cxx_sort", "v_cxx_once", "v_cxx_stream"};
    for (int i = 0; i < 3; i++)
        cxx[i] = (int (*)(int))dlsym(self, cn[i]);
    set_stack_hi();
    find_plt();
    void *warm[4];
    backtrace(warm, 4);

    struct sigaction sa = {0};
    sa.sa_sigaction = on_prof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    target = main_thread = pthread_self();
    pthread_t samp;
    pthread_create(&samp, NULL, sampler_main, NULL);

    void *h;
    uintptr_t base_a = plug_open(pa, &h);
    run(&seed, 1500 * scale, 1, 40, 0);   /* random stacks, the plugin (a) loaded */
    run(&seed, 40 * scale, 200, 300, 0);  /* deep recursion */
    pthread_t t;
    unsigned tseed = seed + 1;
    pthread_create(&t, NULL, thread_main, &tseed);
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

    sampling = 0;
    pthread_join(samp, NULL);
    check_sample();
    /* Control: without the generation check, (b)'s rows are used for (a). */
    plug_close(h);
    ehu_test_skip_generation = 1;
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

    check_plt();
    for (int i = 0; i < 16 && stops[i].n; i++)
        printf("EHU signal-walk stopped at %s: %ld (%s)\n", stops[i].name, stops[i].n,
               stops[i].fl & EHU_F_DWARF ? "needs DWARF" : "no FDE");
    print("live", &live);
    print("signal", &sig);
    print("handler", &hnd);
    struct ehu_stats es;
    ehu_get_stats(&es);
    printf("EHU validate-notes signals_sent=%ld signal_no_ref=%ld signal_dwarf_or_nofde=%ld handler_miss=%ld fills=%lu flushes=%lu "
           "evictions=%lu dwarf_rows=%lu nofde_rows=%lu fallbacks=%lu\n", signals_sent, sig_noref, sig_dwarf, hnd_miss, es.fills,
           es.flushes, es.evictions, es.dwarf_rows, es.nofde_rows, es.fallbacks);
    /* The handler's NOFILL walks (a prefix until the first miss) are
     * reported above, not added here: they re-walk the signal stacks. */
    long S = live.stacks + sig.stacks, M = live.frames + sig.frames;
    long E = live.equal + sig.equal, D = live.differ + sig.differ + hnd.differ + plt_bad;
    long F = live.fallback + sig.fallback;
    printf("EHU validate stacks=%ld frames=%ld equal=%ld differ=%ld fallback=%ld\n", S, M, E, D, F);
    return D != 0;
}
