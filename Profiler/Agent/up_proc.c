/*
 * up_proc.c - waitpid, wait, syscall(SYS_futex, ...), fork.
 * Context of each: whatever the program calls it from.
 */
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include "up_call.h"
#include "up_inherit.h"
#include "up_real.h"
#include "up_records.h"
#include "up_signal.h"
#include "up_writer.h"
#include "up_time.h"

/* Restarted by the kernel after our SA_RESTART handler; retried anyway if
 * an EINTR is ours.  WNOHANG does not block: not marked. */
UP_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    struct up_call c;
    if ((options & WNOHANG) || !up_call_begin(&c, UP_CALL_WAITPID))
        return up_real_waitpid()(pid, status, options);
    pid_t r;
    do
        r = up_real_waitpid()(pid, status, options);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}

UP_EXPORT pid_t wait(int *status)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_WAIT))
        return up_real_wait()(status);
    pid_t r;
    do
        r = up_real_wait()(status);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}

/*
 * syscall() is variadic: six longs are forwarded (what the x86-64 and
 * AArch64 conventions pass in registers; extra ones a caller did not pass
 * are read and ignored, as glibc's own syscall() does).  Only futex waits
 * are instrumented: FUTEX_WAIT (relative timeout) and FUTEX_WAIT_BITSET
 * (absolute).  With a timeout, the kernel returns EINTR after any handler;
 * ours is resumed with the time left (FUTEX_WAIT; a passed deadline gives
 * ETIMEDOUT, as the kernel would) or the same absolute time (BITSET).
 * Resuming re-checks the futex word, as the kernel's own restart does
 * (and the kernel restarts an untimed wait after our SA_RESTART tick).
 * When the word changed meanwhile (EAGAIN), the waker came while our tick
 * had the thread out of the wait: without the agent its FUTEX_WAKE would
 * have ended the wait with 0.  So an EAGAIN from a resumed wait, or from
 * an attempt one of our ticks cut, is returned as 0, a wake-up (callers
 * of FUTEX_WAIT recheck the word: 0 may be spurious).  The one difference
 * left: a word that did not match at entry, with a tick landing in the
 * same few instructions, gives 0 instead of EAGAIN - equally a spurious
 * wake-up to a correct caller.
 * Inside the agent (liburcu's futex from the core) the guard keeps it
 * unmarked.
 */
UP_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    up_syscall_fn *real = up_real_syscall();
    if (nr == SYS_rt_sigaction) {
        long ret;
        if (up_signal_raw_rt_sigaction(a1, (const void *)a2, (void *)a3, a4, &ret))
            return ret;
    }
    if (nr != SYS_futex)
        return real(nr, a1, a2, a3, a4, a5, a6);
    int cmd = (int)a2 & FUTEX_CMD_MASK;
    struct up_call c;
    if ((cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET) || !up_call_begin_ex(&c, UP_CALL_FUTEX, 0))
        return real(nr, a1, a2, a3, a4, a5, a6);
    const struct timespec *tmo = (const struct timespec *)a4;
    /* FUTEX_WAIT: resumed with what is left of its relative timeout (none:
     * NULL); FUTEX_WAIT_BITSET: its absolute timeout, as it was (a4). */
    int relative = cmd == FUTEX_WAIT;
    struct up_timeout t = up_timeout_start(relative ? tmo : NULL);
    long r = real(nr, a1, a2, a3, a4, a5, a6);
    for (int resumed = 0;; resumed = 1) {
        if (r < 0 && errno == EAGAIN && (resumed || up_call_cut_by_tick(&c))) {
            r = 0;
            break;
        }
        if (!(r < 0 && up_call_ours(&c, errno)))
            break;
        struct timespec *left;
        if (!up_timeout_left(&t, &left)) {
            errno = ETIMEDOUT;
            break;
        }
        r = real(nr, a1, a2, a3, relative ? (long)left : a4, a5, a6);
    }
    up_call_end(&c);
    return r;
}

/* The child is restarted, or made inert, by up_init.c (up_fork). */
UP_EXPORT pid_t fork(void) { return up_fork(); }
