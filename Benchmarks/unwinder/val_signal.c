/*
 * val_signal.c - the validation's signal samples (ehu_validate.c drives):
 * a sampler thread pthread_kills the workload thread; the handler takes
 * glibc backtrace() (the reference), copies the interrupted stack from the
 * red zone up, and walks the live stack with ehu in its async-signal-safe
 * mode (NOFILL|NOGEN).  In thread context val_check_sample() unwinds the
 * copy with ehu_backtrace_from() (bounded reader, exact pc) and compares
 * both walks with the reference.  Also: every pc of the executable's .plt
 * against the linker's known CFA rule.
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
#include "val_check.h"

#define COPY (256 * 1024)

static long sig_in_plt;
static uintptr_t plt_lo, plt_hi;

/* The pending signal sample: written by the handler, consumed in thread context. */
static struct {
    int busy; /* 0 free, 2 a handler writes, 1 ready, 3 being checked: each step claimed by CAS */
    struct ehu_regs regs;
    void *ref[MAXF];
    int nref, nh;
    unsigned hflags;
    uintptr_t hips[MAXF];
    uintptr_t lo, hi;
    _Alignas(16) unsigned char copy[COPY];
} smp;
__thread uintptr_t t_stack_hi;
static pthread_t target, main_thread; /* the thread running the workload */
static pthread_t sampler;
static pthread_mutex_t target_lock = PTHREAD_MUTEX_INITIALIZER;
static int sampling = 1; /* atomic: the sampler thread polls it */
static long signals_sent, sig_noref, sig_dwarf, hnd_miss;

/* Sampler: the kernel's profiling timer ticks every 4 ms at best; to land
 * thousands of signals at random points we pthread_kill the workload
 * thread whenever the previous sample has been consumed. */
static void *sampler_main(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10000};
    prctl(PR_SET_TIMERSLACK, 1000UL);
    while (__atomic_load_n(&sampling, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&target_lock); /* never signal a thread that has left */
        if (!__atomic_load_n(&smp.busy, __ATOMIC_RELAXED)) {
            pthread_kill(target, SIGPROF);
            signals_sent++;
        }
        pthread_mutex_unlock(&target_lock);
        nanosleep(&ts, NULL);
    }
    return NULL;
}


/* Where walks from copies stopped (DWARF/NOFDE), by function. */
static struct { char name[256]; unsigned fl; long n; } stops[16];

