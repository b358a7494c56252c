/*
 * agent_matrix_io.h - the matrix's descriptor calls: reads, polls, sockets,
 * transfers, and the timeout rows.  Part of agent_matrix.c (included once,
 * after its harness and agent_matrix_calls.h).
 */

static void mkpipe(int nonblock)
{
    if (pipe2(fds, nonblock ? O_NONBLOCK : 0) != 0)
        exit(2);
}
static void mksock(int nonblock)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0, fds) != 0)
        exit(2);
}
static void set_timeout(int fd, int opt, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) != 0)
        exit(2);
}

/* ---- reads and polls: the helper writes one byte "x" ----------------------- */

#define FD_CALL(name, make, expr)                                       \
    static struct out c_##name(int nb)                                  \
    {                                                                   \
        make(nb);                                                       \
        provide = ev_write;                                             \
        char buf[16] = {0};                                             \
        (void)buf;                                                      \
        long r = (long)(expr);                                          \
        AFTER_CALL();                                                   \
        return (struct out){r, r < 0 ? errno : 0, r > 0 ? buf[0] : 0};  \
    }

FD_CALL(read, mkpipe, read(fds[0], buf, sizeof buf))
FD_CALL(readv, mkpipe, readv(fds[0], &(struct iovec){buf, sizeof buf}, 1))
FD_CALL(recv, mksock, recv(fds[0], buf, sizeof buf, 0))
FD_CALL(recvfrom, mksock, recvfrom(fds[0], buf, sizeof buf, 0, NULL, NULL))
FD_CALL(recvmsg, mksock, recvmsg(fds[0], &(struct msghdr){.msg_iov = &(struct iovec){buf, sizeof buf}, .msg_iovlen = 1}, 0))
FD_CALL(poll, mkpipe, poll(&(struct pollfd){.fd = fds[0], .events = POLLIN}, 1, 5000))
FD_CALL(ppoll, mkpipe, ppoll(&(struct pollfd){.fd = fds[0], .events = POLLIN}, 1, &(struct timespec){5, 0}, NULL))

static struct out c_recvmmsg(int nb)
{
    mksock(nb);
    provide = ev_write;
    char buf[16] = {0};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &(struct iovec){buf, sizeof buf}, .msg_iovlen = 1}};
    long r = recvmmsg(fds[0], &m, 1, 0, NULL);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, r > 0 ? buf[0] : 0};
}

/* select and pselect: the event within 5 s, or none and a 200 ms timeout.
 * data: the descriptor's bit; select's adds the timeval left, in us, times
 * 10 (Linux writes it back: 0 at the timeout). */
static struct out selects(int p, long ms, void (*ev)(void))
{
    mkpipe(0);
    provide = ev;
    fd_set s;
    FD_ZERO(&s);
    FD_SET(fds[0], &s);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    long r = p ? pselect(fds[0] + 1, &s, NULL, NULL, &(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL)
               : select(fds[0] + 1, &s, NULL, NULL, &tv);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    long bit = r >= 0 ? FD_ISSET(fds[0], &s) != 0 : 0;
    return (struct out){r, e, p ? bit : bit + 10 * (tv.tv_sec * 1000000L + tv.tv_usec)};
}
static struct out c_select(int nb)
{
    (void)nb;
    struct out o = selects(0, 5000, ev_write);
    o.data %= 10; /* the time left is timing */
    return o;
}
static struct out c_pselect(int nb) { (void)nb; return selects(1, 5000, ev_write); }
static struct out c_select_tmo(int nb) { (void)nb; return selects(0, TMO_MS, ev_none); }
static struct out c_pselect_tmo(int nb) { (void)nb; return selects(1, TMO_MS, ev_none); }

/* epoll_wait, epoll_pwait, epoll_pwait2 (kind 0, 1, 2). */
static struct out epolls(int kind, long ms, void (*ev)(void))
{
    mkpipe(0);
    provide = ev;
    int ep = epoll_create1(0);
    struct epoll_event e1 = {.events = EPOLLIN, .data.fd = fds[0]}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &e1);
    long r = kind == 2 ? epoll_pwait2(ep, &got, 1, &(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL)
             : kind ? epoll_pwait(ep, &got, 1, (int)ms, NULL) : epoll_wait(ep, &got, 1, (int)ms);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    close(ep);
    return (struct out){r, e, r > 0 ? got.data.fd == fds[0] : 0};
}
static struct out c_epoll_wait(int nb) { (void)nb; return epolls(0, 5000, ev_write); }
static struct out c_epoll_pwait(int nb) { (void)nb; return epolls(1, 5000, ev_write); }
static struct out c_epoll_pwait2(int nb) { (void)nb; return epolls(2, 5000, ev_write); }
static struct out c_epoll_wait_tmo(int nb) { (void)nb; return epolls(0, TMO_MS, ev_none); }
static struct out c_epoll_pwait_tmo(int nb) { (void)nb; return epolls(1, TMO_MS, ev_none); }
static struct out c_epoll_pwait2_tmo(int nb) { (void)nb; return epolls(2, TMO_MS, ev_none); }

static struct out c_poll_tmo(int nb)
{
    mkpipe(nb);
    provide = ev_none;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    long r = poll(&p, 1, TMO_MS);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, p.revents};
}
static struct out c_ppoll_tmo(int nb)
{
    mkpipe(nb);
    provide = ev_none;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    long r = ppoll(&p, 1, &(struct timespec){0, TMO_MS * 1000000L}, NULL);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, p.revents};
}

