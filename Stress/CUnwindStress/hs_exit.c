/*
 * hs_exit.c - exit-pending: children that request and then leave the
 * process with the requests pending (invariant 12).
 *
 * The driver forks a child (while workers, timers, injectors and the
 * registrar run in the parent) with a pipe.  The child attaches, registers
 * one to three tracers, requests from a real signal handler and from thread
 * context (one pipe record per request: tracer, status, cookie), and then:
 *   mode 0: exit(0) from a nested function;
 *   mode 1: returns 5 from a main-equivalent, exit(main_equivalent());
 *   mode 2: pthread_exit() of its only thread (key destructors, then exit(0)).
 * Modes 0 and 1 sometimes have a second attached thread with its own
 * request, still running at exit (not under TSan: threads in a forked
 * child).  Each callback writes a record (tracer, cookie, flags, frames, tid).
 * The parent reads to EOF, waits for the status (the bound applies: a hang
 * is invariant 8), then checks: every tracer the exiting thread requested
 * (status 0 once, then 1, one cookie) got exactly one callback, with that
 * cookie, flagged DU_TRACE_EXITING, empty, on the exiting thread; no other
 * callback (the other thread's request is not delivered); the status is the
 * mode's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "hs_internal.h"

enum { XR_REQ = 1, XR_CB = 2 };
struct hs_xrec {
    uint8_t type, idx, main_thread, pad;
    int32_t status;
    uint64_t cookie;
    uint32_t flags, nr;
    int32_t tid, pad2;
};
_Static_assert(sizeof(struct hs_xrec) <= 512, "one write() per record stays atomic (PIPE_BUF)");

/* The child's state (its own copy; one thread, or two for a while). */
static struct {
    int fd;
    int ntr;
    du_tracer *t[3];
    unsigned hmask;
    /* written by the handler, read after raise() by the same thread */
    volatile sig_atomic_t hs[3];
    volatile uint64_t hc[3];
    int other_ready[2];
} X;

static void hs_exit_put(const struct hs_xrec *r)
{
    if (write(X.fd, r, sizeof *r) != (ssize_t)sizeof *r)
        hs_child_fail(INV_EXIT, "write to the parent's pipe failed: %s", strerror(errno));
}

static void hs_exit_cb(const struct du_trace *t, uint64_t cookie, void *arg)
{
    struct hs_xrec r = {.type = XR_CB, .idx = (uint8_t)(uintptr_t)arg, .cookie = cookie, .flags = t->flags,
                        .nr = t->nr, .tid = (int32_t)syscall(SYS_gettid)};
    hs_exit_put(&r);
}

static void hs_exit_handler(int sig)
{
    (void)sig;
    int saved = errno;
    for (int i = 0; i < X.ntr; i++)
        if (X.hmask & (1u << i)) {
            uint64_t c = 0;
            X.hs[i] = hs_api->request(X.t[i], &c);
            X.hc[i] = c;
        }
    atomic_signal_fence(memory_order_release); /* partner: the fence after raise() */
    errno = saved;
}

static void hs_exit_req(int i, int status, uint64_t cookie, int main_thread)
{
    struct hs_xrec r = {.type = XR_REQ, .idx = (uint8_t)i, .main_thread = (uint8_t)main_thread,
                        .status = status, .cookie = cookie, .tid = (int32_t)syscall(SYS_gettid)};
    hs_exit_put(&r);
}

/* The other thread: attached, one request pending, still running at exit. */
static void *hs_exit_other(void *arg)
{
    (void)arg;
    if (hs_api->attach() == 0) {
        uint64_t c = 0;
        int s = hs_api->request(X.t[0], &c);
        hs_exit_req(0, s, c, 0);
    }
    char b = 1;
    if (write(X.other_ready[1], &b, 1) != 1)
        _exit(HS_CHILD_FAIL + INV_EXIT);
    for (;;)
        pause();
}

/* Requests from a handler and from thread context; returns 5 (mode 1). */
static __attribute__((noinline)) int hs_exit_body(uint64_t rng, int other)
{
    hs_child_step("attach");
    int r = hs_api->attach();
    if (r != 0)
        hs_child_fail(INV_FORK, "expected du_thread_attach() == 0 in a child forked at any moment; seen %d", r);
    X.ntr = 1 + (int)(rng % 3);
    hs_child_step("register");
    for (int i = 0; i < X.ntr; i++)
        if ((r = hs_api->reg(hs_exit_cb, (void *)(uintptr_t)i, "exit-child", &X.t[i])) != 0)
            hs_child_fail(INV_FORK, "expected du_tracer_register() == 0 in the child; seen %d", r);
    if (other) {
        hs_child_step("start a second attached thread");
        pthread_t th;
        char b;
        if (pipe(X.other_ready) != 0 || pthread_create(&th, NULL, hs_exit_other, NULL) != 0 ||
            read(X.other_ready[0], &b, 1) != 1)
            hs_child_fail(INV_EXIT, "could not start the child's second thread");
    }
    X.hmask = (unsigned)(rng >> 8) & 7u;
    hs_child_step("requests from a signal handler");
    hs_child_raise(hs_sig_child, hs_exit_handler);
    atomic_signal_fence(memory_order_acquire); /* partner: the handler's fence */
    for (int i = 0; i < X.ntr; i++)
        if (X.hmask & (1u << i))
            hs_exit_req(i, X.hs[i], X.hc[i], 1);
    hs_child_step("requests from thread context");
    for (int i = 0; i < X.ntr; i++)
        if ((rng >> (16 + i)) & 1) {
            uint64_t c = 0;
            int s = hs_api->request(X.t[i], &c);
            hs_exit_req(i, s, c, 1);
        }
    hs_child_step("exit");
    return 5;
}

