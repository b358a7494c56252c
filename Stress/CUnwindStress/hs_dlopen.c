/*
 * hs_dlopen.c - dlopen-cycle: a child process loads the C library's shared
 * object (libCDeferredUnwindShared.so, the SwiftPM product built next to this
 * binary), uses it, unloads it, and does it again, N times.
 *
 * The child is this binary exec'ed (posix_spawn of /proc/self/exe with
 * --lifecycle-child dlopen <so> <cycles> <seed>): a fresh process, so no
 * lock of the parent's threads is inherited and the harness's own static
 * copy of the core is never attached.  Each cycle:
 *   dlopen(RTLD_NOW | RTLD_LOCAL), dlsym every call it uses;
 *   register a tracer;
 *   thread A attaches, requests from a real signal handler (0) and from
 *     thread context (1, same cookie), reaches a safe point (one callback
 *     with that cookie), requests again and exits attached (the pending
 *     request delivered once, flagged DU_TRACE_EXITING);
 *   on odd cycles thread B attaches, requests, reaches a safe point and
 *     waits, still attached, until after dlclose, then exits attached (its
 *     thread-exit destructor runs in the library after dlclose: the library
 *     must stay mapped, -z nodelete);
 *   the main thread attaches, requests, safe point, detaches;
 *   cancel 0, destroy 0, dlclose 0.
 * Then exit(0) (the library's exit destructor, after dlclose).  The child
 * reports steps and failures on its stdout, a pipe to the parent, which
 * waits with the bound: a crash is invariant 10, a hang 8, a wrong answer 9.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_internal.h"

extern char **environ;

int hs_dlopen_find(char *path, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(path, len, "<dir of /proc/self/exe>/libCDeferredUnwindShared.so");
        return -1;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(path, len, "%s/libCDeferredUnwindShared.so", exe);
    return access(path, R_OK) == 0 ? 0 : -1;
}

/* ---- the child (an exec'ed process) --------------------------------------------- */
static struct {
    int (*attach)(void);
    int (*detach)(void);
    int (*reg)(du_callback, void *, const char *, du_tracer **);
    int (*cancel)(du_tracer *);
    int (*destroy)(du_tracer *);
    int (*request)(du_tracer *, uint64_t *);
    int (*safe_point)(void);
} D;
static du_tracer *D_t;
/* Handler -> same thread after raise(): signal fences. */
static volatile sig_atomic_t D_hs;
static volatile uint64_t D_hc;
/* Callbacks: counted on the thread that runs them; read by the main thread
 * after pthread_join or the B handshake (both order them). */
static _Atomic int D_ncb;
static _Atomic uint64_t D_cb_cookie;
static _Atomic uint32_t D_cb_flags;
static int D_b_go[2], D_b_ready[2];

static __attribute__((noreturn, format(printf, 2, 3))) void hs_dl_fail(int inv, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("fail %d %s\n", inv, msg);
    fflush(stdout);
    _exit(HS_CHILD_FAIL + inv);
}

static void hs_dl_step(const char *s, int cycle)
{
    printf("step %s (cycle %d)\n", s, cycle);
    fflush(stdout);
}

static void hs_dl_handler(int sig)
{
    (void)sig;
    int saved = errno;
    uint64_t c = 0;
    D_hs = D.request(D_t, &c);
    D_hc = c;
    atomic_signal_fence(memory_order_release); /* partner: the fence after raise() */
    errno = saved;
}

static void hs_dl_cb(const struct du_trace *t, uint64_t cookie, void *arg)
{
    (void)arg;
    /* Relaxed: the reader synchronizes with this thread by join/handshake. */
    atomic_store_explicit(&D_cb_cookie, cookie, memory_order_relaxed);
    atomic_store_explicit(&D_cb_flags, t->flags, memory_order_relaxed);
    atomic_fetch_add_explicit(&D_ncb, 1, memory_order_relaxed);
}

/* Attach, handler request (0), thread repeat (1), safe point (1 callback),
 * one more request left pending.  Returns that request's status. */
