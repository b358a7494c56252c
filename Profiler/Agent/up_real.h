/*
 * up_real.h - the real libc functions behind the interposers.
 *
 * Resolved with dlsym(RTLD_NEXT) - the next definition after the agent in
 * the lookup order, i.e. libc's - lazily on first use, because interposers
 * can run before the agent's constructor (libc's, liburcu's or another
 * preloaded library's early code).  The constructor resolves every entry
 * eagerly, so after it no call (and never a handler) enters the dynamic
 * linker.
 *
 * pthread_cond_wait/timedwait: glibc exports two versions (GLIBC_2.2.5, the
 * old condvar ABI, and GLIBC_2.3.2, the default); dlsym(RTLD_NEXT) has been
 * seen to return the old one, so they are looked up with dlvsym at
 * "GLIBC_2.3.2" (readelf --dyn-syms libc.so.6 on x86_64), falling back to
 * dlsym on targets whose base version is newer (aarch64: GLIBC_2.17 only).
 * A binary built against the 2.2.5 condvar ABI (glibc < 2.3.2, 2002) would
 * be handed the new functions: not supported.
 *
 * Each pointer is an atomic read relaxed: every resolver stores the same
 * value (dlsym is deterministic) and the function it points to is code
 * that was mapped before; nothing else is published through it.  Partner:
 * the relaxed store in up_resolve().
 */
#ifndef UP_REAL_H
#define UP_REAL_H

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "up_agent.h"

#define UP_COND_VERSION "GLIBC_2.3.2"

