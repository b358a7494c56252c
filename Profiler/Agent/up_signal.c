/*
 * up_signal.c - sigaction()/signal() emulation: every handler of the program
 * runs behind a trampoline that counts it, so an interposed call knows
 * whether only the profiler's signal interrupted it (up_call.h).
 *
 * What the program sees: sigaction's old action is always the program's
 * own (handler, mask, flags as it passed them); the kernel holds
 * { up_trampoline, the program's mask, the program's flags | SA_SIGINFO }.
 * The trampoline bumps the thread's foreign-signal count and handler depth
 * and calls the program's handler with (sig, info, ucontext), as the
 * kernel does for SA_SIGINFO handlers (a one-argument handler ignores the
 * other two: the x86-64 and AArch64 calling conventions pass them in
 * registers, and the kernel itself always loads all three).
 *
 * SIGPROF (the sampling signal): the kernel always keeps the agent's
 * handler.  The program's sigaction(SIGPROF) is accepted and recorded
 * (old actions reported as usual), and the agent prints one line saying
 * so; SIGPROFs that are not the agent's ticks (setitimer(ITIMER_PROF), kill,
 * the program's own timers) go to the recorded action: its handler is
 * called (counted as foreign), SIG_IGN drops them, SIG_DFL terminates the
 * process as the default action would (disposition reset, signal re-sent).
 * The program's sa_mask and flags for SIGPROF are not applied.
 *
 * Every libc path installs through the emulation: sigaction (here),
 * signal, bsd_signal, sysv_signal, sigset (up_signal_compat.c), and syscall(
 * SYS_rt_sigaction) (routed here from up_proc.c).  siginterrupt() reads and
 * writes back the kernel's action with glibc's internal sigaction: the
 * trampoline stays, and old-action reports take flags and mask from the
 * kernel (up_sig_current), so they stay exact.  Not interposable: a raw
 * syscall instruction (some runtimes).  Its handler is not counted, but a
 * call resumes only when one of our ticks moved (up_call.h), so its EINTR
 * reaches the program unless a tick lands in the same attempt.
 *
 * Edge cases not handled (documented, not detected):
 *  - SA_RESETHAND: the kernel resets its handler at delivery; the
 *    trampoline resets the table's handler as it starts, but a sigaction()
 *    racing with that delivery on another thread can leave the table and
 *    the kernel disagreeing;
 *  - a signal delivered while another thread changes the same signal's
 *    handler to SIG_DFL may find SIG_DFL in the table: the trampoline then
 *    does nothing (the default action is not emulated there);
 *  - a program handler left with siglongjmp leaves the thread's handler
 *    depth raised until the thread's next interposed call, which finds the
 *    trampoline's frame gone and repairs it (up_handler_depth.c).
 *
 * SIGINT, SIGTERM, SIGHUP while their action is SIG_DFL: the kernel holds
 * up_fatal_handler (up_signal_fatal.c); old actions report the program's
 * SIG_DFL exactly (read at start: verbatim; set by the program: as the
 * kernel keeps it).
 *
 * Concurrency: sigaction() calls (and SA_RESETHAND resets) are serialised
 * by a spin lock taken with every signal blocked, so a handler on the same
 * thread can never find it held by the code it interrupted; the holder
 * never waits for anything, so a spinner always gets it.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include "up_call.h"
#include "up_calls.h"
#include "up_idle.h"
#include "up_real.h"
#include "up_signal.h"
#include "up_tls.h"


struct up_sigentry {
    /* The program's handler as the trampoline calls it: a function, SIG_DFL
     * or SIG_IGN.  Stored with release before the kernel can deliver to the
     * trampoline with it; partner: the trampoline's acquire load. */
    _Atomic(void *) handler;
    /* The program asked for SA_RESETHAND.  Relaxed: read with `handler`
     * and written under the lock before it. */
    _Atomic int resethand;
    /* The program's action has no SA_RESTART: its signal interrupts a
     * restartable call.  Relaxed, as resethand. */
    _Atomic int interrupts;
    /* Under up_sig_lock. */
    int known;               /* `action` holds the program's action */
    int fatal;               /* UP_FATAL_*: the kernel holds up_fatal_handler */
    struct sigaction action; /* as the program passed it */
};

