/*
 * hs_child.c - forked children: their table in shared memory, fork with
 * bookkeeping, the child's report, and the parent's bounded wait.
 *
 * The table is one MAP_SHARED mapping made before any thread exists, so
 * every child writes into the parent's view of its own entry: its current
 * step (a hang report names it) and, on a violation, the invariant and the
 * message; then it _exit()s with HS_CHILD_FAIL + invariant.  The parent
 * (the monitor thread for fork-storm's children, the driver for the others)
 * waits with a bound: past it, the child is killed and that is invariant 8.
 * A child killed by a signal is invariant 10.  A violation of the parent
 * kills every child first, so none outlives the run.
 *
 * Entry states: FREE -> FORKING (reserved by the forking thread, CAS) ->
 * MONITORED or OWNED (pid published, release; the monitor acquires) ->
 * FREE (after waitpid, release; the next CAS acquires).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hs_internal.h"

int hs_in_child;
struct hs_child *hs_child_me;
static struct hs_child *hs_children;

int hs_children_init(void)
{
    void *p = mmap(NULL, sizeof(struct hs_child) * HS_NCHILD, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    hs_children = p;
    return 0;
}

#ifdef HS_ASAN
/* LeakSanitizer's exit check in a fork child sees the parent's memory that
 * only the vanished threads' stacks pointed to: false leaks.  The harness
 * process itself is still checked. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return hs_in_child; }
#endif

uint64_t hs_child_bound_ns(void)
{
    uint64_t b = 2 * hs_bound_ns; /* 10 s native, 60 s under TSan */
    return b < 10000000000ull ? 10000000000ull : b;
}

struct hs_child *hs_child_reserve(int kind, const char *who)
{
    struct hs_child *c = NULL;
    for (int i = 0; i < HS_NCHILD && !c; i++) {
        int expect = CH_FREE;
        /* Acquire, partner: the release store of CH_FREE after the last
         * waitpid of this entry (its previous child is gone). */
        if (atomic_compare_exchange_strong_explicit(&hs_children[i].state, &expect, CH_FORKING,
                                                    memory_order_acquire, memory_order_relaxed))
            c = &hs_children[i];
    }
    if (!c)
        return NULL;
    c->kind = kind;
    c->pid = 0;
    c->inv = 0;
    c->msg[0] = 0;
    c->step[0] = 0;
    snprintf(c->who, sizeof c->who, "%s", who);
    c->start_ns = hs_now_ns();
    return c;
}

void hs_child_publish(struct hs_child *c, pid_t pid, int monitored)
{
    if (pid <= 0) {
        atomic_store_explicit(&c->state, CH_FREE, memory_order_release);
        return;
    }
    c->pid = pid;
    /* Release, partner: the monitor's acquire load of the state (it then
     * reads pid and start_ns). */
    atomic_store_explicit(&c->state, monitored ? CH_MONITORED : CH_OWNED, memory_order_release);
}

pid_t hs_child_fork(int kind, const char *who, int monitored, struct hs_child **out)
{
    struct hs_child *c = hs_child_reserve(kind, who);
    if (!c)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        hs_in_child = 1;
        hs_child_me = c;
        /* The parent's unflushed stdio must not be written twice (exit()
         * flushes): drop the child's copy of the buffers. */
        __fpurge(stdout);
        __fpurge(stderr);
        return 0;
    }
    hs_child_publish(c, pid, monitored);
    if (pid < 0)
        return -1;
    if (out)
        *out = c;
    return pid;
}

void hs_child_step(const char *step)
{
    if (hs_child_me)
        snprintf(hs_child_me->step, sizeof hs_child_me->step, "%s", step);
}

void hs_child_fail(int inv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (hs_child_me) {
        vsnprintf(hs_child_me->msg, sizeof hs_child_me->msg, fmt, ap);
        hs_child_me->inv = inv;
    }
    va_end(ap);
    _exit(HS_CHILD_FAIL + inv);
}

void hs_child_raise(int sig, void (*handler)(int))
{
#ifdef HS_TSAN
    handler(sig);
#else
    (void)handler;
    raise(sig);
#endif
}

