/*
 * agent_signals.c - the program's own signals under the unwind-profile
 * agent.  Prints "check <name> ok" or "check <name> FAIL <why>" per check,
 * then "done".
 *  - interrupt-<call>: a SIGUSR1 handler is installed; another thread sends
 *    SIGUSR1 100 ms into a 2 s wait (and every 100 ms after, until the wait
 *    returns): the call must fail with EINTR (the profiler resumes only
 *    what its own signal interrupted) before its 2 s timeout (pause: 2 s
 *    too), after the handler ran; no tighter bound on the time, which a
 *    loaded machine stretches: the message gives it, with the signals sent
 *    and the load average;
 *  - oldaction: sigaction's old action is the program's own handler, mask
 *    and flags; signal() returns the previous handler;
 *  - resethand: an SA_RESETHAND handler runs once, then SIG_DFL is reported;
 *  - sigprof: the program's own SIGPROF handler gets a SIGPROF it sends
 *    itself (the profiler's ticks are not passed on), and old actions report it;
 *  - signalfd: with every signal blocked and a signalfd for all of them,
 *    the profiler's ticks (pending meanwhile) never show up in the
 *    signalfd; the program's own SIGUSR2 does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1_count, usr2_count, prof_count;
static int failures;
static pthread_t main_thread;

static void on_usr1(int sig) { (void)sig; usr1_count++; }
static void on_usr2(int sig) { (void)sig; usr2_count++; }
static void on_prof(int sig, siginfo_t *info, void *uc) { (void)sig; (void)info; (void)uc; prof_count++; }

static void check(const char *name, int ok, const char *why)
{
    printf("check %s %s%s%s\n", name, ok ? "ok" : "FAIL", ok ? "" : " ", ok ? "" : why);
    fflush(stdout);
    failures += !ok;
}

/* /proc/loadavg without its newline, for the messages ("?" without /proc). */
static void load_average(char *buf, size_t len)
{
    snprintf(buf, len, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sends SIGUSR1 to the main thread every 100 ms until it is back from its
 * wait: a signal that lands before the wait began (a loaded machine) is
 * followed by another, so no run depends on timing. */
static atomic_int waiting_done, sent;
static void *sender(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100000000};
    while (!atomic_load(&waiting_done)) {
        nanosleep(&ts, NULL);
        pthread_kill(main_thread, SIGUSR1);
        atomic_fetch_add(&sent, 1);
    }
    return NULL;
}

/* Returns the errno of the interrupted call (0 if it did not fail). */
static int wait_kind(const char *kind, int fd)
{
    if (!strcmp(kind, "nanosleep")) {
        struct timespec ts = {2, 0}, rem = {0, 0};
        int r = nanosleep(&ts, &rem) == 0 ? 0 : errno;
        if (r == EINTR && (rem.tv_sec > 2 || (rem.tv_sec == 0 && rem.tv_nsec == 0)))
            return -1; /* rem must say what is left */
        return r;
    }
    if (!strcmp(kind, "clock_nanosleep")) {
        struct timespec ts = {2, 0};
        return clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    if (!strcmp(kind, "poll")) {
        struct pollfd p = {fd, POLLIN, 0};
        return poll(&p, 1, 2000) < 0 ? errno : 0;
    }
    if (!strcmp(kind, "select")) {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(fd, &s);
        struct timeval tv = {2, 0};
        return select(fd + 1, &s, NULL, NULL, &tv) < 0 ? errno : 0;
    }
    if (!strcmp(kind, "epoll_wait")) {
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        int r = epoll_wait(ep, &out, 1, 2000) < 0 ? errno : 0;
        close(ep);
        return r;
    }
    if (!strcmp(kind, "pause"))
        return pause() < 0 ? errno : 0;
    return -2;
}

static void interrupt(const char *kind, int fd)
{
    char name[64];
    snprintf(name, sizeof name, "interrupt-%s", kind);
    usr1_count = 0;
    atomic_store(&sent, 0);
    atomic_store(&waiting_done, 0);
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    int64_t t0 = now_ms();
    int r = wait_kind(kind, fd);
    int64_t took = now_ms() - t0;
    atomic_store(&waiting_done, 1);
    pthread_join(t, NULL);
    char why[256], load[96];
    load_average(load, sizeof load);
    snprintf(why, sizeof why, "errno %d after %lld ms (the wait's timeout: 2000 ms), handler ran %d times, "
             "%d signals sent 100 ms apart; load average %s", r, (long long)took, (int)usr1_count,
             atomic_load(&sent), load);
    /* Interrupted (EINTR, the handler ran) before the wait's own timeout. */
    check(name, r == EINTR && took < 2000 && usr1_count >= 1, why);
}

int main(void)
{
    /* A launcher's blocked signals are inherited across exec (the test
     * runner's threads block some): start from an empty mask. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    main_thread = pthread_self();
    int p[2];
    if (pipe(p) != 0)
        return 1;

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sa.sa_flags = SA_RESTART;
    check("install", sigaction(SIGUSR1, &sa, NULL) == 0, strerror(errno));
    memset(&old, 0, sizeof old);
    sigaction(SIGUSR1, NULL, &old);
    /* glibc adds SA_RESTORER (its signal return trampoline) to what it
     * reports; that bit is not the program's business either way. */
    check("oldaction", old.sa_handler == on_usr1 && (old.sa_flags & ~0x04000000) == SA_RESTART &&
                           sigismember(&old.sa_mask, SIGUSR2) == 1 && sigismember(&old.sa_mask, SIGINT) == 0,
          "old action is not the program's");
    /* The disposition inherited across exec may be SIG_IGN (the test
     * runner's other tests change SIGUSR2 while this one spawns): start
     * from SIG_DFL, then check that signal() answers with what was there. */
    signal(SIGUSR2, SIG_DFL);
    check("signal", signal(SIGUSR2, on_usr2) == SIG_DFL && signal(SIGUSR2, SIG_DFL) == on_usr2,
          "signal() does not return the previous handler");

    static const char *const kinds[] = {"nanosleep", "clock_nanosleep", "poll", "select", "epoll_wait", "pause"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        interrupt(kinds[i], p[0]);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    usr2_count = 0;
    pthread_kill(pthread_self(), SIGUSR2);
    sigaction(SIGUSR2, NULL, &old);
    check("resethand", usr2_count == 1 && old.sa_handler == SIG_DFL, "SA_RESETHAND not reported as SIG_DFL");

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_prof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    check("sigprof-install", sigaction(SIGPROF, &sa, &old) == 0 && old.sa_handler == SIG_DFL,
          "the first old SIGPROF action is not SIG_DFL");
    struct timespec settle = {0, 200000000}; /* profiler ticks meanwhile: not the program's */
    nanosleep(&settle, NULL);
    int before = prof_count;
    pthread_kill(pthread_self(), SIGPROF);
    sigaction(SIGPROF, NULL, &old);
    char why[96];
    snprintf(why, sizeof why, "handler ran %d times before, %d after our own SIGPROF", before, (int)prof_count);
    check("sigprof", before == 0 && prof_count == 1 && old.sa_sigaction == on_prof, why);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPROF, &sa, NULL);
    pthread_kill(pthread_self(), SIGPROF); /* ignored: must not kill us */
    check("sigprof-ignored", prof_count == 1, "an ignored SIGPROF reached the old handler");
    /* signalfd: block everything, read what is pending for us. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    int sfd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
    struct timespec blocked = {0, 100000000}; /* ~100 ticks pend meanwhile */
    nanosleep(&blocked, NULL);
    pthread_kill(pthread_self(), SIGUSR2);
    struct signalfd_siginfo si[8];
    ssize_t n = read(sfd, si, sizeof si);
    int got_usr2 = 0, got_prof = 0;
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++) {
        got_usr2 += si[i].ssi_signo == SIGUSR2;
        got_prof += si[i].ssi_signo == SIGPROF;
    }
    snprintf(why, sizeof why, "signalfd gave %d SIGUSR2 and %d SIGPROF (read %zd)", got_usr2, got_prof, n);
    check("signalfd", got_usr2 == 1 && got_prof == 0, why);
    close(sfd);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    printf("done\n");
    return failures ? 1 : 0;
}