static struct up_sigentry up_sig[UP_NSIG];
static atomic_flag up_sig_lock_flag = ATOMIC_FLAG_INIT;
UP_HIDDEN _Atomic int up_sig_emulating;
static _Atomic int up_said_sigprof;

static void up_sig_lock(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_BLOCK, &all, saved);
    /* Acquire: partner the release in up_sig_unlock (table contents). */
    while (atomic_flag_test_and_set_explicit(&up_sig_lock_flag, memory_order_acquire))
        sched_yield();
}

static void up_sig_unlock(const sigset_t *saved)
{
    atomic_flag_clear_explicit(&up_sig_lock_flag, memory_order_release);
    (void)pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static int up_is_function(void *h) { return h != (void *)SIG_DFL && h != (void *)SIG_IGN && h != NULL; }

/* up_sigentry.fatal: the program's SIG_DFL as read at start (reported
 * verbatim), or as the program set it (reported as the kernel keeps it). */
enum { UP_FATAL_NONE = 0, UP_FATAL_INITIAL, UP_FATAL_SET };

/* The kernel gets up_fatal_handler for `program`'s SIG_DFL.  Lock held.
 * 0, or -1 with errno from the kernel. */
static int up_fatal_install(int sig, const struct sigaction *program, int kind)
{
    struct up_sigentry *e = &up_sig[sig];
    struct sigaction k;
    memset(&k, 0, sizeof k);
    k.sa_sigaction = up_fatal_handler;
    k.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&k.sa_mask);
    if (up_real_sigaction()(sig, &k, NULL) != 0)
        return -1;
    atomic_store_explicit(&e->resethand, 0, memory_order_relaxed);
    atomic_store_explicit(&e->handler, (void *)SIG_DFL, memory_order_release);
    e->action = *program;
    e->known = 1;
    e->fatal = kind;
    return 0;
}


/*
 * What a program handler does to the marked call it interrupted, decided
 * from its saved context as the kernel would have decided without the
 * agent.  A context at a syscall instruction (up_uc_restarting) inside a
 * marked call is either the kernel restarting the call - for our tick's
 * SA_RESTART or the program's own - or the interposer about to make its
 * next attempt.  Returns 1 when the call goes on unnoticed (count nothing),
 * 0 when the handler ends it (count it; the context was made EINTR if it
 * was at a syscall instruction):
 *  - SA_RESTART handler, restartable call (up_calls.h), nothing moved yet:
 *    the kernel restarts it, the call never noticed, and neither may the
 *    interposer (a tick that later cuts the same attempt is ours alone);
 *  - a handler without SA_RESTART, a call the kernel never restarts after
 *    a handler, or a transfer the agent continues after partial progress
 *    (our tick cut the program's one call: xfer_progress) - the call must
 *    end here, with EINTR or the bytes done, as the one call would have.
 * Context: handler.
 */
static int up_handler_call_goes_on(void *uc, uint32_t call, int interrupts, int xfer)
{
    if (!uc || call == 0 || !up_uc_restarting(uc))
        return 0;
    if (!interrupts && !xfer && up_call_restartable(call))
        return 1;
    up_uc_make_eintr(uc);
    return 0;
}

/*
 * Context: a program's signal; async-signal-safe (the lock blocks signals).
 * Handlers without SA_RESTART, and every handler during a continued
 * transfer, also bump foreign_intr: a restart our SIGPROF handler sees
 * during the call (both signals pending at once) is then made EINTR as
 * well (up_sampler.c).
 */
