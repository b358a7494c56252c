/*
 * up_calls.h - the call ids of SAMPLE.call and CALL records.
 *
 * 0 is on-CPU; ids are 1.. in this order.  The writer emits one CALL record
 * per id after META (Docs/ProfileFormat.md).  Fortified variants
 * (__read_chk, ...) and 64-bit-offset aliases share their call's id.
 */
#ifndef UP_CALLS_H
#define UP_CALLS_H

#include <stdint.h>

#define UP_CALLS(X)                                      \
    X(READ, "read")                                      \
    X(READV, "readv")                                    \
    X(PREAD, "pread")                                    \
    X(WRITE, "write")                                    \
    X(WRITEV, "writev")                                  \
    X(PWRITE, "pwrite")                                  \
    X(RECV, "recv")                                      \
    X(RECVFROM, "recvfrom")                              \
    X(RECVMSG, "recvmsg")                                \
    X(RECVMMSG, "recvmmsg")                              \
    X(SEND, "send")                                      \
    X(SENDTO, "sendto")                                  \
    X(SENDMSG, "sendmsg")                                \
    X(SENDMMSG, "sendmmsg")                              \
    X(ACCEPT, "accept")                                  \
    X(ACCEPT4, "accept4")                                \
    X(CONNECT, "connect")                                \
    X(POLL, "poll")                                      \
    X(PPOLL, "ppoll")                                    \
    X(SELECT, "select")                                  \
    X(PSELECT, "pselect")                                \
    X(EPOLL_WAIT, "epoll_wait")                          \
    X(EPOLL_PWAIT, "epoll_pwait")                        \
    X(NANOSLEEP, "nanosleep")                            \
    X(CLOCK_NANOSLEEP, "clock_nanosleep")                \
    X(USLEEP, "usleep")                                  \
    X(SLEEP, "sleep")                                    \
    X(COND_WAIT, "pthread_cond_wait")                    \
    X(COND_TIMEDWAIT, "pthread_cond_timedwait")          \
    X(COND_CLOCKWAIT, "pthread_cond_clockwait")          \
    X(MUTEX_LOCK, "pthread_mutex_lock")                  \
    X(JOIN, "pthread_join")                              \
    X(SEM_WAIT, "sem_wait")                              \
    X(SEM_TIMEDWAIT, "sem_timedwait")                    \
    X(SEM_CLOCKWAIT, "sem_clockwait")                    \
    X(FUTEX, "futex")                                    \
    X(WAITPID, "waitpid")                                \
    X(WAIT, "wait")                                      \
    X(SIGWAIT, "sigwait")                                \
    X(SIGWAITINFO, "sigwaitinfo")                        \
    X(SIGTIMEDWAIT, "sigtimedwait")                      \
    X(PAUSE, "pause")                                    \
    X(SIGSUSPEND, "sigsuspend")                          \
    X(SEMOP, "semop")                                    \
    X(SEMTIMEDOP, "semtimedop")                          \
    X(MSGRCV, "msgrcv")                                  \
    X(MSGSND, "msgsnd")                                  \
    X(EPOLL_PWAIT2, "epoll_pwait2")                      \
    X(SENDFILE, "sendfile")                              \
    X(SPLICE, "splice")                                  \
    X(IO_GETEVENTS, "io_getevents")

enum up_call_id {
    UP_CALL_ONCPU = 0,
#define UP_CALL_ENUM(id, name) UP_CALL_##id,
    UP_CALLS(UP_CALL_ENUM)
#undef UP_CALL_ENUM
    UP_CALL_END
};

/* Whether the kernel can restart the call after a handler with SA_RESTART:
 * all but those it never restarts after a handler (signal(7)'s second
 * list and the sleeps: poll, select and epoll waits, nanosleep and the
 * sleeps built on it, sigsuspend, pause, sigtimedwait and sigwaitinfo,
 * SysV IPC, io_getevents), which always fail with EINTR - so a saved
 * context at a syscall instruction during one of these can only be a
 * thread about to make its next attempt (up_signal.c). */
static inline int up_call_restartable(uint32_t id)
{
    switch (id) {
    case UP_CALL_POLL: case UP_CALL_PPOLL: case UP_CALL_SELECT: case UP_CALL_PSELECT:
    case UP_CALL_EPOLL_WAIT: case UP_CALL_EPOLL_PWAIT: case UP_CALL_EPOLL_PWAIT2:
    case UP_CALL_NANOSLEEP: case UP_CALL_CLOCK_NANOSLEEP: case UP_CALL_USLEEP: case UP_CALL_SLEEP:
    case UP_CALL_SIGWAIT: case UP_CALL_SIGWAITINFO: case UP_CALL_SIGTIMEDWAIT: case UP_CALL_PAUSE:
    case UP_CALL_SIGSUSPEND: case UP_CALL_SEMOP: case UP_CALL_SEMTIMEDOP: case UP_CALL_MSGRCV:
    case UP_CALL_MSGSND: case UP_CALL_IO_GETEVENTS:
        return 0;
    default:
        return 1;
    }
}

#endif /* UP_CALLS_H */
