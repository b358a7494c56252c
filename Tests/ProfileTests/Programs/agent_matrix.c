/*
 * agent_matrix.c - the transparency matrix: every blocking call the agent
 * interposes (and the ones signal(7) names) under one variant per run, one
 * line per call: "ROW <call> <variant> ret=.. errno=.. data=.. before-event=..".
 * AgentTransparencyTests runs each variant without the agent and with it
 * and requires identical lines.
 *
 * Each call blocks on the main thread until a helper thread provides its
 * event (data, a post, a signal, a child's exit...).  The helper acts only
 * once the main thread is blocked (its /proc state is S), so a loaded
 * machine cannot reorder the signal and the call.  Variants:
 *   plain            no signal of the program
 *   own-sigaction    at 100 ms the helper sends SIGUSR1, whose handler was
 *   own-signal       installed by sigaction (no SA_RESTART), signal (BSD:
 *   own-sigset       SA_RESTART), sigset, or the raw rt_sigaction syscall
 *   own-syscall      (no SA_RESTART): the call is interrupted (EINTR) or
 *                    restarted, as the kernel decides
 *   longjmp          a handler that siglongjmps out of the call
 *   nonblock         descriptors non-blocking: EAGAIN at once (fd calls only)
 * The helper sends SIGUSR1 50 ms after the call blocked and provides the
 * event 150 ms after that.  before-event says whether the call returned
 * before the event was provided (interrupted, or not).
 *
 *   agent_matrix <variant>     agent_matrix list: the variants
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static void nap_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the event and the program's signal, from a helper thread ------------ */

static const char *variant;
static pthread_t main_thread;
static atomic_int event_done;
static void (*provide)(void); /* the current call's event */
static int fds[2];            /* the current call's descriptors */
static sem_t psem;
static int semid, msqid;
static pid_t child;
static _Atomic uint32_t futex_word;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_ready;
static pthread_t joinee;
static int lfd; /* listening socket */
static struct sockaddr_storage laddr;
static socklen_t laddr_len;

static pid_t main_tid;
static int before_g; /* the call returned before the event: set right after it */
static atomic_int call_returned;
#define AFTER_CALL() (before_g = !atomic_load(&event_done), atomic_store(&call_returned, 1))

/* Until the main thread sleeps in the kernel (state S or D) in three looks
 * 5 ms apart (a brief sleep elsewhere does not count), or has returned
 * from the call, at most 10 s. */
static void wait_blocked(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)main_tid);
    int seen = 0;
    for (int i = 0; i < 2000 && !atomic_load(&call_returned); i++) {
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0) {
            buf[n] = 0;
            char *p = strrchr(buf, ')');
            seen = p && (p[2] == 'S' || p[2] == 'D') ? seen + 1 : 0;
            if (seen == 3)
                return;
        }
        nap_ms(5);
    }
}

static void *helper(void *arg)
{
    (void)arg;
    wait_blocked();
    nap_ms(50);
    if (strncmp(variant, "own-", 4) == 0 || strcmp(variant, "longjmp") == 0) {
        pthread_kill(main_thread, SIGUSR1);
        /* The event only once the call returned (interrupted) or blocks
         * again (restarted): "before-event" is then causal, not timing. */
        nap_ms(20);
        wait_blocked();
    }
    atomic_store(&event_done, 1);
    if (provide)
        provide();
    return NULL;
}

static volatile sig_atomic_t handled;
static sigjmp_buf jb;
static void on_usr1(int sig) { (void)sig; handled++; }
static void on_usr1_jump(int sig) { (void)sig; handled++; siglongjmp(jb, 1); }

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (strcmp(variant, "own-sigaction") == 0 || strcmp(variant, "longjmp") == 0) {
        sa.sa_handler = strcmp(variant, "longjmp") == 0 ? on_usr1_jump : on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
    } else if (strcmp(variant, "own-signal") == 0) {
        signal(SIGUSR1, on_usr1);
    } else if (strcmp(variant, "own-sigset") == 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        sigset(SIGUSR1, on_usr1);
#pragma GCC diagnostic pop
    } else if (strcmp(variant, "own-syscall") == 0) {
        struct { void *h; unsigned long flags; void *restorer; uint64_t mask; } k = {0}, probe;
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR2, &sa, NULL); /* learn libc's restorer */
        syscall(SYS_rt_sigaction, SIGUSR2, NULL, &probe, 8);
        signal(SIGUSR2, SIG_IGN);
        k.h = (void *)on_usr1;
        k.flags = probe.flags & 0x04000000ul; /* SA_RESTORER */
        k.restorer = probe.restorer;
        syscall(SYS_rt_sigaction, SIGUSR1, &k, NULL, 8);
    }
}