static void up_trampoline(int sig, siginfo_t *info, void *uc)
{
    struct up_sigentry *e = &up_sig[sig];
    uint32_t call = atomic_load_explicit(&up_tls.call, memory_order_relaxed);
    int xfer = atomic_load_explicit(&up_tls.xfer_progress, memory_order_relaxed) != 0 && call != 0;
    int interrupts = atomic_load_explicit(&e->interrupts, memory_order_relaxed) != 0;
    up_handler_enter(uc, (uintptr_t)__builtin_frame_address(0), !up_handler_call_goes_on(uc, call, interrupts, xfer));
    if (xfer || interrupts)
        atomic_fetch_add_explicit(&up_tls.foreign_intr, 1, memory_order_relaxed);
    void *h = atomic_load_explicit(&e->handler, memory_order_acquire);
    if (atomic_load_explicit(&e->resethand, memory_order_relaxed)) {
        /* The kernel already reset its handler to SIG_DFL at delivery,
         * keeping the flags and mask: so does the table. */
        sigset_t saved;
        up_sig_lock(&saved);
        e->action.sa_handler = SIG_DFL;
        e->known = 1;
        atomic_store_explicit(&e->resethand, 0, memory_order_relaxed);
        atomic_store_explicit(&e->handler, (void *)SIG_DFL, memory_order_release);
        up_sig_unlock(&saved);
    }
    up_idle_wake(); /* a parked thread runs the handler on CPU (up_idle.c) */
    if (up_is_function(h))
        ((void (*)(int, siginfo_t *, void *))h)(sig, info, uc);
    up_handler_leave();
}

/* Install act for sig behind the trampoline (or as is for SIG_DFL/SIG_IGN)
 * and record it.  Lock held.  0, or -1 with errno from the kernel. */
static int up_sig_install(int sig, const struct sigaction *act)
{
    struct up_sigentry *e = &up_sig[sig];
    void *h = (void *)act->sa_handler;
    if (h == (void *)up_trampoline || h == (void *)up_fatal_handler) /* handed back to us: keep the entry */
        return up_real_sigaction()(sig, act, NULL);
    if (h == (void *)SIG_DFL && up_is_finish_signal(sig))
        return up_fatal_install(sig, act, UP_FATAL_SET);
    e->fatal = UP_FATAL_NONE;
    if (up_is_function(h)) {
        struct sigaction k = *act;
        k.sa_sigaction = up_trampoline;
        k.sa_flags |= SA_SIGINFO;
        void *prev = atomic_load_explicit(&e->handler, memory_order_relaxed);
        int prev_reset = atomic_load_explicit(&e->resethand, memory_order_relaxed);
        atomic_store_explicit(&e->resethand, (act->sa_flags & SA_RESETHAND) != 0, memory_order_relaxed);
        atomic_store_explicit(&e->interrupts, (act->sa_flags & SA_RESTART) == 0, memory_order_relaxed);
        atomic_store_explicit(&e->handler, h, memory_order_release);
        if (up_real_sigaction()(sig, &k, NULL) != 0) {
            atomic_store_explicit(&e->handler, prev, memory_order_release);
            atomic_store_explicit(&e->resethand, prev_reset, memory_order_relaxed);
            return -1;
        }
    } else {
        if (up_real_sigaction()(sig, act, NULL) != 0)
            return -1;
        /* After the kernel: until then a delivery still finds the old handler. */
        atomic_store_explicit(&e->resethand, 0, memory_order_relaxed);
        atomic_store_explicit(&e->handler, h, memory_order_release);
    }
    e->action = *act;
    e->known = 1;
    return 0;
}

/* The program's current action for sig as the kernel would report it (lock
 * held): the kernel's own action, whose flags and mask are the program's
 * (plus what libc adds, SA_RESTORER), with the program's handler in place
 * of the trampoline and the program's SA_SIGINFO in place of ours.  After
 * an SA_RESETHAND delivery the kernel's handler is SIG_DFL with the flags
 * and mask kept: so is the report.  SIGPROF: the kernel holds the agent's
 * action; the recorded one is reported, with the kernel's SA_RESTORER. */