static const char *hs_kind_name(int kind)
{
    static const char *n[] = {"?", "fork-storm", "exit-pending", "dlopen-cycle", "longjmp", "churn"};
    return kind >= 0 && kind <= LC_CHURN ? n[kind] : "?";
}

/* Judge a reaped child; frees its entry when it passed. */
static void hs_child_judge(struct hs_child *c, int st, int expect)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == expect) {
        HS_LC_ADD(LCC_CHILD_OK, 1);
        /* Release, partner: hs_child_reserve's acquire CAS. */
        atomic_store_explicit(&c->state, CH_FREE, memory_order_release);
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) > HS_CHILD_FAIL && WEXITSTATUS(st) <= HS_CHILD_FAIL + INV_EXIT)
        hs_violation(WEXITSTATUS(st) - HS_CHILD_FAIL, "%s child pid %d (started by %s): %s", hs_kind_name(c->kind),
                     (int)c->pid, c->who, c->msg);
    if (WIFSIGNALED(st))
        hs_violation(INV_CRASH, "expected the %s child pid %d (started by %s) to exit with status %d; seen it "
                                "killed by signal %d (%s) at step '%s'",
                     hs_kind_name(c->kind), (int)c->pid, c->who, expect, WTERMSIG(st), strsignal(WTERMSIG(st)),
                     c->step);
    hs_violation(INV_FORK, "expected the %s child pid %d (started by %s) to exit with status %d; seen status %d at "
                           "step '%s' %s",
                 hs_kind_name(c->kind), (int)c->pid, c->who, expect, WEXITSTATUS(st), c->step, c->msg);
}

static void hs_child_hung(struct hs_child *c)
{
    kill(c->pid, SIGKILL);
    int st;
    waitpid(c->pid, &st, 0);
    hs_violation(8, "expected the %s child pid %d (started by %s) to finish within %.0fs; seen it still running "
                    "at step '%s' (killed)",
                 hs_kind_name(c->kind), (int)c->pid, c->who, (double)hs_child_bound_ns() / 1e9, c->step);
}

int hs_child_wait(struct hs_child *c, int expect)
{
    uint64_t deadline = c->start_ns + hs_child_bound_ns();
    for (;;) {
        int st;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            hs_child_judge(c, st, expect);
            return st;
        }
        if (r < 0 && errno != EINTR)
            hs_fatal("waitpid(%d): %s", (int)c->pid, strerror(errno));
        if (hs_now_ns() > deadline)
            hs_child_hung(c);
        hs_pause_us(200);
    }
}

/* One pass over the monitored children; returns how many are still running. */
static int hs_monitor_pass(void)
{
    int left = 0;
    uint64_t now = hs_now_ns();
    for (int i = 0; i < HS_NCHILD; i++) {
        struct hs_child *c = &hs_children[i];
        /* Acquire, partner: the release store after fork (pid, start_ns). */
        if (atomic_load_explicit(&c->state, memory_order_acquire) != CH_MONITORED)
            continue;
        int st;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            hs_child_judge(c, st, 0);
            continue;
        }
        if (now > c->start_ns && now - c->start_ns > hs_child_bound_ns())
            hs_child_hung(c);
        left++;
    }
    return left;
}

void *hs_child_monitor_main(void *arg)
{
    (void)arg;
    /* Relaxed: a stop flag (partner: the main thread's store at slice end). */
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        hs_monitor_pass();
        hs_pause_us(1000);
    }
    return NULL;
}

void hs_children_wait_all(void)
{
    while (hs_monitor_pass() > 0)
        hs_pause_us(1000);
}

/* From hs_violation (thread context): no child outlives the run. */
void hs_children_kill_all(void)
{
    if (!hs_children || hs_in_child)
        return;
    for (int i = 0; i < HS_NCHILD; i++) {
        /* Acquire, partner: hs_child_publish's release store (pid). */
        int st = atomic_load_explicit(&hs_children[i].state, memory_order_acquire);
        if ((st == CH_MONITORED || st == CH_OWNED) && hs_children[i].pid > 0)
            kill(hs_children[i].pid, SIGKILL);
    }
}