/* ---- events ---------------------------------------------------------------- */

static void ev_write(void) { (void)!write(fds[1], "x", 1); }
static void ev_post(void) { sem_post(&psem); }
static void ev_semop(void) { struct sembuf up = {0, 1, 0}; semop(semid, &up, 1); }
static void ev_msg(void) { struct { long t; char x[8]; } m = {1, "msg"}; msgsnd(msqid, &m, sizeof m.x, 0); }
static void ev_child(void) { kill(child, SIGKILL); }
static void ev_futex(void) { atomic_store(&futex_word, 1); syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }
static void ev_cond(void) { pthread_mutex_lock(&mu); cv_ready = 1; pthread_cond_signal(&cv); pthread_mutex_unlock(&mu); }
static void ev_sigusr2(void) { pthread_kill(main_thread, SIGUSR2); }
static void ev_connect(void)
{
    int c = socket(laddr.ss_family, SOCK_STREAM, 0);
    (void)!connect(c, (struct sockaddr *)&laddr, laddr_len);
    fds[1] = c;
}
static void *joinee_main(void *arg) { (void)arg; while (!atomic_load(&event_done)) nap_ms(5); return NULL; }
static void ev_none(void) {}

/* ---- the calls ------------------------------------------------------------- */

struct out { long ret; int err; long data; };

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

static struct out c_select(int nb)
{
    mkpipe(nb);
    provide = ev_write;
    fd_set s;
    FD_ZERO(&s);
    FD_SET(fds[0], &s);
    long r = select(fds[0] + 1, &s, NULL, NULL, &(struct timeval){5, 0});
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, r > 0 ? FD_ISSET(fds[0], &s) : 0};
}

static struct out c_pselect(int nb)
{
    mkpipe(nb);
    provide = ev_write;
    fd_set s;
    FD_ZERO(&s);
    FD_SET(fds[0], &s);
    long r = pselect(fds[0] + 1, &s, NULL, NULL, &(struct timespec){5, 0}, NULL);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, r > 0 ? FD_ISSET(fds[0], &s) : 0};
}

static struct out c_epoll(int nb, int pwait);
static struct out c_epoll_pwait2(int nb) { return c_epoll(nb, 2); }

static struct out c_epoll(int nb, int pwait)
{
    mkpipe(nb);
    provide = ev_write;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[0]}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
    long r = pwait == 2 ? epoll_pwait2(ep, &got, 1, &(struct timespec){5, 0}, NULL)
             : pwait ? epoll_pwait(ep, &got, 1, 5000, NULL) : epoll_wait(ep, &got, 1, 5000);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    close(ep);
    return (struct out){r, e, r > 0 ? got.data.fd == fds[0] : 0};
}
static struct out c_epoll_wait(int nb) { return c_epoll(nb, 0); }
static struct out c_epoll_pwait(int nb) { return c_epoll(nb, 1); }

static struct out c_accept(int nb)
{
    struct sockaddr_un { sa_family_t f; char p[108]; } a = {AF_UNIX, ""};
    snprintf(a.p, sizeof a.p, "/tmp/agent-matrix-%d.sock", (int)getpid());
    unlink(a.p);
    lfd = socket(AF_UNIX, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4) != 0)
        exit(2);
    memcpy(&laddr, &a, sizeof a);
    laddr_len = sizeof a;
    provide = ev_connect;
    long r = accept4(lfd, NULL, NULL, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    if (r >= 0)
        close((int)r);
    close(lfd);
    unlink(a.p);
    return (struct out){r >= 0 ? 0 : r, e, 0};
}

/* Sleeps: short without a signal of the program; 5 s when one comes, so it
 * always lands inside the sleep however loaded the machine is. */
static long sleep_ms(void) { return strcmp(variant, "plain") == 0 ? 100 : 5000; }