/* read from a signalfd for SIGUSR2 (blocked meanwhile).  data: its number. */
static struct out c_read_signalfd(int nb)
{
    sigset_t s = block_usr2();
    fds[0] = signalfd(-1, &s, nb ? SFD_NONBLOCK : 0);
    provide = ev_sigusr2;
    after = after_usr2;
    struct signalfd_siginfo si;
    memset(&si, 0, sizeof si);
    long r = read(fds[0], &si, sizeof si);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, r > 0 ? (long)si.ssi_signo : 0};
}

/* ---- sockets: accept, accept4, connect ------------------------------------ */

static char lpath[108];
static int xfd = -1; /* a row's extra descriptor (the helper's accepted one) */
static void listen_unix(int nb, int backlog)
{
    struct sockaddr_un { sa_family_t f; char p[108]; } a = {AF_UNIX, ""};
    snprintf(a.p, sizeof a.p, "/tmp/agent-matrix-%d.sock", (int)getpid());
    unlink(a.p);
    memcpy(lpath, a.p, sizeof lpath);
    lfd = socket(AF_UNIX, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, backlog) != 0)
        exit(2);
    memcpy(&laddr, &a, sizeof a);
    laddr_len = sizeof a;
}
static void after_listen(struct out *o)
{
    (void)o;
    if (xfd >= 0)
        close(xfd);
    xfd = -1;
    close(lfd);
    unlink(lpath);
}

/* accept (kind 0), accept4 with SOCK_CLOEXEC (1): the helper connects.
 * data: accept4's descriptor has FD_CLOEXEC. */
static struct out accepts(int nb, int kind, long tmo_ms, void (*ev)(void))
{
    listen_unix(nb, 4);
    if (tmo_ms)
        set_timeout(lfd, SO_RCVTIMEO, tmo_ms);
    provide = ev;
    after = after_listen;
    long r = kind ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : accept(lfd, NULL, NULL);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    long cloexec = 0;
    if (r >= 0) {
        cloexec = (fcntl((int)r, F_GETFD) & FD_CLOEXEC) != 0;
        close((int)r);
    }
    return (struct out){r >= 0 ? 0 : r, e, kind ? cloexec : 0};
}
static struct out c_accept(int nb) { return accepts(nb, 0, 0, ev_connect); }
static struct out c_accept4(int nb) { return accepts(nb, 1, 0, ev_connect); }
static struct out c_accept_tmo(int nb) { return accepts(nb, 0, TMO_MS, ev_none); }

/* connect blocks on an AF_UNIX listener whose backlog (0) is full with one
 * connection not yet accepted, until the helper accepts that one (or its
 * SO_SNDTIMEO passes: EAGAIN).  data: connected (getpeername works). */
static void ev_accept_one(void) { xfd = accept(lfd, NULL, NULL); }
static struct out connects(int nb, long tmo_ms, void (*ev)(void))
{
    listen_unix(0, 0);
    fds[0] = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fds[0], (struct sockaddr *)&laddr, laddr_len) != 0)
        exit(2);
    fds[1] = socket(AF_UNIX, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
    if (tmo_ms)
        set_timeout(fds[1], SO_SNDTIMEO, tmo_ms);
    provide = ev;
    after = after_listen;
    long r = connect(fds[1], (struct sockaddr *)&laddr, laddr_len);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    return (struct out){r, e, getpeername(fds[1], (struct sockaddr *)&peer, &len) == 0};
}
static struct out c_connect(int nb) { return connects(nb, 0, ev_accept_one); }
static struct out c_connect_tmo(int nb) { return connects(nb, TMO_MS, ev_none); }

/* ---- transfers: 1 MiB of a pattern through a small buffer ------------------ */

