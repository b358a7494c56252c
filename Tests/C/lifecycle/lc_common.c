/*
 * lc_common.c - bounded child processes and the "use the library at once"
 * exercise every fork child runs.
 */
#include "lc_common.h"
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int du_lc_fail(char *msg, size_t len, const char *fmt, ...)
{
    if (msg && len && msg[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return 1;
}

int du_lc_sem_wait(sem_t *s, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    while (sem_timedwait(s, &until) != 0) {
        if (errno != EINTR)
            return -ETIMEDOUT;
    }
    return 0;
}

int du_lc_wait_child(pid_t pid, int errfd, char *msg, size_t len)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return du_lc_fail(msg, len, "waitpid: %s", strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= DU_LC_CHILD_BOUND_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return du_lc_fail(msg, len, "child %d hung: killed after %d s", (int)pid,
                              DU_LC_CHILD_BOUND_S);
        }
        poll(NULL, 0, 1);
    }
    char buf[256] = "";
    if (errfd >= 0) {
        ssize_t n = read(errfd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(errfd);
    }
    if (WIFSIGNALED(status))
        return du_lc_fail(msg, len, "child killed by signal %d %s", WTERMSIG(status), buf);
    if (WEXITSTATUS(status) != 0)
        return du_lc_fail(msg, len, "child exit %d: %s", WEXITSTATUS(status), buf);
    return 0;
}

int du_lc_in_child(int (*fn)(void *arg, char *msg, size_t len), void *arg,
                   char *msg, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return du_lc_fail(msg, len, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        return du_lc_fail(msg, len, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        char cmsg[256] = "";
        int rc = fn(arg, cmsg, sizeof(cmsg));
        if (rc != 0 && write(fds[1], cmsg, strlen(cmsg)) < 0)
            rc = 2;
        _exit(rc ? 1 : 0);
    }
    close(fds[1]);
    return du_lc_wait_child(pid, fds[0], msg, len);
}

static _Atomic unsigned du_lc_child_calls;
static _Atomic uint64_t du_lc_child_cookie;

static void du_lc_child_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)arg;
    atomic_fetch_add(&du_lc_child_calls, 1);
    atomic_store(&du_lc_child_cookie, cookie);
}

int du_lc_child_exercise(char *msg, size_t len)
{
    int attached_here = 0;
    if (!du_thread_is_attached()) {
        int rc = du_thread_attach();
        if (rc != 0)
            return du_lc_fail(msg, len, "child: attach %d", rc);
        attached_here = 1;
    }
    du_tracer *t;
    int rc = du_tracer_register(du_lc_child_cb, NULL, "child", &t);
    if (rc != 0)
        return du_lc_fail(msg, len, "child: register %d", rc);
    uint64_t cookie = 0;
    rc = du_request(t, &cookie);
    if (rc != 0 || cookie == 0)
        return du_lc_fail(msg, len, "child: request %d cookie %llx", rc,
                          (unsigned long long)cookie);
    unsigned before = atomic_load(&du_lc_child_calls);
    rc = du_safe_point();
    if (rc != 1 || atomic_load(&du_lc_child_calls) != before + 1 ||
        atomic_load(&du_lc_child_cookie) != cookie)
        return du_lc_fail(msg, len, "child: safe point %d, %u callbacks, cookie %llx want %llx",
                          rc, atomic_load(&du_lc_child_calls) - before,
                          (unsigned long long)atomic_load(&du_lc_child_cookie),
                          (unsigned long long)cookie);
    rc = du_tracer_cancel(t);
    if (rc != 0)
        return du_lc_fail(msg, len, "child: cancel %d", rc);
    if (attached_here && (rc = du_thread_detach()) != 0)
        return du_lc_fail(msg, len, "child: detach %d", rc);
    return 0;
}