static int hs_dl_use(const char *who)
{
    int r = D.attach();
    if (r != 0)
        hs_dl_fail(9, "%s: expected du_thread_attach() == 0; seen %d", who, r);
    raise(SIGRTMIN + 8);
    atomic_signal_fence(memory_order_acquire); /* partner: the handler's fence */
    uint64_t c2 = 0;
    int r2 = D.request(D_t, &c2);
    int before = atomic_load_explicit(&D_ncb, memory_order_relaxed);
    int n = D.safe_point();
    int after = atomic_load_explicit(&D_ncb, memory_order_relaxed);
    if (D_hs != 0 || r2 != 1 || c2 != D_hc || n != 1 || after != before + 1 ||
        atomic_load_explicit(&D_cb_cookie, memory_order_relaxed) != D_hc)
        hs_dl_fail(9, "%s: expected handler request 0, repeat 1 with its cookie, one callback with it; seen %d, %d "
                      "(cookie %#llx vs %#llx), safe point %d, %d callbacks (cookie %#llx)",
                   who, (int)D_hs, r2, (unsigned long long)c2, (unsigned long long)D_hc, n, after - before,
                   (unsigned long long)atomic_load(&D_cb_cookie));
    uint64_t c3 = 0;
    return D.request(D_t, &c3);
}

static void *hs_dl_thread_a(void *arg)
{
    (void)arg;
    int r = hs_dl_use("thread A");
    if (r != 0)
        hs_dl_fail(9, "thread A: expected a request in a new context to answer 0; seen %d", r);
    return NULL; /* exits attached: the pending request is delivered by the exit drain */
}

static void *hs_dl_thread_b(void *arg)
{
    (void)arg;
    hs_dl_use("thread B");
    char b = 1;
    if (write(D_b_ready[1], &b, 1) != 1 || read(D_b_go[0], &b, 1) != 1)
        hs_dl_fail(9, "thread B: handshake failed");
    return NULL; /* exits attached, after the main thread's dlclose */
}

static int hs_dlopen_child(const char *so, int cycles)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hs_dl_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGRTMIN + 8, &sa, NULL);
    for (int cycle = 0; cycle < cycles; cycle++) {
        hs_dl_step("dlopen", cycle);
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            hs_dl_fail(9, "expected dlopen(%s) to succeed (cycle %d); seen: %s", so, cycle, dlerror());
#define SYM(f, name)                                                                           \
    if (!(*(void **)&D.f = dlsym(h, name)))                                                     \
        hs_dl_fail(9, "expected dlsym(%s) to find it (cycle %d): %s", name, cycle, dlerror());
        SYM(attach, "du_thread_attach") SYM(detach, "du_thread_detach") SYM(reg, "du_tracer_register")
        SYM(cancel, "du_tracer_cancel") SYM(destroy, "du_tracer_destroy") SYM(request, "du_request")
        SYM(safe_point, "du_safe_point")
#undef SYM
        hs_dl_step("register", cycle);
        int r = D.reg(hs_dl_cb, NULL, "dlopen-child", &D_t);
        if (r != 0)
            hs_dl_fail(9, "expected du_tracer_register() == 0 (cycle %d); seen %d", cycle, r);
        hs_dl_step("thread A: attach, request, safe point, exit attached", cycle);
        atomic_store(&D_ncb, 0);
        pthread_t a, b;
        if (pthread_create(&a, NULL, hs_dl_thread_a, NULL) != 0)
            hs_dl_fail(9, "pthread_create failed");
        pthread_join(a, NULL);
        if (atomic_load(&D_ncb) != 2 || !(atomic_load(&D_cb_flags) & DU_TRACE_EXITING))
            hs_dl_fail(9, "expected thread A's pending request delivered at its exit, flagged DU_TRACE_EXITING "
                          "(cycle %d); seen %d callbacks in all (2 expected), last flags %#x",
                       cycle, atomic_load(&D_ncb), atomic_load(&D_cb_flags));
        int with_b = cycle & 1;
        if (with_b) {
            hs_dl_step("thread B: attach, request, safe point, wait", cycle);
            char x;
            if (pipe(D_b_go) != 0 || pipe(D_b_ready) != 0 || pthread_create(&b, NULL, hs_dl_thread_b, NULL) != 0 ||
                read(D_b_ready[0], &x, 1) != 1)
                hs_dl_fail(9, "could not start thread B");
        }
        hs_dl_step("main thread: attach, request, safe point, detach", cycle);
        r = hs_dl_use("main thread");
        if ((r = D.detach()) != 0)
            hs_dl_fail(9, "main thread: expected du_thread_detach() == 0 (cycle %d); seen %d", cycle, r);
        hs_dl_step("cancel, destroy", cycle);
        if ((r = D.cancel(D_t)) < 0)
            hs_dl_fail(9, "expected du_tracer_cancel() >= 0 (cycle %d); seen %d", cycle, r);
        if ((r = D.destroy(D_t)) != 0)
            hs_dl_fail(9, "expected du_tracer_destroy() == 0 after cancel (cycle %d); seen %d", cycle, r);
        hs_dl_step("dlclose", cycle);
        if ((r = dlclose(h)) != 0)
            hs_dl_fail(9, "expected dlclose() == 0 (cycle %d); seen %d: %s", cycle, r, dlerror());
        if (with_b) {
            hs_dl_step("thread B exits attached after dlclose", cycle);
            char x = 1;
            if (write(D_b_go[1], &x, 1) != 1)
                hs_dl_fail(9, "handshake with thread B failed");
            pthread_join(b, NULL);
            close(D_b_go[0]);
            close(D_b_go[1]);
            close(D_b_ready[0]);
            close(D_b_ready[1]);
        }
        printf("cycle %d\n", cycle);
        fflush(stdout);
    }
    hs_dl_step("exit", cycles);
    exit(0);
}

