/* two_cores.c - two copies of the core in one process, fork while attached.
 *
 *   two_cores <library> <library> [forks]
 *
 * dlopen()s both paths RTLD_LOCAL (two files: two copies, each with its own
 * state and atfork handlers, sharing the one liburcu-bp), attaches this
 * thread and a second one in both, requests in both, and forks `forks`
 * times (default 3).  Each child checks both copies work (the forking thread
 * is attached, requests are delivered, a new thread attaches, a tracer
 * registers and cancels, detach) and exits 0; the parent delivers its own
 * pending requests and waits for the child up to 30 s.  Prints "fork N
 * child S" per fork and "ok" at the end; exits 0 only then.
 *
 * Before the fork hub (fork.c) the first fork() never returned: the second
 * copy's prepare handler called urcu_bp_before_fork() again and waited
 * forever, every signal blocked, on the mutex the first call took.  Nothing
 * here can bound that: Tests/DeferredUnwindTests/OneCoreTests.swift runs
 * this program under a bound and SIGKILLs it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct du_trace;
typedef void (*du_callback)(const struct du_trace *, uint64_t, void *);
struct core {
    const char *path;
    int (*attach)(void);
    int (*detach)(void);
    int (*is_attached)(void);
    int (*reg)(du_callback, void *, const char *, void **);
    int (*destroy)(void *);
    int (*request)(void *, uint64_t *);
    int (*safe_point)(void);
    void *tracer;
};

static struct core cores[2];
static unsigned calls[2];

static void on_stack0(const struct du_trace *t, uint64_t c, void *a) { (void)t; (void)c; (void)a; calls[0]++; }
static void on_stack1(const struct du_trace *t, uint64_t c, void *a) { (void)t; (void)c; (void)a; calls[1]++; }
static void noop(const struct du_trace *t, uint64_t c, void *a) { (void)t; (void)c; (void)a; }

static void *sym(void *h, const char *path, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "two_cores: %s: no %s\n", path, name);
        exit(2);
    }
    return p;
}

static void load(struct core *c, const char *path, du_callback cb)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "two_cores: dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    c->path = path;
    *(void **)&c->attach = sym(h, path, "du_thread_attach");
    *(void **)&c->detach = sym(h, path, "du_thread_detach");
    *(void **)&c->is_attached = sym(h, path, "du_thread_is_attached");
    *(void **)&c->reg = sym(h, path, "du_tracer_register");
    *(void **)&c->destroy = sym(h, path, "du_tracer_destroy");
    *(void **)&c->request = sym(h, path, "du_request");
    *(void **)&c->safe_point = sym(h, path, "du_safe_point");
    if (c->reg(cb, NULL, "two-cores", &c->tracer) != 0) {
        fprintf(stderr, "two_cores: register in %s failed\n", path);
        exit(2);
    }
}

static sem_t parked, release;

/* Attached in both copies, parked with requests pending, during the forks. */
static void *parked_thread(void *arg)
{
    (void)arg;
    uint64_t cookie;
    for (int i = 0; i < 2; i++)
        if (cores[i].attach() != 0 || cores[i].request(cores[i].tracer, &cookie) != 0)
            exit(3);
    sem_post(&parked);
    sem_wait(&release);
    for (int i = 0; i < 2; i++)
        if (cores[i].detach() != 0)
            exit(3);
    return NULL;
}

/* In the child: a new thread attaches and is served by both copies. */
static void *child_thread(void *arg)
{
    (void)arg;
    uint64_t cookie;
    for (int i = 0; i < 2; i++)
        if (cores[i].attach() != 0 || cores[i].request(cores[i].tracer, &cookie) != 0 ||
            cores[i].safe_point() != 1 || cores[i].detach() != 0)
            return (void *)1;
    return NULL;
}

static void child(void)
{
    alarm(30); /* a hang in the child ends it */
    uint64_t cookie;
    for (int i = 0; i < 2; i++) {
        unsigned before = calls[i];
        if (cores[i].is_attached() != 1)
            _exit(10 + i);
        if (cores[i].request(cores[i].tracer, &cookie) != 0 || cores[i].safe_point() != 1 ||
            calls[i] != before + 1)
            _exit(20 + i);
    }
    pthread_t t;
    void *res = (void *)1;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, &res) != 0 || res)
        _exit(30);
    for (int i = 0; i < 2; i++) {
        void *extra;
        if (cores[i].reg(noop, NULL, "two-cores-child", &extra) != 0 || cores[i].destroy(extra) < 0)
            _exit(40 + i);
        if (cores[i].detach() != 0)
            _exit(50 + i);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: two_cores <library> <library> [forks]\n");
        return 2;
    }
    int forks = argc > 3 ? atoi(argv[3]) : 3;
    load(&cores[0], argv[1], on_stack0);
    load(&cores[1], argv[2], on_stack1);
    for (int i = 0; i < 2; i++)
        if (cores[i].attach() != 0) {
            fprintf(stderr, "two_cores: attach in %s failed\n", cores[i].path);
            return 2;
        }
    sem_init(&parked, 0, 0);
    sem_init(&release, 0, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, parked_thread, NULL) != 0)
        return 2;
    sem_wait(&parked);

    for (int n = 1; n <= forks; n++) {
        uint64_t cookie;
        for (int i = 0; i < 2; i++)
            if (cores[i].request(cores[i].tracer, &cookie) != 0)
                return 4;
        printf("fork %d\n", n);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 5;
        if (pid == 0)
            child();
        for (int i = 0; i < 2; i++)
            if (cores[i].safe_point() != 1) /* the parent's pending request */
                return 6;
        int status = -1;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid)
                break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec >= 30) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                printf("fork %d child hung: killed\n", n);
                return 7;
            }
            usleep(10000);
        }
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        printf("fork %d child %d\n", n, code);
        if (code != 0)
            return 8;
    }
    sem_post(&release);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++)
        if (cores[i].detach() != 0 || cores[i].destroy(cores[i].tracer) < 0)
            return 9;
    printf("ok\n");
    return 0;
}