static int up_sig_current(int sig, struct sigaction *out)
{
    struct up_sigentry *e = &up_sig[sig];
    struct sigaction k;
    if (up_real_sigaction()(sig, NULL, &k) != 0)
        return -1;
    if (!e->known) {
        *out = k; /* nothing recorded: the kernel's is the program's */
        return 0;
    }
    if (sig == UP_SIGNAL) {
        *out = e->action;
        out->sa_flags |= k.sa_flags & 0x04000000; /* SA_RESTORER, as libc sets it */
        return 0;
    }
    if ((void *)k.sa_sigaction == (void *)up_fatal_handler && e->fatal != UP_FATAL_NONE) {
        *out = e->action;
        if (e->fatal == UP_FATAL_SET) {
            /* As the kernel keeps an action libc installed. */
            out->sa_flags |= k.sa_flags & 0x04000000; /* SA_RESTORER */
            out->sa_restorer = k.sa_restorer;
            sigdelset(&out->sa_mask, SIGKILL);
            sigdelset(&out->sa_mask, SIGSTOP);
        }
        return 0;
    }
    *out = k;
    if ((void *)k.sa_handler == (void *)up_trampoline)
        out->sa_handler = e->action.sa_handler; /* the union: sa_sigaction too */
    out->sa_flags = (k.sa_flags & ~SA_SIGINFO) | (e->action.sa_flags & SA_SIGINFO);
    return 0;
}

static int up_sigaction_emulated(int sig, const struct sigaction *act, struct sigaction *oact)
{
    sigset_t saved;
    struct sigaction old;
    int r = 0;
    up_sig_lock(&saved);
    struct up_sigentry *e = &up_sig[sig];
    r = up_sig_current(sig, &old);
    if (r == 0 && act) {
        if (sig == UP_SIGNAL) {
            e->action = *act;
            e->known = 1;
            atomic_store_explicit(&e->handler, (void *)act->sa_handler, memory_order_release);
        } else {
            r = up_sig_install(sig, act);
        }
    }
    up_sig_unlock(&saved);
    if (r == 0 && act && sig == UP_SIGNAL && up_is_function((void *)act->sa_handler) &&
        !atomic_exchange_explicit(&up_said_sigprof, 1, memory_order_relaxed))
        up_log("the program installs a SIGPROF handler: it keeps running, for SIGPROFs "
               "not sent by the profiler's timers");
    if (r == 0 && oact)
        *oact = old;
    return r;
}

/* Context: thread or handler (async-signal-safe, as sigaction is). */
/* A vfork child (CPython's subprocess resets every caught signal to
 * SIG_DFL between vfork and exec) shares our memory, the handler table
 * included, but not the parent's signal dispositions: its sigaction goes to
 * its own kernel table only.  Writing ours would leave the parent's kernel
 * pointing at the trampoline with SIG_DFL in the table: its signals
 * silently dropped (found by CPython's test_signal and test_asyncio under
 * the agent).  A fork child has its own copy of everything and goes on
 * emulating.  Context: as sigaction. */
int up_in_vfork_child(void)
{
    return up_phase_get() == UP_ACTIVE && getpid() != up_config.pid;
}

UP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oact)
{
    if (!atomic_load_explicit(&up_sig_emulating, memory_order_acquire) || sig < 1 || sig >= UP_NSIG ||
        sig == SIGKILL || sig == SIGSTOP || up_in_vfork_child())
        return up_real_sigaction()(sig, act, oact);
    return up_sigaction_emulated(sig, act, oact);
}

/* The kernel's struct for rt_sigaction on x86-64 and AArch64. */
struct up_ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