/* X(return type, name, parameter list, symbol version or NULL) */
#define UP_REAL_FUNCS(X)                                                                     \
    X(ssize_t, read, (int, void *, size_t), NULL)                                            \
    X(ssize_t, readv, (int, const struct iovec *, int), NULL)                                \
    X(ssize_t, pread, (int, void *, size_t, off_t), NULL)                                    \
    X(ssize_t, pread64, (int, void *, size_t, off64_t), NULL)                                \
    X(ssize_t, write, (int, const void *, size_t), NULL)                                     \
    X(ssize_t, writev, (int, const struct iovec *, int), NULL)                               \
    X(ssize_t, pwrite, (int, const void *, size_t, off_t), NULL)                             \
    X(ssize_t, pwrite64, (int, const void *, size_t, off64_t), NULL)                         \
    X(ssize_t, __read_chk, (int, void *, size_t, size_t), NULL)                              \
    X(ssize_t, __pread_chk, (int, void *, size_t, off_t, size_t), NULL)                      \
    X(ssize_t, __pread64_chk, (int, void *, size_t, off64_t, size_t), NULL)                  \
    X(ssize_t, recv, (int, void *, size_t, int), NULL)                                       \
    X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *), NULL)   \
    X(ssize_t, recvmsg, (int, struct msghdr *, int), NULL)                                   \
    X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *), NULL)   \
    X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int), NULL)                         \
    X(ssize_t, __recvfrom_chk,                                                               \
      (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *), NULL)              \
    X(ssize_t, send, (int, const void *, size_t, int), NULL)                                 \
    X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t), \
      NULL)                                                                                  \
    X(ssize_t, sendmsg, (int, const struct msghdr *, int), NULL)                             \
    X(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int), NULL)                       \
    X(int, accept, (int, struct sockaddr *, socklen_t *), NULL)                              \
    X(int, accept4, (int, struct sockaddr *, socklen_t *, int), NULL)                        \
    X(int, connect, (int, const struct sockaddr *, socklen_t), NULL)                         \
    X(int, poll, (struct pollfd *, nfds_t, int), NULL)                                       \
    X(int, __poll_chk, (struct pollfd *, nfds_t, int, size_t), NULL)                         \
    X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *), NULL) \
    X(int, __ppoll_chk,                                                                      \
      (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t), NULL)    \
    X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *), NULL)             \
    X(int, pselect,                                                                          \
      (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *), NULL)  \
    X(int, epoll_wait, (int, struct epoll_event *, int, int), NULL)                          \
    X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *), NULL)       \
    X(int, nanosleep, (const struct timespec *, struct timespec *), NULL)                    \
    X(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *),    \
      NULL)                                                                                  \
    X(int, usleep, (useconds_t), NULL)                                                       \
    X(unsigned int, sleep, (unsigned int), NULL)                                             \
    X(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *), UP_COND_VERSION)       \
    X(int, pthread_cond_timedwait,                                                           \
      (pthread_cond_t *, pthread_mutex_t *, const struct timespec *), UP_COND_VERSION)      \
    X(int, pthread_cond_clockwait,                                                           \
      (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *), NULL)      \
    X(int, pthread_mutex_lock, (pthread_mutex_t *), NULL)                                    \
    X(int, pthread_mutex_trylock, (pthread_mutex_t *), NULL)                                 \
    X(int, pthread_join, (pthread_t, void **), NULL)                                         \
    X(int, pthread_create,                                                                   \
      (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *), NULL)                \
    X(int, pthread_setname_np, (pthread_t, const char *), NULL)                              \
    X(int, sem_wait, (sem_t *), NULL)                                                        \
    X(int, sem_timedwait, (sem_t *, const struct timespec *), NULL)                          \
    X(int, sem_clockwait, (sem_t *, clockid_t, const struct timespec *), NULL)              \
    X(long, syscall, (long, ...), NULL)                                                      \
    X(pid_t, waitpid, (pid_t, int *, int), NULL)                                             \
    X(pid_t, wait, (int *), NULL)                                                            \
    X(pid_t, fork, (void), NULL)                                                             \
    X(void, _exit, (int), NULL)                                                              \
    X(void, _Exit, (int), NULL)                                                              \
    X(int, execve, (const char *, char *const[], char *const[]), NULL)                      \
    X(int, execv, (const char *, char *const[]), NULL)                                       \
    X(int, execvp, (const char *, char *const[]), NULL)                                      \
    X(int, execvpe, (const char *, char *const[], char *const[]), NULL)                     \
    X(int, fexecve, (int, char *const[], char *const[]), NULL)                               \
    X(void, urcu_bp_before_fork, (void), NULL)                                               \
    X(void, urcu_bp_after_fork_parent, (void), NULL)                                         \
    X(void, urcu_bp_after_fork_child, (void), NULL)                                          \
    X(int, sigaction, (int, const struct sigaction *, struct sigaction *), NULL)             \
    X(__sighandler_t, signal, (int, __sighandler_t), NULL)                                   \
    X(__sighandler_t, sysv_signal, (int, __sighandler_t), NULL)                              \
    X(int, signalfd, (int, const sigset_t *, int), NULL)                                     \
    X(int, sigwait, (const sigset_t *, int *), NULL)                                         \
    X(int, sigwaitinfo, (const sigset_t *, siginfo_t *), NULL)                               \
    X(int, sigtimedwait, (const sigset_t *, siginfo_t *, const struct timespec *), NULL)    \
    X(int, pause, (void), NULL)                                                              \
    X(int, sigsuspend, (const sigset_t *), NULL)                                             \
    X(int, semop, (int, struct sembuf *, size_t), NULL)                                      \
    X(int, semtimedop, (int, struct sembuf *, size_t, const struct timespec *), NULL)       \
    X(ssize_t, msgrcv, (int, void *, size_t, long, int), NULL)                               \
    X(int, msgsnd, (int, const void *, size_t, int), NULL)                                   \
    X(__sighandler_t, sigset, (int, __sighandler_t), NULL)                                   \
    X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *, const sigset_t *), NULL) \
    X(ssize_t, sendfile, (int, int, off_t *, size_t), NULL)                                  \
    X(ssize_t, sendfile64, (int, int, off64_t *, size_t), NULL)                              \
    X(ssize_t, splice, (int, loff_t *, int, loff_t *, size_t, unsigned int), NULL)

enum up_real_id {
#define UP_REAL_ID(ret, name, params, version) UP_REAL_ID_##name,
    UP_REAL_FUNCS(UP_REAL_ID)
#undef UP_REAL_ID
    UP_REAL_COUNT
};

/* Looks up entry `id`, stores it, returns it.  A function libc lacks is
 * fatal (the program called it, so it expected it): the agent says which
 * and aborts.  Context: thread; takes the dynamic linker's lock; never from
 * a handler (the constructor resolves everything first). */
void *up_resolve(enum up_real_id id);
/* Resolves every entry.  Context: the constructor. */
void up_resolve_all(void);

#define UP_REAL_DECL(ret, name, params, version)                                          \
    typedef ret up_##name##_fn params;                                                    \
    extern up_##name##_fn *_Atomic up_real_##name##_ptr;                                 \
    static inline up_##name##_fn *up_real_##name(void)                                    \
    {                                                                                     \
        up_##name##_fn *f = atomic_load_explicit(&up_real_##name##_ptr, memory_order_relaxed); \
        return UP_LIKELY(f != NULL) ? f : (up_##name##_fn *)up_resolve(UP_REAL_ID_##name); \
    }
UP_REAL_FUNCS(UP_REAL_DECL)
#undef UP_REAL_DECL

#endif /* UP_REAL_H */