static struct out c_nanosleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long ms = sleep_ms();
    long r = nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_clock_nanosleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long ms = sleep_ms();
    long r = clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    AFTER_CALL();
    return (struct out){r, r, 0};
}
static struct out c_usleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long r = usleep((useconds_t)(sleep_ms() < 1000 ? sleep_ms() * 1000 : 999999));
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_sem_wait(int nb)
{
    (void)nb;
    sem_init(&psem, 0, 0);
    provide = ev_post;
    long r = sem_wait(&psem);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_sem_timedwait(int nb)
{
    (void)nb;
    sem_init(&psem, 0, 0);
    provide = ev_post;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    long r = sem_timedwait(&psem, &ts);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_semop(int nb)
{
    (void)nb;
    semid = semget(IPC_PRIVATE, 1, 0600);
    provide = ev_semop;
    long r = semop(semid, &(struct sembuf){0, -1, 0}, 1);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    nap_ms(200); /* the post may come after an interruption: wait before removing */
    semctl(semid, 0, IPC_RMID);
    return (struct out){r, e, 0};
}
static struct out c_msgrcv(int nb)
{
    (void)nb;
    msqid = msgget(IPC_PRIVATE, 0600);
    provide = ev_msg;
    struct { long t; char x[8]; } m;
    long r = msgrcv(msqid, &m, sizeof m.x, 0, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    nap_ms(200);
    msgctl(msqid, IPC_RMID, NULL);
    return (struct out){r, e, 0};
}
static struct out c_futex(int nb)
{
    (void)nb;
    atomic_store(&futex_word, 0);
    provide = ev_futex;
    long r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_cond_wait(int nb)
{
    (void)nb;
    cv_ready = 0;
    provide = ev_cond;
    pthread_mutex_lock(&mu);
    long r = 0;
    while (!cv_ready && r == 0)
        r = pthread_cond_wait(&cv, &mu);
    AFTER_CALL();
    pthread_mutex_unlock(&mu);
    return (struct out){r, (int)r, 0};
}
static atomic_int holding;
static void *holder_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    atomic_store(&holding, 1);
    while (!atomic_load(&event_done))
        nap_ms(5);
    pthread_mutex_unlock(&held);
    return NULL;
}
static struct out c_mutex_lock(int nb)
{
    (void)nb;
    provide = ev_none;
    pthread_t t;
    atomic_store(&holding, 0);
    pthread_create(&t, NULL, holder_main, NULL);
    while (!atomic_load(&holding))
        nap_ms(1);
    long r = pthread_mutex_lock(&held); /* held by the holder until the event */
    AFTER_CALL();
    pthread_mutex_unlock(&held);
    pthread_join(t, NULL);
    return (struct out){r, (int)r, 0};
}
static struct out c_join(int nb)
{
    (void)nb;
    provide = ev_none;
    pthread_create(&joinee, NULL, joinee_main, NULL);
    long r = pthread_join(joinee, NULL);
    AFTER_CALL();
    return (struct out){r, (int)r, 0};
}
static struct out c_waitpid(int nb)
{
    (void)nb;
    child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    provide = ev_child;
    int st = 0;
    long r = waitpid(child, &st, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    if (r < 0) { /* interrupted: reap it once it is killed */
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
    }
    return (struct out){r > 0 ? 1 : r, e, WIFSIGNALED(st) ? WTERMSIG(st) : -1};
}
static struct out c_sigwaitinfo(int nb)
{
    (void)nb;
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    provide = ev_sigusr2;
    long r = sigwaitinfo(&s, NULL);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    if (r < 0) {
        nap_ms(250); /* the event comes later: take it before unblocking */
        struct timespec z = {0, 0};
        sigtimedwait(&s, NULL, &z);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return (struct out){r, e, 0};
}
static struct out c_pause(int nb)
{
    (void)nb;
    provide = ev_sigusr2;
    signal(SIGUSR2, SIG_IGN); /* an ignored signal does not end pause */
    long r = strcmp(variant, "plain") == 0 || strcmp(variant, "nonblock") == 0 ? 0 : pause();
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* fd: honours O_NONBLOCK (runs in the nonblock variant).  nojump: not
 * async-signal-safe, so a jump out of it is undefined (skipped in the
 * longjmp variant). */
static const struct {
    const char *name;
    struct out (*call)(int nonblock);
    int fd, nojump;
} calls[] = {
    {"read", c_read, 1, 0}, {"readv", c_readv, 1, 0}, {"recv", c_recv, 1, 0}, {"recvfrom", c_recvfrom, 1, 0},
    {"recvmsg", c_recvmsg, 1, 0}, {"recvmmsg", c_recvmmsg, 1, 0}, {"accept", c_accept, 1, 0},
    {"poll", c_poll, 0, 0}, {"ppoll", c_ppoll, 0, 0}, {"select", c_select, 0, 0}, {"pselect", c_pselect, 0, 0},
    {"epoll_wait", c_epoll_wait, 0, 0}, {"epoll_pwait", c_epoll_pwait, 0, 0},
    {"epoll_pwait2", c_epoll_pwait2, 0, 0},
    {"nanosleep", c_nanosleep, 0, 0}, {"clock_nanosleep", c_clock_nanosleep, 0, 0}, {"usleep", c_usleep, 0, 1},
    {"sem_wait", c_sem_wait, 0, 1}, {"sem_timedwait", c_sem_timedwait, 0, 1}, {"semop", c_semop, 0, 0},
    {"msgrcv", c_msgrcv, 0, 0}, {"futex", c_futex, 0, 0}, {"pthread_cond_wait", c_cond_wait, 0, 1},
    {"pthread_mutex_lock", c_mutex_lock, 0, 1}, {"pthread_join", c_join, 0, 1}, {"waitpid", c_waitpid, 0, 0},
    {"sigwaitinfo", c_sigwaitinfo, 0, 0}, {"pause", c_pause, 0, 0},
};

static const char *const variants[] = {"plain", "own-sigaction", "own-signal", "own-sigset",
                                       "own-syscall", "longjmp", "nonblock", NULL};

static void *watchdog(void *arg)
{
    (void)arg;
    nap_ms(60000);
    printf("ROW hung (watchdog)\n");
    _exit(3);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s <variant>|list\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "list") == 0) {
        for (int i = 0; variants[i]; i++)
            printf("%s\n", variants[i]);
        return 0;
    }
    variant = argv[1];
    int nonblock = strcmp(variant, "nonblock") == 0;
    /* Signals a test runner blocked or ignored are inherited across exec. */
    sigset_t none, all, old;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGUSR1, SIG_DFL);
    /* SIGUSR2 is sigwaitinfo's event: ignored, so one that arrives after
     * its call was interrupted or jumped out of is dropped (a blocked
     * signal is still queued for sigwaitinfo while ignored, on Linux). */
    signal(SIGUSR2, SIG_IGN);
    main_thread = pthread_self();
    main_tid = gettid();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* helpers take no signal */
    pthread_t w;
    pthread_create(&w, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    install();
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if ((nonblock && !calls[i].fd) || (strcmp(variant, "longjmp") == 0 && calls[i].nojump))
            continue;
        atomic_store(&event_done, 0);
        atomic_store(&call_returned, 0);
        handled = 0;
        provide = NULL;
        fds[0] = fds[1] = -1;
        /* The call sets `provide` before blocking; the helper starts after
         * a short pause so the call is already waiting. */
        pthread_t h;
        static volatile int jumped;
        static struct out o;
        jumped = 0;
        sigset_t mask_all;
        sigfillset(&mask_all);
        pthread_sigmask(SIG_SETMASK, &mask_all, &old);
        if (!nonblock)
            pthread_create(&h, NULL, helper, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        before_g = -1;
        if (sigsetjmp(jb, 1) == 0)
            o = calls[i].call(nonblock);
        else
            jumped = 1, atomic_store(&call_returned, 1);
        int before = jumped ? !atomic_load(&event_done) : before_g;
        /* A sleep is not ended by the event: its order is timing only. */
        int sleep_call = strstr(calls[i].name, "sleep") != NULL;
        if (!nonblock)
            pthread_join(h, NULL);
        nap_ms(20);
        printf("ROW %s %s ret=%ld errno=%d data=%ld before-event=%s handled=%d%s\n", calls[i].name, variant,
               jumped ? 0 : o.ret, jumped ? 0 : o.err, jumped ? 0 : o.data, sleep_call ? "-" : before ? "yes" : "no",
               (int)handled, jumped ? " jumped" : "");
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        signal(SIGUSR2, SIG_IGN);
    }
    return 0;
}
