/*
 * up_io.c - read/write family interposers.  Marked "in <call>"; an EINTR
 * from our signal alone (possible only on sockets with a timeout, or a
 * driver that returns EINTR itself: with SA_RESTART the kernel restarts the
 * rest) is retried, within the socket's timeout (up_call_fd_retry).  A
 * write that our signal cut short after partial progress (the kernel then
 * returns the bytes done, SA_RESTART or not) goes on for the rest on a
 * blocking descriptor (UP_XFER_CALL): the program sees one write of all of
 * it, as without the agent.  Reads are not continued: a short read is a
 * read's normal answer (the data available), signal or not.
 * Context of each: whatever the program calls it from (thread or handler).
 */
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
    UP_XFER_CALL(UP_CALL_WRITE, fd, SO_SNDTIMEO, 0, n, ssize_t,
                 up_real_write()(fd, (const char *)buf + done_, n - done_));
}

UP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    struct iovec rest[UP_IOV_CHUNK];
    size_t total = cnt > 0 ? up_iov_len(iov, cnt) : 0;
    UP_XFER_CALL(UP_CALL_WRITEV, fd, SO_SNDTIMEO, 0, total, ssize_t,
                 done_ == 0 ? up_real_writev()(fd, iov, cnt)
                            : up_real_writev()(fd, rest, up_iov_after(iov, cnt, done_, rest)));
}

UP_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    UP_XFER_CALL(UP_CALL_PWRITE, fd, SO_SNDTIMEO, 0, n, ssize_t,
                 up_real_pwrite()(fd, (const char *)buf + done_, n - done_, off + (off_t)done_));
}

UP_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    UP_XFER_CALL(UP_CALL_PWRITE, fd, SO_SNDTIMEO, 0, n, ssize_t,
                 up_real_pwrite64()(fd, (const char *)buf + done_, n - done_, off + (off64_t)done_));
}

/* sendfile to a blocking socket sends everything unless a signal or the
 * socket's timeout cuts it (it loops in the kernel): a short count our
 * tick caused goes on for the rest (UP_XFER_CALL; the file offset, *off or
 * the file position, advanced with it).  To a pipe or file, and splice, a
 * short count is their normal answer (a pipe's capacity), signal or not,
 * so it is returned as is: a longer answer would be the agent's.  An EINTR
 * our tick caused is retried (socket timeouts as above). */
static int up_is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

UP_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    UP_XFER_CALL(UP_CALL_SENDFILE, out, SO_SNDTIMEO, up_is_socket(out) ? 0 : MSG_DONTWAIT, n, ssize_t,
                 up_real_sendfile()(out, in, off, n - done_));
}

UP_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    UP_XFER_CALL(UP_CALL_SENDFILE, out, SO_SNDTIMEO, up_is_socket(out) ? 0 : MSG_DONTWAIT, n, ssize_t,
                 up_real_sendfile64()(out, in, off, n - done_));
}

UP_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n, unsigned int flags)
{
    UP_FD_CALL(UP_CALL_SPLICE, out, SO_SNDTIMEO, ssize_t, up_real_splice()(in, off_in, out, off_out, n, flags));
}