#define XFER (1L << 20)
static unsigned char *xbuf; /* XFER bytes of the pattern */
static int pattern_fd;      /* a file holding them */
static unsigned char pat(size_t i) { return (unsigned char)((uint32_t)(i * 2654435761u) >> 13); }

static void xfer_init(void)
{
    xbuf = malloc(XFER);
    char path[] = "/tmp/agent-matrix-XXXXXX";
    pattern_fd = mkstemp(path);
    if (!xbuf || pattern_fd < 0)
        exit(2);
    unlink(path);
    for (long i = 0; i < XFER; i++)
        xbuf[i] = pat((size_t)i);
    for (long done = 0; done < XFER;) {
        ssize_t w = write(pattern_fd, xbuf + done, (size_t)(XFER - done));
        if (w <= 0)
            exit(2);
        done += w;
    }
}

/* The reader: takes everything from drain_fd until the call has returned
 * and nothing is left (what a returned call wrote is in the buffer). */
static int drain_fd;
static long drained;         /* bytes read; -1 once one differed from the pattern */
static atomic_int drain_done;
static void drain(void)
{
    static unsigned char b[65536];
    long got = 0;
    int bad = 0;
    for (;;) {
        int last = atomic_load(&call_returned);
        struct pollfd p = {.fd = drain_fd, .events = POLLIN};
        int n = poll(&p, 1, last ? 0 : 5);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || !(p.revents & POLLIN)) {
            if (last)
                break;
            continue;
        }
        ssize_t r = read(drain_fd, b, sizeof b);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break;
        for (ssize_t k = 0; k < r; k++)
            bad |= b[k] != pat((size_t)(got + k));
        got += r;
    }
    drained = bad ? -1 : got;
    atomic_store(&drain_done, 1);
}
/* The data of a transfer row: what the reader got (nonblock: no helper,
 * read here). */
static void after_xfer(struct out *o)
{
    if (!atomic_load(&drain_done))
        drain();
    o->data = drained;
}
static void xfer_start(int rfd, void (*ev)(void))
{
    drain_fd = rfd;
    drained = 0;
    atomic_store(&drain_done, 0);
    provide = ev;
    after = after_xfer;
}

/* Three pieces of the pattern, for writev and sendmsg. */
static struct iovec xiov[3];
static struct iovec *pieces(void)
{
    xiov[0] = (struct iovec){xbuf, 100000};
    xiov[1] = (struct iovec){xbuf + 100000, 300001};
    xiov[2] = (struct iovec){xbuf + 400001, (size_t)(XFER - 400001)};
    return xiov;
}

/* A blocking transfer into fds[1] (pipe or socket) that the helper drains
 * from fds[0]; ret is the call's, data the bytes the reader got. */
#define XFER_CALL(name, make, expr)                                     \
    static struct out c_##name(int nb)                                  \
    {                                                                   \
        make(nb);                                                       \
        xfer_start(fds[0], drain);                                      \
        long r = (long)(expr);                                          \
        AFTER_CALL();                                                   \
        return (struct out){r, r < 0 ? errno : 0, 0};                   \
    }

XFER_CALL(write, mkpipe, write(fds[1], xbuf, XFER))
XFER_CALL(writev, mkpipe, writev(fds[1], pieces(), 3))
XFER_CALL(send, mksock, send(fds[1], xbuf, XFER, 0))
XFER_CALL(sendto, mksock, sendto(fds[1], xbuf, XFER, 0, NULL, 0))
XFER_CALL(sendmsg, mksock, sendmsg(fds[1], &(struct msghdr){.msg_iov = pieces(), .msg_iovlen = 3}, 0))
XFER_CALL(sendfile, mksock, sendfile(fds[1], pattern_fd, &(off_t){0}, XFER))