static __attribute__((noinline, noreturn)) void hs_exit_deep(int n, uint64_t rng, int other)
{
    if (n > 0)
        hs_exit_deep(n - 1, rng, other);
    hs_exit_body(rng, other);
    exit(0);
}

static __attribute__((noreturn)) void hs_exit_child(int mode, uint64_t rng, int fd)
{
    X.fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hs_exit_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(hs_sig_child, &sa, NULL);
#ifdef HS_TSAN
    int other = 0;
#else
    int other = mode != 2 && ((rng >> 24) & 3) == 0;
#endif
    if (mode == 0)
        hs_exit_deep((int)((rng >> 32) % 5), rng, other);
    if (mode == 1)
        exit(hs_exit_body(rng, other)); /* what returning from main does */
    hs_exit_body(rng, 0);
    pthread_exit(NULL); /* the last thread: key destructors, then exit(0) */
}

/* ---- the parent's side ------------------------------------------------------------ */
static const char *hs_exit_mode_name(int mode)
{
    return mode == 0 ? "exit(0) from a nested function"
                     : mode == 1 ? "return 5 from a main-equivalent" : "pthread_exit() of the last thread";
}

static void hs_exit_check(pid_t pid, int mode, const struct hs_xrec *R, int n)
{
    int acc[3] = {0}, n0[3] = {0}, ncb[3] = {0};
    uint64_t ck = 0;
    const char *m = hs_exit_mode_name(mode);
    for (int i = 0; i < n; i++) {
        const struct hs_xrec *r = &R[i];
        if (r->type != XR_REQ || !r->main_thread || r->idx > 2)
            continue;
        if (r->status != 0 && r->status != 1)
            hs_violation(9, "expected 0 or 1 from a request in the exit-pending child pid %d; seen %s (tracer %d)",
                         (int)pid, hs_status_name(r->status), r->idx);
        if (ck && r->cookie != ck)
            hs_violation(2, "expected one cookie for the exiting thread's context; seen %#llx and %#llx (child pid %d)",
                         (unsigned long long)ck, (unsigned long long)r->cookie, (int)pid);
        ck = r->cookie;
        acc[r->idx]++;
        n0[r->idx] += r->status == 0;
    }
    for (int i = 0; i < n; i++) {
        const struct hs_xrec *r = &R[i];
        if (r->type != XR_CB)
            continue;
        if (r->idx > 2 || !acc[r->idx] || r->cookie != ck || r->tid != (int32_t)pid ||
            !(r->flags & DU_TRACE_EXITING) || r->nr != 0)
            hs_violation(INV_EXIT, "expected the exiting thread's callbacks only, with its cookie %#llx, flagged "
                                   "DU_TRACE_EXITING and empty (child pid %d, %s); seen tracer %d (%d accepted "
                                   "requests) cookie %#llx flags %#x frames %u on tid %d",
                         (unsigned long long)ck, (int)pid, m, r->idx, r->idx <= 2 ? acc[r->idx] : 0,
                         (unsigned long long)r->cookie, r->flags, r->nr, (int)r->tid);
        ncb[r->idx]++;
        HS_LC_ADD(LCC_EXIT_CBS, 1);
    }
    for (int i = 0; i < 3; i++) {
        if (acc[i] && n0[i] != 1)
            hs_violation(9, "expected exactly one request of tracer %d to answer 0 in the child's context; seen %d "
                            "of %d (child pid %d)",
                         i, n0[i], acc[i], (int)pid);
        if (acc[i] && ncb[i] != 1)
            hs_violation(INV_EXIT, "expected the request accepted before the child left (%s) to be delivered "
                                   "once, flagged DU_TRACE_EXITING; seen %d callbacks of tracer %d (%d accepted "
                                   "requests, cookie %#llx, child pid %d)",
                         m, ncb[i], i, acc[i], (unsigned long long)ck, (int)pid);
    }
}

void *hs_exit_driver_main(void *arg)
{
    const struct hs_lc_arg *a = arg;
    uint64_t rng = a->seed;
    uint32_t pause = hs_cur->lc_us * (uint32_t)hs_tsan_scale;
    static struct hs_xrec R[64];
    /* Relaxed: a stop flag (partner: the main thread's store at slice end). */
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng);
#ifdef HS_TSAN
        /* Not pthread_exit() of the last thread: TSan finishes that thread
         * before glibc's exit() runs the (instrumented) library destructor,
         * and crashes in it. */
        int mode = (int)(r % 2), fds[2];
#else
        int mode = (int)(r % 3), fds[2];
#endif
        if (pipe2(fds, O_CLOEXEC) != 0)
            hs_fatal("pipe2: %s", strerror(errno));
        struct hs_child *c = NULL;
        pid_t pid = hs_child_fork(LC_EXIT, "the exit driver", 0, &c);
        if (pid == 0) {
            close(fds[0]);
            hs_exit_child(mode, hs_rng_next(&rng), fds[1]);
        }
        close(fds[1]);
        int n = 0;
        if (pid > 0) {
            uint64_t deadline = c->start_ns + hs_child_bound_ns();
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            for (size_t got = 0; hs_now_ns() < deadline;) {
                if (poll(&p, 1, 10) <= 0)
                    continue;
                ssize_t k = read(fds[0], (char *)R + got, sizeof R - got);
                if (k <= 0)
                    break; /* EOF: the child is gone */
                got += (size_t)k;
                n = (int)(got / sizeof R[0]);
            }
            hs_child_wait(c, mode == 1 ? 5 : 0);
            hs_exit_check(pid, mode, R, n);
        }
        close(fds[0]);
        hs_pause_us((uint32_t)((r >> 20) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}
