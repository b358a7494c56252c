/*
 * up_sigwait.c - calls that consume or wait for signals: signalfd, sigwait,
 * sigwaitinfo, sigtimedwait, pause, sigsuspend.
 *
 * Our ticks are thread-directed SIGPROFs.  A thread that blocks SIGPROF
 * keeps one pending (the timer counts overruns meanwhile); signalfd() and
 * sigwait*() would hand it to the program.  So while the agent is armed,
 * SIGPROF is taken out of the sets these are given: a program cannot
 * receive SIGPROF through a signalfd or sigwait while profiled (its
 * sigaction handler for SIGPROF still runs, up_signal.c).
 *
 * pause() and sigsuspend() return after any handler, ours included; they
 * wait again when only ours ran.  To leave no window in which a program
 * signal could arrive between the check and the next wait (and be missed
 * until the next tick), they block every signal, check, and wait with
 * sigsuspend(), which restores the wait mask atomically.
 * Context of each: thread (or whatever the program calls it from).
 */
#include <string.h>
#include "up_call.h"
#include "up_real.h"
#include "up_time.h"

static const sigset_t *up_without_sigprof(const sigset_t *set, sigset_t *copy)
{
    if (!set || !up_is_armed() || sigismember(set, UP_SIGNAL) != 1)
        return set;
    *copy = *set;
    sigdelset(copy, UP_SIGNAL);
    return copy;
}

UP_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    sigset_t copy;
    return up_real_signalfd()(fd, up_without_sigprof(mask, &copy), flags);
}

/* glibc's sigwait retries EINTR itself. */
UP_EXPORT int sigwait(const sigset_t *set, int *sig)
{
    sigset_t copy;
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SIGWAIT))
        return up_real_sigwait()(set, sig);
    int r = up_real_sigwait()(up_without_sigprof(set, &copy), sig);
    up_call_end(&c);
    return r;
}

UP_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    sigset_t copy;
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SIGWAITINFO))
        return up_real_sigwaitinfo()(set, info);
    const sigset_t *s = up_without_sigprof(set, &copy);
    int r;
    do
        r = up_real_sigwaitinfo()(s, info);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}

UP_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *tmo)
{
    sigset_t copy;
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SIGTIMEDWAIT))
        return up_real_sigtimedwait()(set, info, tmo);
    const sigset_t *s = up_without_sigprof(set, &copy);
    struct up_timeout t = up_timeout_start(tmo);
    int r = up_real_sigtimedwait()(s, info, tmo);
    while (r < 0 && up_call_ours(&c, errno)) {
        struct timespec *left;
        if (!up_timeout_left(&t, &left)) {
            errno = EAGAIN; /* the timeout's answer */
            break;
        }
        r = up_real_sigtimedwait()(s, info, left);
    }
    up_call_end(&c);
    return r;
}

/* Wait with `mask` until a program handler runs (always -1/EINTR, or the
 * kernel's EFAULT for a bad mask).  Every signal is blocked between the
 * waits, so whatever arrives is delivered inside the next sigsuspend: a
 * wake-up goes on only when our tick ran in it and no counted program
 * handler did (up_call_cut_by_tick); a handler installed behind the
 * agent's back moves no tick, so its signal ends the wait unless a tick
 * was delivered in the same wake-up. */
static int up_suspend(struct up_call *c, const sigset_t *mask)
{
    sigset_t all, saved;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_BLOCK, &all, &saved);
    int r = -1, err = EINTR;
    /* A program handler that ran since the call began: its EINTR. */
    if (atomic_load_explicit(&up_tls.foreign, memory_order_relaxed) == c->foreign0) {
        /* Ticks before now were before the wait: only later ones count. */
        c->ticks0 = atomic_load_explicit(&up_tls.ticks, memory_order_relaxed);
        for (;;) {
            r = up_real_sigsuspend()(mask ? mask : &saved);
            err = errno;
            if (!(r < 0 && err == EINTR) || !up_call_cut_by_tick(c))
                break;
        }
    }
    (void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
    errno = err;
    return r;
}

UP_EXPORT int pause(void)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_PAUSE))
        return up_real_pause()();
    int r = up_suspend(&c, NULL);
    up_call_end(&c);
    return r;
}

UP_EXPORT int sigsuspend(const sigset_t *mask)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SIGSUSPEND))
        return up_real_sigsuspend()(mask);
    int r = up_suspend(&c, mask);
    up_call_end(&c);
    return r;
}
