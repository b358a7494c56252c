/*
 * up_signal_fatal.c - SIGINT, SIGTERM and SIGHUP with the default action:
 * the agent's handler finishes the record file, then the process dies of
 * the signal as it would have.  The emulation (up_signal.c) installs it
 * while the program's action is SIG_DFL and reports SIG_DFL.
 *
 * Finishing (up_finish_on_signal, up_init.c): ACTIVE -> STOPPING, the
 * writer's last round (which also serves the threads still blocked in
 * interposed calls through the proxy: their stacks), MAPs, END, waiting at
 * most UP_FATAL_FINISH_MS; then SIG_DFL, the signal re-sent to this thread
 * and unblocked: the process dies of it (status as without the agent).  A
 * handler the program installs replaces this one; SIG_IGN passes through.
 * Not covered: a program handler with SA_RESETHAND (the kernel resets to
 * SIG_DFL at its delivery: the next one kills without END), an action
 * installed by a raw rt_sigaction instruction, other fatal signals.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "up_real.h"
#include "up_signal.h"

int up_is_finish_signal(int sig) { return sig == SIGINT || sig == SIGTERM || sig == SIGHUP; }

/* A fatal default-action signal: finish the file, then die of it.
 * Context: handler, every signal blocked (sa_mask); async-signal-safe:
 * atomics, futex, sigaction, tgkill, sigprocmask. */
void up_fatal_handler(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    (void)uc;
    int saved = errno;
    up_finish_on_signal();
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    (void)up_real_sigaction()(sig, &dfl, NULL);
    (void)tgkill(getpid(), gettid(), sig);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    (void)pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* the default action: the process ends here */
    errno = saved;
}