int up_signal_raw_rt_sigaction(long sig, const void *kact, void *koact, long size, long *ret)
{
    if (!atomic_load_explicit(&up_sig_emulating, memory_order_acquire) || size != 8 || sig < 1 ||
        sig >= UP_NSIG || sig == SIGKILL || sig == SIGSTOP || up_in_vfork_child())
        return 0;
    struct sigaction act, old;
    if (kact) {
        struct up_ksigaction k;
        memcpy(&k, kact, sizeof k);
        memset(&act, 0, sizeof act);
        act.sa_handler = (__sighandler_t)k.handler;
        /* libc supplies its own restorer when it installs (SA_RESTORER). */
        act.sa_flags = (int)(k.flags & ~0x04000000ul);
        sigemptyset(&act.sa_mask);
        for (int s = 1; s < 65 && s < UP_NSIG; s++)
            if (k.mask & (1ull << (s - 1)))
                sigaddset(&act.sa_mask, s);
    }
    if (up_sigaction_emulated((int)sig, kact ? &act : NULL, koact ? &old : NULL) != 0) {
        *ret = -1;
        return 1;
    }
    if (koact) {
        struct up_ksigaction k = {(void *)old.sa_handler, (unsigned long)old.sa_flags,
                                  (void *)old.sa_restorer, 0};
        for (int s = 1; s < 65 && s < UP_NSIG; s++)
            if (sigismember(&old.sa_mask, s))
                k.mask |= 1ull << (s - 1);
        memcpy(koact, &k, sizeof k);
    }
    *ret = 0;
    return 1;
}

void up_signal_forward_sigprof(int sig, siginfo_t *info, void *uc)
{
    void *h = atomic_load_explicit(&up_sig[UP_SIGNAL].handler, memory_order_acquire);
    if (h == (void *)SIG_IGN)
        return;
    if (!up_is_function(h)) {
        /* Default action (terminate): blocked while we run, so it acts as
         * soon as this handler returns. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        (void)up_real_sigaction()(UP_SIGNAL, &dfl, NULL);
        (void)tgkill(getpid(), gettid(), UP_SIGNAL);
        return;
    }
    /* Delivered with our handler's SA_RESTART. */
    uint32_t call = atomic_load_explicit(&up_tls.call, memory_order_relaxed);
    int xfer = atomic_load_explicit(&up_tls.xfer_progress, memory_order_relaxed) != 0 && call != 0;
    up_handler_enter(uc, (uintptr_t)__builtin_frame_address(0), !up_handler_call_goes_on(uc, call, 0, xfer));
    if (xfer)
        atomic_fetch_add_explicit(&up_tls.foreign_intr, 1, memory_order_relaxed);
    ((void (*)(int, siginfo_t *, void *))h)(sig, info, uc);
    up_handler_leave();
}

void up_signal_adopt_sigprof(const struct sigaction *old)
{
    sigset_t saved;
    up_sig_lock(&saved);
    up_sig[UP_SIGNAL].action = *old;
    up_sig[UP_SIGNAL].known = 1;
    atomic_store_explicit(&up_sig[UP_SIGNAL].handler, (void *)old->sa_handler, memory_order_release);
    up_sig_unlock(&saved);
}

void up_signal_wrap_existing(void)
{
    for (int sig = 1; sig < UP_NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == UP_SIGNAL)
            continue;
        sigset_t saved;
        struct sigaction cur;
        up_sig_lock(&saved);
        if (up_real_sigaction()(sig, NULL, &cur) == 0 && up_is_function((void *)cur.sa_handler))
            (void)up_sig_install(sig, &cur);
        else if (up_is_finish_signal(sig) && (void *)cur.sa_handler == (void *)SIG_DFL)
            (void)up_fatal_install(sig, &cur, UP_FATAL_INITIAL);
        up_sig_unlock(&saved);
    }
}

void up_signal_start_emulating(void)
{
    /* Partner: the acquire loads in sigaction()/signal(): the table
     * filled above is visible to the first emulated call. */
    atomic_store_explicit(&up_sig_emulating, 1, memory_order_release);
}

void up_signal_after_fork_child(void) { atomic_flag_clear_explicit(&up_sig_lock_flag, memory_order_relaxed); }
