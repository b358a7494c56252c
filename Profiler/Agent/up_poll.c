/*
 * up_poll.c - poll, ppoll, select, pselect, epoll_wait, epoll_pwait.
 *
 * The kernel never restarts these after a handler (signal(7)).  When only
 * our signal interrupted one, it is resumed with what is left of its
 * timeout, measured from a CLOCK_MONOTONIC deadline taken at entry, with
 * nanosecond resolution (ppoll for poll, pselect semantics kept for
 * select, epoll_pwait2 for epoll when the kernel has it, else epoll_wait
 * with the remainder rounded up to a millisecond).  When the deadline has
 * passed at a resume, the call returns what a timeout returns: 0, with
 * poll's revents and select's sets cleared and select's timeval zeroed.
 * Infinite timeouts resume as they were.  A program handler's EINTR is
 * returned (with select's timeval holding the time left, as Linux does).
 * Context of each: whatever the program calls it from.
 */
#include <string.h>
#include <sys/syscall.h>
#include "up_call.h"
#include "up_real.h"
#include "up_time.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441 /* the same number on x86-64 and AArch64 */
#endif

static void up_poll_clear(struct pollfd *fds, nfds_t n)
{
    for (nfds_t i = 0; i < n; i++)
        fds[i].revents = 0;
}

/* Resume a poll-like call that returned r (and errno).  tmo_ns < 0: no
 * timeout.  Each resume is a real ppoll with the time left. */
static int up_poll_resume(struct up_call *c, int r, struct pollfd *fds, nfds_t n, int64_t tmo_ns,
                          int64_t t0, const sigset_t *mask)
{
    int64_t deadline = tmo_ns < 0 ? INT64_MAX : up_deadline(t0, tmo_ns);
    while (r < 0 && up_call_ours(c, errno)) {
        if (deadline == INT64_MAX) {
            r = up_real_ppoll()(fds, n, NULL, mask);
            continue;
        }
        int64_t left = up_left_ns(CLOCK_MONOTONIC, deadline);
        if (left == 0) {
            up_poll_clear(fds, n);
            return 0;
        }
        struct timespec ts = up_ns_to_ts(left);
        r = up_real_ppoll()(fds, n, &ts, mask);
    }
    return r;
}

static int up_poll_body(struct pollfd *fds, nfds_t n, int timeout, int fortified, size_t fdslen)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_POLL))
        return fortified ? up_real___poll_chk()(fds, n, timeout, fdslen) : up_real_poll()(fds, n, timeout);
    int64_t t0 = timeout > 0 ? up_clock_ns(CLOCK_MONOTONIC) : 0;
    int r = fortified ? up_real___poll_chk()(fds, n, timeout, fdslen) : up_real_poll()(fds, n, timeout);
    r = up_poll_resume(&c, r, fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, t0, NULL);
    up_call_end(&c);
    return r;
}

UP_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) { return up_poll_body(fds, n, timeout, 0, 0); }

UP_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    return up_poll_body(fds, n, timeout, 1, fdslen);
}

static int up_ppoll_body(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask,
                         int fortified, size_t fdslen)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_PPOLL))
        return fortified ? up_real___ppoll_chk()(fds, n, tmo, mask, fdslen) : up_real_ppoll()(fds, n, tmo, mask);
    int64_t t0 = tmo ? up_clock_ns(CLOCK_MONOTONIC) : 0;
    int r = fortified ? up_real___ppoll_chk()(fds, n, tmo, mask, fdslen) : up_real_ppoll()(fds, n, tmo, mask);
    /* *tmo is read only after the kernel accepted it (it returned EINTR). */
    if (r < 0 && errno == EINTR)
        r = up_poll_resume(&c, r, fds, n, tmo ? up_ts_to_ns(tmo) : -1, t0, mask);
    up_call_end(&c);
    return r;
}

UP_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    return up_ppoll_body(fds, n, tmo, mask, 0, 0);
}

UP_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask,
                          size_t fdslen)
{
    return up_ppoll_body(fds, n, tmo, mask, 1, fdslen);
}