static void note_stop(uintptr_t pc, unsigned fl)
{
    char nm[256];
    val_sym(pc + 1, nm, sizeof nm);
    char *plus = strchr(nm, '+');
    if (plus && nm[0] != '?') /* by function; unnamed ones keep their offset */
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

void val_check_sample(void)
{
    int ready = 1; /* claim it (3: being checked): several threads call this */
    if (!__atomic_compare_exchange_n(&smp.busy, &ready, 3, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return; /* acquire partner: the handler's release store of 1 */
    uintptr_t ips[MAXF];
    int k = -1;
    /* ref[0] is in on_prof, ref[1] the handler's own __restore_rt: start at 2
     * (the interrupted pc may itself be __restore_rt's first byte, when a
     * raised signal's handler had just returned: seen once in 100 runs). */
    for (int i = 2; i < smp.nref && i < 8; i++)
        if ((uintptr_t)smp.ref[i] == smp.regs.rip) {
            k = i;
            break;
        }
    if (k < 0) {
        sig_noref++; /* the handler's backtrace did not pass the signal frame */
        __atomic_store_n(&smp.busy, 0, __ATOMIC_RELEASE);
        return;
    }
    sig_in_plt += smp.regs.rip >= plt_lo && smp.regs.rip < plt_hi;
    struct ehu_stack st = {smp.lo, smp.hi, (intptr_t)smp.copy - (intptr_t)smp.lo};
    unsigned fl;
    int n = ehu_backtrace_from(&smp.regs, &st, ips, MAXF, EHU_O_EXACT_PC, &fl);
    if (fl & EHU_F_NOFDE)
        note_stop(ips[n - 1], fl); /* backtrace() stops there too: compared in full below */
    if (fl & EHU_F_DWARF) {
        /* No DWARF fallback from a copy: compare the prefix ehu produced. */
        sig_dwarf++;
        note_stop(ips[n - 1], fl);
        val_compare(&sig, "signal-prefix", smp.ref, k + n < smp.nref ? k + n : smp.nref, k, ips, n, 0, fl | EHU_F_BACKTRACE);
    } else if (val_compare(&sig, "signal", smp.ref, smp.nref, k, ips, n, 0, fl) && getenv("EHU_DEBUG")) {
        char nm[256];
        struct ehu_rule ru;
        val_sym(smp.regs.rip + 1, nm, sizeof nm);
        ehu_cfi_rule(smp.regs.rip, &ru);
        printf("EHU debug %s kind=%d cfa_off=%d rbp=%d/%d\n", nm, ru.kind, ru.cfa_off, ru.rbp_saved, ru.rbp_off);
        printf("EHU debug n=%d rip=%#lx rsp=%#lx rbp=%#lx lo=%#lx hi=%#lx last=%#lx\n", n, smp.regs.rip, smp.regs.rsp,
               smp.regs.rbp, smp.lo, smp.hi, ips[n - 1]);
    }
    if (smp.hflags & EHU_F_MISS) {
        hnd_miss++;
        val_compare(&hnd, "handler-prefix", smp.ref, k + smp.nh < smp.nref ? k + smp.nh : smp.nref, k, smp.hips, smp.nh, 0,
                smp.hflags | EHU_F_BACKTRACE);
    } else if (!(smp.hflags & (EHU_F_DWARF | EHU_F_NOFDE)))
        val_compare(&hnd, "handler", smp.ref, smp.nref, k, smp.hips, smp.nh, 0, smp.hflags);
    __atomic_store_n(&smp.busy, 0, __ATOMIC_RELEASE); /* partner: the next handler's CAS */
}

static void on_prof(int signo, siginfo_t *si, void *ucv)
{
    (void)signo;
    (void)si;
    int free_ = 0;
    if (!t_stack_hi || !__atomic_compare_exchange_n(&smp.busy, &free_, 2, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    int saved = errno;
    ehu_regs_from_ucontext(ucv, &smp.regs);
    smp.nref = backtrace(smp.ref, MAXF);
    /* From the red zone up: epilogue CFI (GCC emits no .cfi_restore after
     * a pop) can keep a popped register's slot below sp; it is intact. */
    uintptr_t lo = (smp.regs.rsp & ~(uintptr_t)7) - 128, hi = t_stack_hi;
    if (lo >= hi) { /* not on this thread's stack (no sigaltstack here): skip */
        __atomic_store_n(&smp.busy, 0, __ATOMIC_RELEASE);
        errno = saved;
        return;
    }
    if (hi - lo > COPY)
        hi = lo + COPY;
    memcpy(smp.copy, (void *)lo, hi - lo);
    smp.lo = lo;
    smp.hi = hi;
    struct ehu_stack live_st = {lo, t_stack_hi, 0};
    smp.nh = ehu_backtrace_from(&smp.regs, &live_st, smp.hips, MAXF, EHU_O_EXACT_PC | EHU_O_NOFILL | EHU_O_NOGEN,
                                &smp.hflags);
    __atomic_store_n(&smp.busy, 1, __ATOMIC_RELEASE);
    errno = saved;
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
long val_check_plt(void)
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
        else if (__atomic_fetch_add(&diffs_printed, 1, __ATOMIC_RELAXED) < 200)
            printf("EHU diff plt pc=.plt+%#lx kind=%d cfa_off=%d want=rsp+%d\n", (unsigned long)o, r.kind, r.cfa_off,
                   want);
    }
    printf("EHU plt pcs=%ld rules_ok=%ld signals_in_plt=%ld\n", pcs, ok, sig_in_plt);
    return pcs - ok;
}


void val_set_target(pthread_t t)
{
    pthread_mutex_lock(&target_lock);
    target = t;
    pthread_mutex_unlock(&target_lock);
}

void val_sampling_start(void)
{
    find_plt();
    main_thread = target = pthread_self();
    struct sigaction sa = {0};
    sa.sa_sigaction = on_prof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    pthread_create(&sampler, NULL, sampler_main, NULL);
}

void val_sampling_stop(void)
{
    __atomic_store_n(&sampling, 0, __ATOMIC_RELAXED);
    pthread_join(sampler, NULL);
    val_check_sample();
}

void val_signal_notes(void)
{
    for (int i = 0; i < 16 && stops[i].n; i++)
        printf("EHU signal-walk stopped at %s: %ld (%s)\n", stops[i].name, stops[i].n,
               stops[i].fl & EHU_F_DWARF ? "needs DWARF" : "no FDE");
    printf("EHU signal-notes signals_sent=%ld samples_no_ref=%ld copy_walks_dwarf_or_nofde=%ld handler_miss=%ld\n",
           signals_sent, sig_noref, sig_dwarf, hnd_miss);
}
