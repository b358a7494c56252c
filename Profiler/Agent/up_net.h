/*
 * up_net.h - socket-timeout helpers shared by the fd interposers.
 */
#ifndef UP_NET_H
#define UP_NET_H

#include <stdint.h>
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

#endif /* UP_NET_H */
