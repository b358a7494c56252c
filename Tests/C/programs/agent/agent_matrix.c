/*
 * agent_matrix.c - the transparency matrix: every blocking call the agent
 * interposes (and the ones signal(7) names) under one variant per run, one
 * line per call: "ROW <call> <variant> ret=.. errno=.. data=.. before-event=..".
 * AgentTransparencyTests runs each variant without the agent and with it
 * and requires identical lines.
 *
 * Each call blocks on the main thread until a helper thread provides its
 * event (data, a post, a signal, a child's exit, room in a full pipe...).
 * The helper acts only once the main thread is blocked (its /proc state is
 * S), so a loaded machine cannot reorder the signal and the call.  Variants:
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
 * Transfers (write, writev, send, sendto, sendmsg, sendmmsg, sendfile,
 * splice into a socket, recv with MSG_WAITALL) move up to 1 MiB of a
 * position-dependent pattern through a pipe or socket whose buffer holds
 * far less, so the call blocks part-way (and a signal then returns the
 * bytes done); the reader checks every byte against the pattern, and
 * data= is the bytes it got (-1: a byte differed).
 * Rows named "<call>(timeout)" run in the plain variant only: a 200 ms
 * timeout with the event never provided, printing the timeout's answer,
 * not its duration, so our ticks land in the wait and its resumptions (a
 * program signal would have to land inside 200 ms however loaded the
 * machine; the event rows cover the calls it interrupts).  Calls that
 * never block (pread, pwrite: no descriptor a helper can hold up takes an
 * offset) are "quiet": no program signal, the answer only.
 *
 * The calls are in agent_matrix_calls.h (waits, sleeps, IPC, signals) and
 * agent_matrix_io.h (descriptors: reads, transfers, sockets, timeouts),
 * included below: one program, one translation unit.
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
#include <sys/sendfile.h>
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

struct out { long ret; int err; long data; };

static const char *variant;
static pthread_t main_thread;
static atomic_int event_done;
static void (*provide)(void);         /* the current call's event */
static void (*after)(struct out *o);  /* once the helper is done: data, cleanup */
static int quiet;                     /* the call never blocks: no program signal */
static int fds[2];                    /* the current call's descriptors */
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
    if (!quiet)
        nap_ms(50);
    if (!quiet && (strncmp(variant, "own-", 4) == 0 || strcmp(variant, "longjmp") == 0)) {
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

/* The timeout of the "(timeout)" rows (the event rows' timeouts are 5 s:
 * their event always comes first). */
#define TMO_MS 200
static struct timespec abs_in(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

/* ---- the calls ------------------------------------------------------------- */

#include "agent_matrix_calls.h"
#include "agent_matrix_io.h"

/* FD: honours O_NONBLOCK (runs in the nonblock variant).  NOJUMP: not
 * async-signal-safe, so a jump out of it is undefined (skipped in the
 * longjmp variant).  PLAIN: the plain variant only (the timeout rows). */
enum { FD = 1, NOJUMP = 2, PLAIN = 4 };
static const struct {
    const char *name;
    struct out (*call)(int nonblock);
    int flags;
} calls[] = {
    {"read", c_read, FD}, {"readv", c_readv, FD}, {"recv", c_recv, FD}, {"recvfrom", c_recvfrom, FD},
    {"recvmsg", c_recvmsg, FD}, {"recvmmsg", c_recvmmsg, FD}, {"accept", c_accept, FD},
    {"poll", c_poll, 0}, {"ppoll", c_ppoll, 0}, {"select", c_select, 0}, {"pselect", c_pselect, 0},
    {"epoll_wait", c_epoll_wait, 0}, {"epoll_pwait", c_epoll_pwait, 0},
    {"epoll_pwait2", c_epoll_pwait2, 0},
    {"nanosleep", c_nanosleep, 0}, {"clock_nanosleep", c_clock_nanosleep, 0}, {"usleep", c_usleep, NOJUMP},
    {"sem_wait", c_sem_wait, NOJUMP}, {"sem_timedwait", c_sem_timedwait, NOJUMP}, {"semop", c_semop, 0},
    {"msgrcv", c_msgrcv, 0}, {"futex", c_futex, 0}, {"pthread_cond_wait", c_cond_wait, NOJUMP},
    {"pthread_mutex_lock", c_mutex_lock, NOJUMP}, {"pthread_join", c_join, NOJUMP}, {"waitpid", c_waitpid, 0},
    {"sigwaitinfo", c_sigwaitinfo, 0}, {"pause", c_pause, 0},
    /* Sockets, signalfd, transfers (1 MiB through a small buffer), offsets: */
    {"accept4", c_accept4, FD}, {"connect", c_connect, FD}, {"read(signalfd)", c_read_signalfd, FD},
    {"recv(MSG_WAITALL)", c_recv_waitall, FD}, {"write", c_write, FD}, {"writev", c_writev, FD},
    {"send", c_send, FD}, {"sendto", c_sendto, FD}, {"sendmsg", c_sendmsg, FD},
    {"sendmmsg", c_sendmmsg, FD}, {"sendfile", c_sendfile, FD}, {"splice", c_splice, FD},
    {"splice(socket)", c_splice_socket, FD},
    {"pread", c_pread, FD}, {"pread(pipe)", c_pread_pipe, FD}, {"pwrite", c_pwrite, FD},
    {"pwrite(pipe)", c_pwrite_pipe, FD},
    /* More waits: */
    {"sleep", c_sleep, 0}, {"sem_clockwait", c_sem_clockwait, NOJUMP}, {"semtimedop", c_semtimedop, 0},
    {"msgsnd", c_msgsnd, 0}, {"pthread_cond_timedwait", c_cond_timedwait, NOJUMP},
    {"pthread_cond_clockwait", c_cond_clockwait, NOJUMP}, {"wait", c_wait, 0},
    {"sigtimedwait", c_sigtimedwait, 0}, {"sigwait", c_sigwait, 0}, {"sigsuspend", c_sigsuspend, 0},
    /* Timeouts honoured, the event never provided: */
    {"poll(timeout)", c_poll_tmo, PLAIN}, {"ppoll(timeout)", c_ppoll_tmo, PLAIN},
    {"select(timeout)", c_select_tmo, PLAIN}, {"pselect(timeout)", c_pselect_tmo, PLAIN},
    {"epoll_wait(timeout)", c_epoll_wait_tmo, PLAIN}, {"epoll_pwait(timeout)", c_epoll_pwait_tmo, PLAIN},
    {"epoll_pwait2(timeout)", c_epoll_pwait2_tmo, PLAIN},
    {"sem_timedwait(timeout)", c_sem_timedwait_tmo, PLAIN}, {"sem_clockwait(timeout)", c_sem_clockwait_tmo, PLAIN},
    {"semtimedop(timeout)", c_semtimedop_tmo, PLAIN},
    {"pthread_cond_timedwait(timeout)", c_cond_timedwait_tmo, PLAIN},
    {"pthread_cond_clockwait(timeout)", c_cond_clockwait_tmo, PLAIN},
    {"sigtimedwait(timeout)", c_sigtimedwait_tmo, PLAIN}, {"futex(timeout)", c_futex_tmo, PLAIN},
    {"recv(timeout)", c_recv_tmo, PLAIN}, {"accept(timeout)", c_accept_tmo, PLAIN},
    {"connect(timeout)", c_connect_tmo, PLAIN}, {"send(timeout)", c_send_tmo, PLAIN},
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
    int nonblock = strcmp(variant, "nonblock") == 0, plain = strcmp(variant, "plain") == 0;
    /* Signals a test runner blocked or ignored are inherited across exec. */
    sigset_t none, all, old;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGUSR1, SIG_DFL);
    /* SIGUSR2 is the signal calls' event: ignored, so one that arrives
     * after its call was interrupted or jumped out of is dropped (a blocked
     * signal is still queued for sigwaitinfo while ignored, on Linux). */
    signal(SIGUSR2, SIG_IGN);
    main_thread = pthread_self();
    main_tid = gettid();
    xfer_init();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* helpers take no signal */
    pthread_t w;
    pthread_create(&w, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    install();
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int flags = calls[i].flags;
        if ((nonblock && !(flags & FD)) || (strcmp(variant, "longjmp") == 0 && (flags & NOJUMP)) ||
            (!plain && (flags & PLAIN)))
            continue;
        atomic_store(&event_done, 0);
        atomic_store(&call_returned, 0);
        handled = 0;
        provide = NULL;
        after = NULL;
        quiet = 0;
        fds[0] = fds[1] = -1;
        /* The call sets `provide` before blocking; the helper starts after
         * a short pause so the call is already waiting. */
        pthread_t h;
        static volatile int jumped;
        static struct out o;
        jumped = 0;
        o = (struct out){0, 0, 0};
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
        /* A sleep is not ended by the event, nor a timeout row: their
         * order is timing only. */
        int timed = strstr(calls[i].name, "sleep") != NULL || strstr(calls[i].name, "(timeout)") != NULL;
        if (!nonblock)
            pthread_join(h, NULL);
        if (after)
            after(&o);
        nap_ms(20);
        printf("ROW %s %s ret=%ld errno=%d data=%ld before-event=%s handled=%d%s\n", calls[i].name, variant,
               jumped ? 0 : o.ret, jumped ? 0 : o.err, jumped ? 0 : o.data, timed ? "-" : before ? "yes" : "no",
               (int)handled, jumped ? " jumped" : "");
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        signal(SIGUSR2, SIG_IGN);
    }
    return 0;
}
