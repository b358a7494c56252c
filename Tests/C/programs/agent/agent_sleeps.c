/*
 * agent_sleeps.c - run under the unwind-profile agent at a high sampling
 * frequency: every call the kernel does not restart after a handler, with a
 * timeout on something that never becomes ready, N times each.  Prints one
 * line per call kind:
 *   <kind> n=<calls> eintr=<EINTRs seen> bad=<unexpected results> req_us=<timeout> us=<d1>,<d2>,...
 * and "done".  The test (AgentSignalTests) runs it with and without the
 * agent, interleaved, and wants eintr=0, bad=0, each duration >= the
 * timeout, and each kind's median with the agent within 1 % of the timeout
 * plus what the same waits without the agent overshoot in that run (a
 * socket timeout: plus two sampling periods, see Profiler/Agent/up_call.h).
 * A background thread blocks SIGPROF and sleeps meanwhile (it must not
 * disturb anything).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REQ_MS 50

static int idle_fd; /* read end of a pipe nobody writes to */
static int eintr, bad;

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static struct timespec rel(int ms) { return (struct timespec){ms / 1000, (long)(ms % 1000) * 1000000}; }

static struct timespec abs_in(clockid_t clk, int ms)
{
    struct timespec t;
    clock_gettime(clk, &t);
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

/* r: 0 = the expected timeout result, EINTR, anything else = bad. */
static void note(int r)
{
    if (r == EINTR)
        eintr++;
    else if (r != 0)
        bad++;
}

static int one(const char *kind, int i)
{
    struct timespec ts = rel(REQ_MS);
    if (!strcmp(kind, "nanosleep"))
        return nanosleep(&ts, NULL) == 0 ? 0 : errno;
    if (!strcmp(kind, "clock_nanosleep"))
        return clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    if (!strcmp(kind, "clock_nanosleep_abs")) {
        struct timespec a = abs_in(CLOCK_MONOTONIC, REQ_MS);
        return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &a, NULL);
    }
    if (!strcmp(kind, "usleep"))
        return usleep(REQ_MS * 1000) == 0 ? 0 : errno;
    if (!strcmp(kind, "poll")) {
        struct pollfd p = {idle_fd, POLLIN, 0};
        int r = poll(&p, 1, REQ_MS);
        return r == 0 ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "ppoll")) {
        struct pollfd p = {idle_fd, POLLIN, 0};
        int r = ppoll(&p, 1, &ts, NULL);
        return r == 0 ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "select")) {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(idle_fd, &s);
        struct timeval tv = {0, REQ_MS * 1000};
        int r = select(idle_fd + 1, &s, NULL, NULL, &tv);
        if (r == 0 && (FD_ISSET(idle_fd, &s) || tv.tv_sec || tv.tv_usec))
            return -1; /* a timeout clears the set and the timeval */
        return r == 0 ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "pselect")) {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(idle_fd, &s);
        int r = pselect(idle_fd + 1, &s, NULL, NULL, &ts, NULL);
        return r == 0 ? (FD_ISSET(idle_fd, &s) ? -1 : 0) : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "epoll_wait") || !strcmp(kind, "epoll_pwait")) {
        static int ep = -1;
        if (ep < 0) {
            ep = epoll_create1(0);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = idle_fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, idle_fd, &ev);
        }
        struct epoll_event out;
        sigset_t none;
        sigemptyset(&none);
        int r = kind[6] == 'w' ? epoll_wait(ep, &out, 1, REQ_MS) : epoll_pwait(ep, &out, 1, REQ_MS, &none);
        return r == 0 ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "sem_timedwait")) {
        static sem_t sem;
        if (i == 0)
            sem_init(&sem, 0, 0);
        struct timespec a = abs_in(CLOCK_REALTIME, REQ_MS);
        int r = sem_timedwait(&sem, &a);
        return r == 0 ? -1 : errno == ETIMEDOUT ? 0 : errno;
    }
    if (!strcmp(kind, "futex")) {
        static uint32_t word;
        long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
        return r == 0 ? -1 : errno == ETIMEDOUT ? 0 : errno;
    }
    if (!strcmp(kind, "cond_timedwait")) {
        static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
        struct timespec a = abs_in(CLOCK_REALTIME, REQ_MS);
        pthread_mutex_lock(&m);
        int r = pthread_cond_timedwait(&c, &m, &a);
        pthread_mutex_unlock(&m);
        return r == ETIMEDOUT ? 0 : r == 0 ? -1 : r;
    }
    if (!strcmp(kind, "sigtimedwait")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2); /* blocked in main, never sent */
        int r = sigtimedwait(&set, NULL, &ts);
        return r < 0 && errno == EAGAIN ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "recv_rcvtimeo")) {
        /* A socket with SO_RCVTIMEO: the kernel does not restart it after
         * a handler; the timeout's answer is EAGAIN. */
        static int sv[2] = {-1, -1};
        if (sv[0] < 0) {
            struct timeval tv = {0, REQ_MS * 1000};
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
                setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
                abort();
        }
        char c;
        ssize_t r = recv(sv[0], &c, 1, 0);
        return r < 0 && errno == EAGAIN ? 0 : r < 0 ? errno : -1;
    }
    if (!strcmp(kind, "sleep"))
        return sleep(1) == 0 ? 0 : EINTR;
    fprintf(stderr, "unknown kind %s\n", kind);
    exit(2);
}

