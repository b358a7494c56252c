/*
 * up_net.c - socket interposers: recv*, send*, accept*, connect.
 *
 * With our SA_RESTART handler the kernel restarts these unless the socket
 * has SO_RCVTIMEO/SO_SNDTIMEO (signal(7)); then our signal makes them
 * return EINTR, and they are retried within the socket's timeout
 * (up_call_fd_retry).  connect() is not retried on TCP: the connection goes
 * on in the background after an EINTR, so the agent waits for it as the
 * interrupted call would have (POLLOUT, then SO_ERROR), within SO_SNDTIMEO;
 * an AF_UNIX connect gives up at a signal, so it is made again.
 * recvmmsg's own timeout argument is passed as is on a retry (the kernel
 * checks it only between datagrams; see recvmmsg(2), BUGS).
 * Partial progress (signal(7): the bytes done are returned): a send,
 * sendto or sendmsg, and a recv* with MSG_WAITALL, that our tick cut short
 * go on for the rest on a blocking socket (UP_XFER_CALL); ancillary data
 * goes with the first part only, as one call would send it.  sendmmsg on
 * a stream socket likewise (a short message is finished, then the rest);
 * recvmmsg counts datagrams, each atomic: not continued.
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

/* The rest of message m after its first m->msg_len bytes, with sendmsg;
 * msg_len grows by what moves.  0 when all of it went, -1 when a program
 * signal, an error or the socket's timeout ended it (errno set). */
static int up_sendmmsg_finish(struct up_call *c, int fd, struct mmsghdr *m, int flags)
{
    size_t total = up_iov_len(m->msg_hdr.msg_iov, (int)m->msg_hdr.msg_iovlen);
    while (m->msg_len < total) {
        if (!up_call_xfer_more(c, fd, SO_SNDTIMEO, flags))
            return -1;
        struct iovec rest[UP_IOV_CHUNK];
        struct msghdr more = {.msg_iov = rest,
                              .msg_iovlen = (size_t)up_iov_after(m->msg_hdr.msg_iov, (int)m->msg_hdr.msg_iovlen,
                                                                 m->msg_len, rest)};
        ssize_t k = up_real_sendmsg()(fd, &more, flags);
        if (k < 0) {
            if (errno == EINTR && up_call_fd_retry(c, fd, SO_SNDTIMEO) > 0)
                continue;
            return -1;
        }
        m->msg_len += (unsigned int)k;
    }
    return 0;
}

/* sendmmsg on a stream socket: a message our tick cut short is finished
 * with sendmsg, then the messages after it go (the kernel's one call would
 * have sent them all); a program signal, an error or the socket timeout
 * ends it with the messages so far, as the kernel's call would. */
UP_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_SENDMMSG))
        return up_real_sendmmsg()(fd, v, n, flags);
    unsigned int sent = 0;
    int r;
    for (;;) {
        r = up_real_sendmmsg()(fd, v + sent, n - sent, flags);
        if (r < 0) {
            if (errno == EINTR && up_call_fd_retry(&c, fd, SO_SNDTIMEO) > 0)
                continue;
            break;
        }
        unsigned int end = sent + (unsigned int)r;
        int go_on = r > 0, finished = 0;
        for (unsigned int i = sent; i < end && go_on; i++) {
            if (v[i].msg_len < up_iov_len(v[i].msg_hdr.msg_iov, (int)v[i].msg_hdr.msg_iovlen)) {
                atomic_store_explicit(&up_tls.xfer_progress, 1, memory_order_relaxed);
                atomic_signal_fence(memory_order_seq_cst);
                go_on = up_sendmmsg_finish(&c, fd, &v[i], flags) == 0;
                finished = 1; /* our tick cut this call: the rest goes too */
            }
        }
        sent = end;
        if (!go_on || sent >= n || (!finished && !up_call_xfer_more(&c, fd, SO_SNDTIMEO, flags)))
            break;
        atomic_store_explicit(&up_tls.xfer_progress, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&up_tls.xfer_progress, 0, memory_order_relaxed);
    up_call_end(&c);
    return sent > 0 ? (int)sent : r;
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

/* An AF_UNIX connect cut by our signal did not go on in the background
 * (it waits for room in the listener's backlog, and gives up at a signal):
 * connect again, within what is left of SO_SNDTIMEO - set to that for the
 * retry and put back after (the socket is not connected yet, so no other
 * call of the program uses its timeout meanwhile).  EAGAIN at the
 * deadline, the kernel's answer. */
static int up_connect_again(struct up_call *c, int fd, const struct sockaddr *a, socklen_t alen)
{
    for (;;) {
        int64_t left = up_call_fd_left(c, fd, SO_SNDTIMEO);
        if (left == 0) {
            errno = EAGAIN;
            return -1;
        }
        struct timeval old, tv = {.tv_sec = left / 1000000000LL, .tv_usec = (left % 1000000000LL) / 1000};
        socklen_t len = sizeof old;
        int timed = left > 0 && getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &old, &len) == 0;
        if (timed && tv.tv_sec == 0 && tv.tv_usec == 0)
            tv.tv_usec = 1; /* 0 would mean "no timeout" */
        if (timed)
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int r = up_real_connect()(fd, a, alen);
        int err = errno;
        if (timed)
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &old, sizeof old);
        errno = err;
        if (r == 0 || !up_call_ours(c, err))
            return r;
    }
}

static int up_family(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 ? ss.ss_family : AF_UNSPEC;
}

UP_EXPORT int connect(int fd, const struct sockaddr *a, socklen_t alen)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_CONNECT))
        return up_real_connect()(fd, a, alen);
    int r = up_real_connect()(fd, a, alen);
    if (r < 0 && up_call_ours(&c, errno))
        r = up_family(fd) == AF_UNIX ? up_connect_again(&c, fd, a, alen) : up_connect_finish(&c, fd);
    up_call_end(&c);
    return r;
}
