/*
 * up_net.c - socket interposers: recv*, send*, accept*, connect.
 *
 * With our SA_RESTART handler the kernel restarts these unless the socket
 * has SO_RCVTIMEO/SO_SNDTIMEO (signal(7)); then our signal makes them
 * return EINTR, and they are retried within the socket's timeout
 * (up_call_fd_retry).  connect() is not retried: the connection goes on in
 * the background after an EINTR, so the agent waits for it as the
 * interrupted call would have (POLLOUT, then SO_ERROR), within SO_SNDTIMEO.
 * recvmmsg's own timeout argument is passed as is on a retry (the kernel
 * checks it only between datagrams; see recvmmsg(2), BUGS).
 * Partial progress (signal(7): the bytes done are returned): a send,
 * sendto or sendmsg, and a recv* with MSG_WAITALL, that our tick cut short
 * go on for the rest on a blocking socket (UP_XFER_CALL); ancillary data
 * goes with the first part only, as one call would send it.  recvmmsg and
 * sendmmsg count messages, each atomic: not continued.
 * Context of each: whatever the program calls it from.
 */
#include <poll.h>
#include <sys/socket.h>
#include "up_net.h"
#include "up_real.h"
#include "up_time.h"

UP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    if (flags & MSG_WAITALL)
        UP_XFER_CALL(UP_CALL_RECV, fd, SO_RCVTIMEO, flags, n, ssize_t,
                     up_real_recv()(fd, (char *)buf + done_, n - done_, flags));
    UP_FD_CALL(UP_CALL_RECV, fd, SO_RCVTIMEO, ssize_t, up_real_recv()(fd, buf, n, flags));
}

UP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (flags & MSG_WAITALL)
        UP_XFER_CALL(UP_CALL_RECV, fd, SO_RCVTIMEO, flags, n, ssize_t,
                     up_real___recv_chk()(fd, (char *)buf + done_, n - done_, buflen - done_, flags));
    UP_FD_CALL(UP_CALL_RECV, fd, SO_RCVTIMEO, ssize_t, up_real___recv_chk()(fd, buf, n, buflen, flags));
}

UP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *alen)
{
    if (flags & MSG_WAITALL)
        UP_XFER_CALL(UP_CALL_RECVFROM, fd, SO_RCVTIMEO, flags, n, ssize_t,
                     up_real_recvfrom()(fd, (char *)buf + done_, n - done_, flags, a, alen));
    UP_FD_CALL(UP_CALL_RECVFROM, fd, SO_RCVTIMEO, ssize_t, up_real_recvfrom()(fd, buf, n, flags, a, alen));
}

UP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a,
                                 socklen_t *alen)
{
    if (flags & MSG_WAITALL)
        UP_XFER_CALL(UP_CALL_RECVFROM, fd, SO_RCVTIMEO, flags, n, ssize_t,
                     up_real___recvfrom_chk()(fd, (char *)buf + done_, n - done_, buflen - done_, flags, a,
                                              alen));
    UP_FD_CALL(UP_CALL_RECVFROM, fd, SO_RCVTIMEO, ssize_t,
               up_real___recvfrom_chk()(fd, buf, n, buflen, flags, a, alen));
}

UP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if ((flags & MSG_WAITALL) && msg) {
        /* The rest goes into the iovecs after the bytes done; control data
         * and the name came with the first part. */
        struct iovec rest[UP_IOV_CHUNK];
        struct msghdr more;
        size_t total = up_iov_len(msg->msg_iov, (int)msg->msg_iovlen);
        UP_XFER_CALL(UP_CALL_RECVMSG, fd, SO_RCVTIMEO, flags, total, ssize_t,
                     done_ == 0 ? up_real_recvmsg()(fd, msg, flags)
                                : (more = (struct msghdr){.msg_iov = rest,
                                                          .msg_iovlen = (size_t)up_iov_after(
                                                              msg->msg_iov, (int)msg->msg_iovlen, done_, rest)},
                                   up_real_recvmsg()(fd, &more, flags)));
    }
    UP_FD_CALL(UP_CALL_RECVMSG, fd, SO_RCVTIMEO, ssize_t, up_real_recvmsg()(fd, msg, flags));
}

UP_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
    UP_FD_CALL(UP_CALL_RECVMMSG, fd, SO_RCVTIMEO, int, up_real_recvmmsg()(fd, v, n, flags, tmo));
}

UP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    UP_XFER_CALL(UP_CALL_SEND, fd, SO_SNDTIMEO, flags, n, ssize_t,
                 up_real_send()(fd, (const char *)buf + done_, n - done_, flags));
}

UP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t alen)
{
    UP_XFER_CALL(UP_CALL_SENDTO, fd, SO_SNDTIMEO, flags, n, ssize_t,
                 up_real_sendto()(fd, (const char *)buf + done_, n - done_, flags, a, alen));
}

UP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!msg)
        UP_FD_CALL(UP_CALL_SENDMSG, fd, SO_SNDTIMEO, ssize_t, up_real_sendmsg()(fd, msg, flags));
    struct iovec rest[UP_IOV_CHUNK];
    struct msghdr more;
    size_t total = up_iov_len(msg->msg_iov, (int)msg->msg_iovlen);
    UP_XFER_CALL(UP_CALL_SENDMSG, fd, SO_SNDTIMEO, flags, total, ssize_t,
                 done_ == 0 ? up_real_sendmsg()(fd, msg, flags)
                            : (more = (struct msghdr){.msg_name = msg->msg_name,
                                                      .msg_namelen = msg->msg_namelen,
                                                      .msg_iov = rest,
                                                      .msg_iovlen = (size_t)up_iov_after(
                                                          msg->msg_iov, (int)msg->msg_iovlen, done_, rest)},
                               up_real_sendmsg()(fd, &more, flags)));
}

UP_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    UP_FD_CALL(UP_CALL_SENDMMSG, fd, SO_SNDTIMEO, int, up_real_sendmmsg()(fd, v, n, flags));
}

UP_EXPORT int accept(int fd, struct sockaddr *a, socklen_t *alen)
{
    UP_FD_CALL(UP_CALL_ACCEPT, fd, SO_RCVTIMEO, int, up_real_accept()(fd, a, alen));
}

UP_EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *alen, int flags)
{
    UP_FD_CALL(UP_CALL_ACCEPT4, fd, SO_RCVTIMEO, int, up_real_accept4()(fd, a, alen, flags));
}

/* After our signal cut a blocking connect() short: wait for the connection
 * as the call would have.  0, or -1 with errno (the connection's error,
 * EINPROGRESS when SO_SNDTIMEO expires - the kernel's answer then - or
 * EINTR when a program handler runs meanwhile). */
static int up_connect_finish(struct up_call *c, int fd)
{
    for (;;) {
        int64_t left = up_call_fd_left(c, fd, SO_SNDTIMEO);
        struct timespec ts = up_ns_to_ts(left);
        struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
        int n = up_real_ppoll()(&p, 1, left >= 0 ? &ts : NULL, NULL);
        if (n < 0) {
            if (up_call_ours(c, errno))
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EINPROGRESS;
            return -1;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return -1;
        if (err != 0) {
            errno = err;
            return -1;
        }
        return 0;
    }
}

UP_EXPORT int connect(int fd, const struct sockaddr *a, socklen_t alen)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_CONNECT))
        return up_real_connect()(fd, a, alen);
    int r = up_real_connect()(fd, a, alen);
    if (r < 0 && up_call_ours(&c, errno))
        r = up_connect_finish(&c, fd);
    up_call_end(&c);
    return r;
}