static void run(const char *kind, int n, int req_ms)
{
    eintr = bad = 0;
    char list[4096];
    size_t len = 0;
    list[0] = 0;
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_us();
        note(one(kind, i));
        int64_t d = now_us() - t0;
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%lld", i ? "," : "", (long long)d);
    }
    printf("%s n=%d eintr=%d bad=%d req_us=%d us=%s\n", kind, n, eintr, bad, req_ms * 1000, list);
    fflush(stdout);
}

/* A blocking read on a pipe that another thread feeds 50 ms later. */
static int feed_fd;
static void *feeder(void *arg)
{
    (void)arg;
    struct timespec ts = rel(REQ_MS);
    for (int i = 0; i < 5; i++) {
        nanosleep(&ts, NULL);
        if (write(feed_fd, "x", 1) != 1)
            abort();
    }
    return NULL;
}

static void read_pipe(void)
{
    int p[2];
    if (pipe(p) != 0)
        abort();
    feed_fd = p[1];
    pthread_t t;
    pthread_create(&t, NULL, feeder, NULL);
    eintr = bad = 0;
    for (int i = 0; i < 5; i++) {
        char c;
        ssize_t r = read(p[0], &c, 1);
        if (r < 0 && errno == EINTR)
            eintr++;
        else if (r != 1)
            bad++;
    }
    pthread_join(t, NULL);
    printf("read n=5 eintr=%d bad=%d req_us=0 us=\n", eintr, bad);
}

/* Blocks SIGPROF for good and sleeps in short steps meanwhile. */
static volatile int stop_blocker;
static void *blocker(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    struct timespec ts = rel(10);
    while (!stop_blocker)
        if (nanosleep(&ts, NULL) != 0)
            bad++;
    return NULL;
}

int main(int argc, char **argv)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    idle_fd = p[0];
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    pthread_t b;
    pthread_create(&b, NULL, blocker, NULL);

    static const char *const kinds[] = {"nanosleep", "clock_nanosleep", "clock_nanosleep_abs", "usleep",
                                        "poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait",
                                        "sem_timedwait", "futex", "cond_timedwait", "sigtimedwait",
                                        "recv_rcvtimeo"};
    int reps = argc > 1 ? atoi(argv[1]) : 10;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        run(kinds[k], strcmp(kinds[k], "nanosleep") == 0 ? 2 * reps : reps, REQ_MS);
    run("sleep", 1, 1000);
    read_pipe();
    stop_blocker = 1;
    pthread_join(b, NULL);
    printf("blocker bad=%d\n", bad);
    printf("done\n");
    return 0;
}
