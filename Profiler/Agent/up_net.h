/*
 * up_net.h - socket-timeout helpers shared by the fd interposers.
 */
#ifndef UP_NET_H
#define UP_NET_H

#include <stdint.h>
#include <sys/uio.h>
#include "up_call.h"

/* Time left of fd's SO_RCVTIMEO/SO_SNDTIMEO (`optname`) since the call
 * began: -1 when fd is not a socket or has no timeout, else >= 0 ns.
 * Context: as up_call_begin. */
int64_t up_call_fd_left(struct up_call *c, int fd, int optname);

/* The body of an fd interposer whose real call is `expr` (evaluated again
 * on each retry) returning -1/errno on failure; `opt` names the socket
 * timeout that bounds it. */
#define UP_FD_CALL(id, fd, opt, type, expr)                  \
    do {                                                     \
        struct up_call c_;                                   \
        if (!up_call_begin(&c_, (id)))                       \
            return (expr);                                   \
        type r_;                                             \
        for (;;) {                                           \
            r_ = (expr);                                     \
            if (r_ >= 0 || errno != EINTR)                   \
                break;                                       \
            if (up_call_fd_retry(&c_, (fd), (opt)) <= 0)     \
                break;                                       \
        }                                                    \
        up_call_end(&c_);                                    \
        return r_;                                           \
    } while (0)

/* After a blocking transfer on fd moved some but not all of its bytes:
 * whether our tick alone cut it short (up_call_cut_by_tick), so that it
 * must go on for the rest as the program asked.  signal(7): a transfer
 * interrupted after partial progress returns the bytes done, SA_RESTART or
 * not.  Never for a non-blocking descriptor or MSG_DONTWAIT (a short count
 * is their normal answer), nor once a socket timeout has passed.
 * Context: as up_call_begin. */
int up_call_xfer_more(struct up_call *c, int fd, int optname, int msgflags);

/* The body of a blocking transfer of `n` bytes whose real call is `expr`,
 * written in terms of done_ (the bytes moved so far: the buffer, length
 * and offset advance by it).  Goes on after a partial count while only our
 * tick interrupted (up_call_xfer_more); an error or a program's EINTR
 * after progress returns the bytes done, as the kernel would have.  While
 * it goes on, up_tls.xfer_progress makes any program handler end it
 * (up_signal.c: the kernel would not restart a call that moved bytes). */
#define UP_XFER_CALL(id, fd, opt, mflags, n, type, expr)              \
    do {                                                              \
        struct up_call c_;                                            \
        size_t done_ = 0;                                             \
        if (!up_call_begin(&c_, (id)))                                \
            return (expr);                                            \
        type r_;                                                      \
        for (;;) {                                                    \
            r_ = (expr);                                              \
            if (r_ < 0) {                                             \
                if (errno == EINTR && up_call_fd_retry(&c_, (fd), (opt)) > 0) \
                    continue;                                         \
                if (done_)                                            \
                    r_ = (type)done_;                                 \
                break;                                                \
            }                                                         \
            done_ += (size_t)r_;                                      \
            if (r_ == 0 || done_ >= (size_t)(n) ||                     \
                !up_call_xfer_more(&c_, (fd), (opt), (mflags))) {     \
                r_ = (type)done_;                                     \
                break;                                                \
            }                                                         \
            atomic_store_explicit(&up_tls.xfer_progress, 1, memory_order_relaxed); \
            atomic_signal_fence(memory_order_seq_cst);                \
        }                                                             \
        atomic_signal_fence(memory_order_seq_cst);                    \
        atomic_store_explicit(&up_tls.xfer_progress, 0, memory_order_relaxed); \
        up_call_end(&c_);                                             \
        return r_;                                                    \
    } while (0)

/* Total length of an iovec array. */
static inline size_t up_iov_len(const struct iovec *iov, int cnt)
{
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

#define UP_IOV_CHUNK 64
/* The part of iov[0..cnt) after its first `done` bytes, at most
 * UP_IOV_CHUNK entries, in out; returns the count (a transfer with fewer
 * entries is a valid prefix: the loop goes on with the rest). */
static inline int up_iov_after(const struct iovec *iov, int cnt, size_t done, struct iovec *out)
{
    int i = 0, k = 0;
    while (i < cnt && done >= iov[i].iov_len) {
        done -= iov[i].iov_len;
        i++;
    }
    for (; i < cnt && k < UP_IOV_CHUNK; i++, k++) {
        out[k].iov_base = (char *)iov[i].iov_base + done;
        out[k].iov_len = iov[i].iov_len - done;
        done = 0;
    }
    return k;
}

#endif /* UP_NET_H */
