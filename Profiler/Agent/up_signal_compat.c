/*
 * up_signal_compat.c - signal(), bsd_signal(), sysv_signal() and sigset()
 * on the emulated sigaction (up_signal.c): glibc's own versions call its
 * internal sigaction, which would put the program's handler in the kernel
 * without the trampoline.  Context: as sigaction.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "up_real.h"
#include "up_signal.h"


/* signal() with glibc's BSD semantics (SA_RESTART, the signal blocked in
 * its handler; siginterrupt() is not consulted), sysv_signal() with System
 * V's (SA_RESETHAND | SA_NODEFER), both through the emulated sigaction. */
static __sighandler_t up_signal_with(int sig, __sighandler_t h, int flags, int block_self)
{
    struct sigaction sa, old;
    if (h == SIG_ERR || sig < 1 || sig >= UP_NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (block_self)
        sigaddset(&sa.sa_mask, sig);
    sa.sa_flags = flags;
    if (sigaction(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

UP_EXPORT __sighandler_t signal(int sig, __sighandler_t h)
{
    if (!atomic_load_explicit(&up_sig_emulating, memory_order_acquire))
        return up_real_signal()(sig, h);
    return up_signal_with(sig, h, SA_RESTART, 1);
}

UP_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t h) { return signal(sig, h); }

UP_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
    if (!atomic_load_explicit(&up_sig_emulating, memory_order_acquire))
        return up_real_sysv_signal()(sig, h);
    return up_signal_with(sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

/* sigset(3) as glibc defines it (sysdeps/posix/sigset.c), on the emulated
 * sigaction: glibc's own calls its internal sigaction, which would put the
 * program's handler in the kernel without the trampoline. */
UP_EXPORT __sighandler_t sigset(int sig, __sighandler_t disp)
{
    if (!atomic_load_explicit(&up_sig_emulating, memory_order_acquire) || up_in_vfork_child())
        return up_real_sigset()(sig, disp);
    if (sig < 1 || sig >= UP_NSIG || disp == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    sigset_t one, oset;
    sigemptyset(&one);
    sigaddset(&one, sig);
    struct sigaction sa, old;
    if (disp == SIG_HOLD) {
        if (sigprocmask(SIG_BLOCK, &one, &oset) < 0)
            return SIG_ERR;
        if (sigismember(&oset, sig))
            return SIG_HOLD;
        if (sigaction(sig, NULL, &old) < 0)
            return SIG_ERR;
        return old.sa_handler;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = disp;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &old) < 0)
        return SIG_ERR;
    if (sigprocmask(SIG_UNBLOCK, &one, &oset) < 0)
        return SIG_ERR;
    return sigismember(&oset, sig) ? SIG_HOLD : old.sa_handler;
}