/* The exec'ed child's entry (main.swift): --lifecycle-child dlopen <so> <cycles>. */
int hs_lifecycle_child(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[2], "dlopen") == 0)
        return hs_dlopen_child(argv[3], atoi(argv[4]));
    fprintf(stderr, "unwind-stress: bad --lifecycle-child arguments\n");
    return 2;
}

/* ---- the parent's side ------------------------------------------------------------ */
static void hs_dl_line(struct hs_child *c, char *line)
{
    if (strncmp(line, "step ", 5) == 0)
        snprintf(c->step, sizeof c->step, "%s", line + 5);
    else if (strncmp(line, "fail ", 5) == 0)
        snprintf(c->msg, sizeof c->msg, "%s", line + 7);
    else if (strncmp(line, "cycle ", 6) == 0)
        HS_LC_ADD(LCC_DLOPEN_CYCLES, 1);
}

void *hs_dlopen_driver_main(void *arg)
{
    const struct hs_lc_arg *a = arg;
    uint64_t rng = a->seed;
    char so[PATH_MAX], exe[PATH_MAX];
    if (hs_dlopen_find(so, sizeof so) != 0)
        hs_fatal("%s: not found (see --list: dlopen-cycle)", so);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    /* Relaxed: a stop flag (partner: the main thread's store at slice end). */
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng);
        char cycles[16];
        snprintf(cycles, sizeof cycles, "%d", 2 + (int)(r % 4));
        char *argv[] = {exe, "--lifecycle-child", "dlopen", so, cycles, NULL};
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            hs_fatal("pipe2: %s", strerror(errno));
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
        struct hs_child *c = hs_child_reserve(LC_DLOPEN, "the dlopen driver");
        pid_t pid = -1;
        if (c && posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0)
            pid = -1;
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (c)
            hs_child_publish(c, pid, 0);
        if (c && pid > 0) {
            char buf[4096], line[800];
            size_t ln = 0;
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            uint64_t deadline = c->start_ns + hs_child_bound_ns();
            while (hs_now_ns() < deadline) {
                if (poll(&p, 1, 10) <= 0)
                    continue;
                ssize_t k = read(fds[0], buf, sizeof buf);
                if (k <= 0)
                    break;
                for (ssize_t i = 0; i < k; i++) {
                    if (buf[i] != '\n' && ln < sizeof line - 1) {
                        line[ln++] = buf[i];
                        continue;
                    }
                    line[ln] = 0;
                    hs_dl_line(c, line);
                    ln = 0;
                }
            }
            hs_child_wait(c, 0);
        }
        close(fds[0]);
        hs_pause_us((uint32_t)((r >> 20) % (2 * (uint64_t)hs_cur->lc_us + 1)));
    }
    return NULL;
}