/* sendmmsg: two messages of 512 KiB on a stream socket; ret counts them. */
static struct out c_sendmmsg(int nb)
{
    mksock(nb);
    xfer_start(fds[0], drain);
    struct iovec iov[2] = {{xbuf, XFER / 2}, {xbuf + XFER / 2, XFER / 2}};
    struct mmsghdr m[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                           {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
    long r = sendmmsg(fds[1], m, 2, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* send with SO_SNDTIMEO 200 ms and no reader: the bytes that fit. */
static struct out c_send_tmo(int nb)
{
    mksock(nb);
    set_timeout(fds[1], SO_SNDTIMEO, TMO_MS);
    xfer_start(fds[0], ev_none); /* read once the call is done */
    long r = send(fds[1], xbuf, XFER, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* recv(MSG_WAITALL) of 1 MiB that the helper sends in whatever pieces fit
 * (it stops once the call has returned and the buffer is full).  data:
 * the bytes received, -1 if one differed from the pattern. */
static void feed(void)
{
    long sent = 0;
    while (sent < XFER) {
        int last = atomic_load(&call_returned);
        struct pollfd p = {.fd = fds[1], .events = POLLOUT};
        int n = poll(&p, 1, last ? 0 : 5);
        if (n > 0) {
            ssize_t w = send(fds[1], xbuf + sent, (size_t)(XFER - sent), MSG_DONTWAIT);
            if (w > 0)
                sent += w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                break;
        } else if (last) {
            break;
        }
    }
}
static struct out c_recv_waitall(int nb)
{
    static unsigned char rbuf[XFER];
    mksock(nb);
    provide = feed;
    long r = recv(fds[0], rbuf, XFER, MSG_WAITALL);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    return (struct out){r, e, r > 0 ? (memcmp(rbuf, xbuf, (size_t)r) == 0 ? r : -1) : 0};
}

/* splice from an empty pipe into another: the helper writes "x" to the
 * first.  data: the byte that came out of the second. */
static int sp[2];
static void after_splice(struct out *o)
{
    (void)o;
    close(sp[0]);
    close(sp[1]);
}
static struct out c_splice(int nb)
{
    mkpipe(nb);
    if (pipe2(sp, nb ? O_NONBLOCK : 0) != 0)
        exit(2);
    provide = ev_write;
    after = after_splice;
    long r = splice(fds[0], NULL, sp[1], NULL, 16, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    char c = 0;
    return (struct out){r, e, r > 0 && read(sp[0], &c, 1) == 1 ? c : 0};
}

/* splice from a pipe holding 64 KiB into a socket whose buffer is full
 * (the pattern's first bytes, sent until EAGAIN): the helper drains it.
 * data: what the reader got, prefill and spliced bytes. */
static void after_splice_xfer(struct out *o)
{
    after_splice(o);
    after_xfer(o);
}
static struct out c_splice_socket(int nb)
{
    mksock(nb);
    if (pipe(sp) != 0)
        exit(2);
    long k = 0;
    for (ssize_t w; (w = send(fds[1], xbuf + k, (size_t)(XFER - k), MSG_DONTWAIT)) > 0;)
        k += w;
    for (long in = 0; in < 65536;) {
        ssize_t w = write(sp[1], xbuf + k + in, (size_t)(65536 - in));
        if (w <= 0)
            exit(2);
        in += w;
    }
    xfer_start(fds[0], drain);
    after = after_splice_xfer;
    long r = splice(sp[0], NULL, fds[1], NULL, 65536, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* pread and pwrite never block on anything a helper could hold up: the
 * descriptors that wait (pipes, FIFOs, sockets, signalfd...) have no
 * offset (ESPIPE), and a regular file does not wait.  So these rows are
 * quiet (no program signal): a regular file's answer and the pipe's
 * ESPIPE.  data: the bytes read back match the pattern. */
static struct out c_pread(int nb)
{
    (void)nb;
    quiet = 1;
    provide = ev_none;
    unsigned char b[4096];
    long r = pread(pattern_fd, b, sizeof b, 123457);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    return (struct out){r, e, r > 0 && memcmp(b, xbuf + 123457, (size_t)r) == 0};
}
static struct out c_pread_pipe(int nb)
{
    mkpipe(nb);
    quiet = 1;
    provide = ev_none;
    char b[16];
    long r = pread(fds[0], b, sizeof b, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_pwrite(int nb)
{
    (void)nb;
    quiet = 1;
    provide = ev_none;
    char path[] = "/tmp/agent-matrix-XXXXXX";
    fds[0] = mkstemp(path);
    if (fds[0] < 0)
        exit(2);
    unlink(path);
    long r = pwrite(fds[0], xbuf, XFER, 4096);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    static unsigned char back[XFER];
    long g = r > 0 ? pread(fds[0], back, (size_t)r, 4096) : 0;
    return (struct out){r, e, r > 0 && g == r && memcmp(back, xbuf, (size_t)r) == 0};
}
static struct out c_pwrite_pipe(int nb)
{
    mkpipe(nb);
    quiet = 1;
    provide = ev_none;
    long r = pwrite(fds[1], "x", 1, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* recv with SO_RCVTIMEO 200 ms and nothing sent: EAGAIN. */
static struct out c_recv_tmo(int nb)
{
    mksock(nb);
    set_timeout(fds[0], SO_RCVTIMEO, TMO_MS);
    provide = ev_none;
    char buf[16];
    long r = recv(fds[0], buf, sizeof buf, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
