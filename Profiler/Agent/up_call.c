/*
 * up_call.c - the slow path of the interposer protocol (up_call.h): an
 * EINTR from our signal on a socket that has a timeout.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include "up_call.h"
#include "up_net.h"

int64_t up_call_fd_left(struct up_call *c, int fd, int optname)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    /* Not a socket (ENOTSOCK), or no timeout: the call has no deadline. */
    if (getsockopt(fd, SOL_SOCKET, optname, &tv, &len) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
        return -1;
    int64_t now = (int64_t)up_monotonic_ns();
    if (c->t0 == 0) {
        /* The call's first sample is after its start and before this EINTR
         * (relaxed, same thread: the handler that wrote it ran on us). */
        uint64_t first = c->tracked ? atomic_load_explicit(&up_tls.call_first_ns, memory_order_relaxed) : 0;
        c->t0 = first ? first : (uint64_t)now;
    }
    int64_t timeout = (int64_t)tv.tv_sec * 1000000000LL + (int64_t)tv.tv_usec * 1000;
    int64_t left = (int64_t)c->t0 + timeout - now;
    return left > 0 ? left : 0;
}

int up_call_fd_retry(struct up_call *c, int fd, int optname)
{
    if (!up_call_ours(c, EINTR)) {
        errno = EINTR;
        return 0;
    }
    if (up_call_fd_left(c, fd, optname) == 0) {
        errno = EAGAIN; /* what the kernel answers when the socket timeout expires */
        return -1;
    }
    return 1;
}

int up_call_xfer_more(struct up_call *c, int fd, int optname, int msgflags)
{
    if (msgflags & MSG_DONTWAIT)
        return 0;
    if (!up_call_cut_by_tick(c))
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK))
        return 0;
    return up_call_fd_left(c, fd, optname) != 0;
}
