/*
 * up_ipc.c - System V IPC: semop, semtimedop, msgrcv, msgsnd.
 *
 * signal(7): the kernel never restarts these after a handler, whatever
 * SA_RESTART says; they fail with EINTR.  When only our tick interrupted
 * one (up_call_ours), it goes on: semop, msgrcv and msgsnd as they were
 * (they have no timeout), semtimedop with what is left of its relative
 * timeout, measured on CLOCK_MONOTONIC from the call's entry (a passed
 * deadline answers EAGAIN, as the kernel does).  An IPC_NOWAIT call never
 * blocks, so never sees our signal.  A program handler's EINTR is returned
 * as without the agent.  Each operation is atomic in the kernel (all of a
 * semop's operations or none, a whole message or none), so a resumed call
 * never repeats part of one.
 * Context of each: whatever the program calls it from.
 */
#include "up_call.h"
#include "up_real.h"
#include "up_time.h"

UP_EXPORT int semop(int id, struct sembuf *ops, size_t n)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SEMOP))
        return up_real_semop()(id, ops, n);
    int r;
    do
        r = up_real_semop()(id, ops, n);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}

UP_EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *tmo)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SEMTIMEDOP))
        return up_real_semtimedop()(id, ops, n, tmo);
    struct up_timeout t = up_timeout_start(tmo);
    int r = up_real_semtimedop()(id, ops, n, tmo);
    while (r < 0 && up_call_ours(&c, errno)) {
        struct timespec *left;
        if (!up_timeout_left(&t, &left)) {
            errno = EAGAIN; /* the timeout's answer */
            break;
        }
        r = up_real_semtimedop()(id, ops, n, left);
    }
    up_call_end(&c);
    return r;
}

UP_EXPORT ssize_t msgrcv(int id, void *msg, size_t size, long type, int flags)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_MSGRCV))
        return up_real_msgrcv()(id, msg, size, type, flags);
    ssize_t r;
    do
        r = up_real_msgrcv()(id, msg, size, type, flags);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}

UP_EXPORT int msgsnd(int id, const void *msg, size_t size, int flags)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_MSGSND))
        return up_real_msgsnd()(id, msg, size, flags);
    int r;
    do
        r = up_real_msgsnd()(id, msg, size, flags);
    while (r < 0 && up_call_ours(&c, errno));
    up_call_end(&c);
    return r;
}
