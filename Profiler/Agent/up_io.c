/*
 * up_io.c - read/write family interposers.  Marked "in <call>"; an EINTR
 * from our signal alone (possible only on sockets with a timeout, or a
 * driver that returns EINTR itself: with SA_RESTART the kernel restarts the
 * rest) is retried, within the socket's timeout (up_call_fd_retry).
 * Context of each: whatever the program calls it from (thread or handler).
 */
#include <sys/socket.h>
#include "up_net.h"
#include "up_real.h"

UP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    UP_FD_CALL(UP_CALL_READ, fd, SO_RCVTIMEO, ssize_t, up_real_read()(fd, buf, n));
}

UP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    UP_FD_CALL(UP_CALL_READ, fd, SO_RCVTIMEO, ssize_t, up_real___read_chk()(fd, buf, n, buflen));
}

UP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    UP_FD_CALL(UP_CALL_READV, fd, SO_RCVTIMEO, ssize_t, up_real_readv()(fd, iov, cnt));
}

UP_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    UP_FD_CALL(UP_CALL_PREAD, fd, SO_RCVTIMEO, ssize_t, up_real_pread()(fd, buf, n, off));
}

UP_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    UP_FD_CALL(UP_CALL_PREAD, fd, SO_RCVTIMEO, ssize_t, up_real_pread64()(fd, buf, n, off));
}

UP_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    UP_FD_CALL(UP_CALL_PREAD, fd, SO_RCVTIMEO, ssize_t, up_real___pread_chk()(fd, buf, n, off, buflen));
}

UP_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
    UP_FD_CALL(UP_CALL_PREAD, fd, SO_RCVTIMEO, ssize_t, up_real___pread64_chk()(fd, buf, n, off, buflen));
}

UP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    UP_FD_CALL(UP_CALL_WRITE, fd, SO_SNDTIMEO, ssize_t, up_real_write()(fd, buf, n));
}

UP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    UP_FD_CALL(UP_CALL_WRITEV, fd, SO_SNDTIMEO, ssize_t, up_real_writev()(fd, iov, cnt));
}

UP_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    UP_FD_CALL(UP_CALL_PWRITE, fd, SO_SNDTIMEO, ssize_t, up_real_pwrite()(fd, buf, n, off));
}

UP_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    UP_FD_CALL(UP_CALL_PWRITE, fd, SO_SNDTIMEO, ssize_t, up_real_pwrite64()(fd, buf, n, off));
}