/* What a select timeout leaves: no descriptor ready. */
static void up_fdsets_clear(int n, fd_set *r, fd_set *w, fd_set *e)
{
    if (n <= 0)
        return;
    /* The kernel writes whole longs: DIV_ROUND_UP(n, bits per long). */
    size_t bytes = ((size_t)n + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
    if (r)
        memset(r, 0, bytes);
    if (w)
        memset(w, 0, bytes);
    if (e)
        memset(e, 0, bytes);
}

/* Linux leaves the sets untouched when select/pselect fail with EINTR
 * (core_sys_select returns before writing them back), so a resume can pass
 * them again as they are. */
UP_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SELECT))
        return up_real_select()(n, r, w, e, tv);
    /* glibc reads *tv before the syscall too.  A negative timeout fails
     * with EINVAL, never EINTR. */
    int64_t tmo = -1, t0 = 0;
    if (tv && tv->tv_sec >= 0 && tv->tv_usec >= 0) {
        tmo = (int64_t)tv->tv_sec * 1000000000LL + (int64_t)tv->tv_usec * 1000;
        t0 = up_clock_ns(CLOCK_MONOTONIC);
    }
    int64_t deadline = tmo < 0 ? INT64_MAX : up_deadline(t0, tmo);
    int res = up_real_select()(n, r, w, e, tv);
    while (res < 0 && up_call_ours(&c, errno)) {
        if (deadline != INT64_MAX) {
            int64_t left = up_left_ns(CLOCK_MONOTONIC, deadline);
            if (left == 0) {
                up_fdsets_clear(n, r, w, e);
                *tv = (struct timeval){0, 0};
                res = 0;
                break;
            }
            *tv = up_ns_to_tv_up(left);
        }
        res = up_real_select()(n, r, w, e, tv);
    }
    up_call_end(&c);
    return res;
}

UP_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_PSELECT))
        return up_real_pselect()(n, r, w, e, ts, mask);
    int64_t deadline = INT64_MAX;
    if (ts && up_ts_valid(ts)) /* glibc reads *ts before the syscall too */
        deadline = up_deadline(up_clock_ns(CLOCK_MONOTONIC), up_ts_to_ns(ts));
    int res = up_real_pselect()(n, r, w, e, ts, mask);
    while (res < 0 && up_call_ours(&c, errno)) {
        if (deadline == INT64_MAX) {
            res = up_real_pselect()(n, r, w, e, ts, mask);
            continue;
        }
        int64_t left = up_left_ns(CLOCK_MONOTONIC, deadline);
        if (left == 0) {
            up_fdsets_clear(n, r, w, e);
            res = 0;
            break;
        }
        struct timespec rem = up_ns_to_ts(left);
        res = up_real_pselect()(n, r, w, e, &rem, mask);
    }
    up_call_end(&c);
    return res;
}

/* Resume an epoll wait: epoll_pwait2 (ns) when the kernel has it (5.11+),
 * else epoll_pwait with the remainder rounded up to a millisecond. */
static int up_epoll_resume(struct up_call *c, int r, int epfd, struct epoll_event *ev, int max, int timeout,
                           int64_t t0, const sigset_t *mask)
{
    int64_t deadline = timeout < 0 ? INT64_MAX : up_deadline(t0, (int64_t)timeout * 1000000);
    while (r < 0 && up_call_ours(c, errno)) {
        if (deadline == INT64_MAX) {
            r = up_real_epoll_pwait()(epfd, ev, max, -1, mask);
            continue;
        }
        int64_t left = up_left_ns(CLOCK_MONOTONIC, deadline);
        if (left == 0)
            return 0;
        struct timespec ts = up_ns_to_ts(left);
        r = (int)up_real_syscall()(SYS_epoll_pwait2, (long)epfd, (long)ev, (long)max, (long)&ts, (long)mask,
                                   (long)(_NSIG / 8));
        if (r < 0 && errno == ENOSYS)
            r = up_real_epoll_pwait()(epfd, ev, max, up_ns_to_ms_up(left), mask);
    }
    return r;
}

UP_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_EPOLL_WAIT))
        return up_real_epoll_wait()(epfd, ev, max, timeout);
    int64_t t0 = timeout > 0 ? up_clock_ns(CLOCK_MONOTONIC) : 0;
    int r = up_real_epoll_wait()(epfd, ev, max, timeout);
    r = up_epoll_resume(&c, r, epfd, ev, max, timeout, t0, NULL);
    up_call_end(&c);
    return r;
}

/* epoll_pwait2: a nanosecond timeout (NULL: none); resumed with the time
 * left, at the deadline 0 (the timeout's result). */
UP_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *tmo,
                           const sigset_t *mask)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_EPOLL_PWAIT2))
        return up_real_epoll_pwait2()(epfd, ev, max, tmo, mask);
    struct up_timeout t = up_timeout_start(tmo);
    int r = up_real_epoll_pwait2()(epfd, ev, max, tmo, mask);
    while (r < 0 && up_call_ours(&c, errno)) {
        struct timespec *left;
        if (!up_timeout_left(&t, &left)) {
            r = 0;
            break;
        }
        r = up_real_epoll_pwait2()(epfd, ev, max, left, mask);
    }
    up_call_end(&c);
    return r;
}

UP_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_EPOLL_PWAIT))
        return up_real_epoll_pwait()(epfd, ev, max, timeout, mask);
    int64_t t0 = timeout > 0 ? up_clock_ns(CLOCK_MONOTONIC) : 0;
    int r = up_real_epoll_pwait()(epfd, ev, max, timeout, mask);
    r = up_epoll_resume(&c, r, epfd, ev, max, timeout, t0, mask);
    up_call_end(&c);
    return r;
}
