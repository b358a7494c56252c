/* sampler.c - the fixture's C half (sampler.h). */
#define _GNU_SOURCE
#include "sampler.h"

#include <deferred_unwind.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static du_tracer *profiler;
static _Atomic uint64_t sampled_cookie;
static volatile sig_atomic_t sample_status;
static uint64_t delivered_cookie;
static unsigned delivered;

static void on_sigprof(int sig)
{
    (void)sig;
    uint64_t cookie;
    int ret = du_request(profiler, &cookie);
    atomic_store_explicit(&sampled_cookie, cookie, memory_order_relaxed);
    sample_status = ret;
}

static void on_stack(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)arg;
    delivered_cookie = cookie;
    delivered++;
}

int sampler_start(void)
{
    int ret = du_tracer_register(on_stack, NULL, "onecore-c", &profiler);
    if (ret != 0)
        return ret;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigprof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGPROF, &sa, NULL) == 0 ? 0 : -errno;
}

int sampler_sample_once(void)
{
    unsigned before = delivered;
    sample_status = -1;
    if (raise(SIGPROF) != 0)
        return 1;
    uint64_t cookie = atomic_load_explicit(&sampled_cookie, memory_order_relaxed);
    if (sample_status != 0 || cookie == DU_COOKIE_NONE)
        return 2;
    if (du_safe_point() < 1)
        return 3;
    if (delivered != before + 1 || delivered_cookie != cookie)
        return 4;
    return 0;
}

void sampler_print_objects(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        return;
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (!path)
            continue;
        path[strcspn(path, "\n")] = 0;
        if (strcmp(path, last) == 0)
            continue;
        snprintf(last, sizeof last, "%s", path);
        printf("object %s\n", path);
    }
    fclose(maps);
    fflush(stdout);
}

static void *child_thread(void *arg)
{
    (void)arg;
    if (du_thread_attach() != 0)
        return (void *)1;
    uint64_t cookie;
    if (du_request(profiler, &cookie) != 0 || du_safe_point() != 1)
        return (void *)2;
    return du_thread_detach() == 0 ? NULL : (void *)3;
}

static void noop(const struct du_trace *t, uint64_t c, void *a) { (void)t; (void)c; (void)a; }

/* The child: exits with 0 or the step that failed. */
static void child(void)
{
    alarm(60); /* a hang in the child ends it (SIGALRM is not blocked here) */
    if (!du_thread_is_attached())
        _exit(10);
    if (sampler_sample_once() != 0)
        _exit(11);
    pthread_t t;
    void *res = (void *)1;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, &res) != 0 || res != NULL)
        _exit(12);
    du_tracer *extra;
    if (du_tracer_register(noop, NULL, "onecore-child", &extra) != 0)
        _exit(13);
    if (du_tracer_destroy(extra) < 0)
        _exit(14);
    if (du_thread_detach() != 0)
        _exit(15);
    _exit(0);
}

int sampler_fork_check(unsigned bound_seconds)
{
    uint64_t cookie;
    /* A request pending at fork: the parent's, delivered by the parent. */
    if (du_request(profiler, &cookie) != 0)
        return -3;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        child();
    if (du_safe_point() != 1)
        return -4;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)bound_seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -2;
        }
        usleep(10000);
    }
}
