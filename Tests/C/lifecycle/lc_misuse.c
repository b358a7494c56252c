/*
 * lc_misuse.c - what a tracer may get wrong and the library survives:
 * concurrent cancel/destroy of one tracer, stale and never-issued handles,
 * a handler that leaves du_request with siglongjmp.
 */
#include "lc_common.h"
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void du_lc_nop_cb2(const struct du_trace *t, uint64_t c, void *a)
{
    (void)t;
    (void)c;
    (void)a;
}

/* ---- concurrent cancel / destroy ------------------------------------------ */
struct du_lc_race {
    du_tracer *t;
    sem_t entered, release;
    pthread_barrier_t go;
    _Atomic int cb_done;
    int rc[16];
    int saw_cb_running[16];
    int nthreads;
};
struct du_lc_racer { struct du_lc_race *r; int i; };

static void du_lc_race_cb(const struct du_trace *tr, uint64_t c, void *arg)
{
    (void)tr;
    (void)c;
    struct du_lc_race *r = arg;
    sem_post(&r->entered);
    (void)du_lc_sem_wait(&r->release, DU_LC_CHILD_BOUND_S);
    atomic_store(&r->cb_done, 1);
}

static void *du_lc_race_cb_thread(void *arg)
{
    struct du_lc_race *r = arg;
    uint64_t c;
    du_thread_attach();
    du_request(r->t, &c);
    du_safe_point();
    du_thread_detach();
    return NULL;
}

static void *du_lc_racer_main(void *arg)
{
    struct du_lc_racer *x = arg;
    struct du_lc_race *r = x->r;
    pthread_barrier_wait(&r->go);
    r->rc[x->i] = (x->i & 1) ? du_tracer_destroy(r->t) : du_tracer_cancel(r->t);
    r->saw_cb_running[x->i] = !atomic_load(&r->cb_done);
    return NULL;
}

int du_lc_cancel_destroy_race(int threads, char *msg, size_t len)
{
    struct du_lc_race r = {.nthreads = threads > 16 ? 16 : threads};
    sem_init(&r.entered, 0, 0);
    sem_init(&r.release, 0, 0);
    pthread_barrier_init(&r.go, NULL, (unsigned)r.nthreads + 1);
    if (du_tracer_register(du_lc_race_cb, &r, "raced", &r.t) != 0)
        return du_lc_fail(msg, len, "register");
    int bit = du_tracer_bit(r.t);
    pthread_t cb, th[16];
    struct du_lc_racer xs[16];
    pthread_create(&cb, NULL, du_lc_race_cb_thread, &r);
    int fail = du_lc_sem_wait(&r.entered, DU_LC_CHILD_BOUND_S) ? du_lc_fail(msg, len, "no callback")
                                                               : 0;
    for (int i = 0; i < r.nthreads; i++) {
        xs[i] = (struct du_lc_racer){&r, i};
        pthread_create(&th[i], NULL, du_lc_racer_main, &xs[i]);
    }
    pthread_barrier_wait(&r.go);
    /* Every racer is now in cancel or destroy, all waiting for the callback. */
    usleep(1000);
    sem_post(&r.release);
    for (int i = 0; i < r.nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_join(cb, NULL);

    int cancelled_by_cancel = 0;
    for (int i = 0; i < r.nthreads && !fail; i++) {
        int want_ok = (i & 1) ? (r.rc[i] == 0) : (r.rc[i] == 0 || r.rc[i] == -EALREADY);
        if (!want_ok)
            fail = du_lc_fail(msg, len, "%s #%d returned %d", (i & 1) ? "destroy" : "cancel", i,
                              r.rc[i]);
        else if (r.saw_cb_running[i])
            fail = du_lc_fail(msg, len, "call #%d returned while the callback ran", i);
        cancelled_by_cancel += !(i & 1) && r.rc[i] == 0;
    }
    if (!fail && cancelled_by_cancel > 1)
        fail = du_lc_fail(msg, len, "%d cancels each claimed the cancel", cancelled_by_cancel);

    /* The stale handle, then after its bit was reused. */
    uint64_t c = 1;
    int rc, req = 0, attached = du_thread_attach() == 0;
    if (!fail && ((rc = du_tracer_cancel(r.t)) != -EALREADY || du_tracer_destroy(r.t) != 0 ||
                  (req = du_request(r.t, &c)) != -ECANCELED || c != 0 ||
                  du_tracer_bit(r.t) != -1 || du_tracer_name(r.t) == NULL))
        fail = du_lc_fail(msg, len, "stale handle: cancel %d, request %d", rc, req);
    if (attached)
        du_thread_detach();
    du_tracer *n = NULL;
    if (!fail && du_tracer_register(du_lc_race_cb, &r, "next", &n) != 0)
        fail = du_lc_fail(msg, len, "register after");
    if (!fail && du_tracer_bit(n) == bit) {
        if ((rc = du_tracer_cancel(r.t)) != -EALREADY || du_tracer_bit(n) != bit ||
            du_tracer_name(r.t) != NULL)
            fail = du_lc_fail(msg, len, "stale handle after reuse: cancel %d, new bit %d", rc,
                              du_tracer_bit(n));
        /* A handle of a generation never issued. */
        du_tracer *future = (du_tracer *)((uintptr_t)n + 64u);
        /* Never issued: -EINVAL from every call that takes a handle (a
         * cancelled one gets -ECANCELED / -EALREADY instead). */
        uint64_t fc = 1;
        int attached2 = du_thread_attach() == 0, frq = -1, fds = -1;
        if (!fail && ((rc = du_tracer_cancel(future)) != -EINVAL ||
                      (fds = du_tracer_destroy(future)) != -EINVAL ||
                      (frq = du_request(future, &fc)) != -EINVAL || fc != 0 ||
                      du_tracer_bit(future) != -1 || du_tracer_name(future) != NULL))
            fail = du_lc_fail(msg, len, "never-issued handle: cancel %d, destroy %d, request %d "
                              "(want -EINVAL each)", rc, fds, frq);
        du_tracer *reserved = (du_tracer *)(uintptr_t)((1u << 6) | 1u); /* slot 1: never a tracer's */
        if (!fail && attached2 && (frq = du_request(reserved, &fc)) != -EINVAL)
            fail = du_lc_fail(msg, len, "reserved-slot handle: request %d (want -EINVAL)", frq);
        if (attached2)
            du_thread_detach();
    } else if (!fail) {
        fail = du_lc_fail(msg, len, "bit %d not reused (got %d)", bit, du_tracer_bit(n));
    }
    if (n)
        du_tracer_destroy(n);
    if (!fail && ((rc = du_tracer_cancel(NULL)) != -EINVAL))
        fail = du_lc_fail(msg, len, "cancel(NULL) %d", rc);
    pthread_barrier_destroy(&r.go);
    return fail;
}

/* ---- siglongjmp out of du_request ----------------------------------------- */
/* Thread-local: the jump buffer and the arming of the thread that leaks. */
static _Thread_local __attribute__((tls_model("initial-exec"))) sigjmp_buf du_lc_env;
static _Thread_local __attribute__((tls_model("initial-exec"))) int du_lc_jump_armed;
static du_tracer *_Atomic du_lc_jump_tracer;

/* Step hook: inside du_request (in the handler), leave with siglongjmp -
 * as a crash handler that protects the sampler would. */
static void du_lc_jump_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (du_lc_jump_armed && step == DU_STEP_REQUEST_BIT_READ) {
        du_lc_jump_armed = 0;
        siglongjmp(du_lc_env, 1);
    }
}

static void du_lc_jump_handler(int sig)
{
    (void)sig;
    uint64_t c;
    du_request(atomic_load(&du_lc_jump_tracer), &c);
}

/* SIGUSR1 requests on `t` (and jumps, when a hook is armed); *old is what
 * to restore. */
static void du_lc_install_jump_handler(du_tracer *t, struct sigaction *old)
{
    atomic_store(&du_lc_jump_tracer, t);
    struct sigaction sa = {0};
    sa.sa_handler = du_lc_jump_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, old);
}

/* Static: a thread that does not finish in time is detached and left
 * running, so what it writes must outlive this call. */
static struct du_lc_bg { du_tracer *t; _Atomic int done; int rc; } du_lc_canceller, du_lc_attacher;

static void *du_lc_canceller_main(void *arg)
{
    struct du_lc_bg *c = arg;
    c->rc = du_tracer_cancel(c->t);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *du_lc_attach_detach_main(void *arg)
{
    struct du_lc_bg *c = arg;
    c->rc = du_thread_attach();
    if (c->rc == 0)
        c->rc = du_thread_detach();
    atomic_store(&c->done, 1);
    return NULL;
}

/* Join within DU_LC_CHILD_BOUND_S seconds, or detach and say so. */
static int du_lc_join_bounded(pthread_t th, struct du_lc_bg *c)
{
    for (int ms = 0; ms < DU_LC_CHILD_BOUND_S * 1000 && !atomic_load(&c->done); ms++)
        usleep(1000);
    if (!atomic_load(&c->done)) {
        pthread_detach(th);
        return -ETIMEDOUT;
    }
    pthread_join(th, NULL);
    return 0;
}

struct du_lc_msg { char *msg; size_t len; int fail; };
static int du_lc_longjmp_on_thread(char *msg, size_t len);

static void *du_lc_longjmp_main(void *arg)
{
    struct du_lc_msg *m = arg;
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL); /* the test runner's threads may block it */
    m->fail = du_lc_longjmp_on_thread(m->msg, m->len);
    return NULL;
}

/* On a fresh thread: the test's own thread may not be ours to attach. */
int du_lc_longjmp_leak_repair(char *msg, size_t len)
{
    if (!du_debug_step_points_built())
        return du_lc_fail(msg, len, "needs step points (a debug build)");
    struct du_lc_msg m = {msg, len, 0};
    pthread_t th;
    pthread_create(&th, NULL, du_lc_longjmp_main, &m);
    pthread_join(th, NULL);
    return m.fail;
}

static int du_lc_longjmp_on_thread(char *msg, size_t len)
{
    du_tracer *t, *other;
    if (du_thread_attach() != 0 || du_tracer_register(du_lc_nop_cb2, NULL, "jumped", &t) != 0 ||
        du_tracer_register(du_lc_nop_cb2, NULL, "other", &other) != 0)
        return du_lc_fail(msg, len, "set-up");
    struct sigaction old;
    du_lc_install_jump_handler(t, &old);
    du_debug_set_step_hook(du_lc_jump_hook, NULL);
    int fail = 0, rc;
    if (sigsetjmp(du_lc_env, 1) == 0) {
        du_lc_jump_armed = 1;
        raise(SIGUSR1);
        fail = du_lc_fail(msg, len, "the handler did not jump");
    }
    du_debug_set_step_hook(NULL, NULL);
    sigaction(SIGUSR1, &old, NULL);

    /* Leaked: this thread cannot wait for its own count. */
    if (!fail && (rc = du_tracer_cancel(other)) != -EDEADLK)
        fail = du_lc_fail(msg, len, "cancel on the leaking thread: %d, want -EDEADLK", rc);
    /* Another thread's cancel waits for the count ... */
    struct du_lc_bg *c = &du_lc_canceller, *a = &du_lc_attacher;
    *c = (struct du_lc_bg){.t = other};
    *a = (struct du_lc_bg){0};
    pthread_t ct, at;
    pthread_create(&ct, NULL, du_lc_canceller_main, c);
    /* ... holding no lock that attach and detach need. */
    pthread_create(&at, NULL, du_lc_attach_detach_main, a);
    if (du_lc_join_bounded(at, a) != 0)
        fail = du_lc_fail(msg, len, "attach/detach blocked while a cancel waits for the "
                                    "leaked count (%d s)", DU_LC_CHILD_BOUND_S);
    if (!fail && a->rc != 0)
        fail = du_lc_fail(msg, len, "attach/detach during the wait: %d", a->rc);
    if (!fail && atomic_load(&c->done))
        fail = du_lc_fail(msg, len, "cancel returned (%d) before the leak was repaired", c->rc);
    /* The safe point (thread context) repairs it; the cancel then ends. */
    du_safe_point();
    if (du_lc_join_bounded(ct, c) != 0)
        fail = du_lc_fail(msg, len, "cancel still waiting %d s after the safe point",
                          DU_LC_CHILD_BOUND_S);
    if (!fail && c->rc != 0)
        fail = du_lc_fail(msg, len, "cancel after the repair: %d", c->rc);
    uint64_t ck;
    if (!fail && ((rc = du_request(t, &ck)) != 0 || du_safe_point() != 1))
        fail = du_lc_fail(msg, len, "request after the repair: %d", rc);
    if (!fail && (rc = du_tracer_cancel(t)) != 0)
        fail = du_lc_fail(msg, len, "cancel on the repaired thread: %d", rc);
    du_thread_detach();
    return fail;
}

/* ---- siglongjmp out of du_request while the thread is inside cancel ------ */
static _Thread_local __attribute__((tls_model("initial-exec"))) int du_lc_in_cancel_armed;

/* CANCEL_MARKED (thread context, inside cancel): raise the signal whose
 * request jumps back here, leaking this thread's count while it cancels. */
static void du_lc_cancel_leak_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step == DU_STEP_REQUEST_BIT_READ && du_lc_jump_armed) {
        du_lc_jump_armed = 0;
        siglongjmp(du_lc_env, 1);
    }
    if (step == DU_STEP_CANCEL_MARKED && du_lc_in_cancel_armed) {
        du_lc_in_cancel_armed = 0;
        if (sigsetjmp(du_lc_env, 1) == 0) {
            du_lc_jump_armed = 1;
            raise(SIGUSR1);
        }
    }
}

static void *du_lc_cancel_leak_main(void *arg)
{
    struct du_lc_bg *c = arg;
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    du_tracer *victim;
    c->rc = du_thread_attach();
    if (c->rc == 0)
        c->rc = du_tracer_register(du_lc_nop_cb2, NULL, "victim", &victim);
    if (c->rc == 0) {
        du_debug_set_step_hook(du_lc_cancel_leak_hook, NULL);
        du_lc_in_cancel_armed = 1;
        c->rc = du_tracer_cancel(victim); /* waits for every count, its own too */
        du_debug_set_step_hook(NULL, NULL);
        du_thread_detach();
    }
    atomic_store(&c->done, 1);
    return NULL;
}

int du_lc_longjmp_inside_cancel(char *msg, size_t len)
{
    if (!du_debug_step_points_built())
        return du_lc_fail(msg, len, "needs step points (a debug build)");
    du_tracer *t;
    if (du_tracer_register(du_lc_nop_cb2, NULL, "jumped", &t) != 0)
        return du_lc_fail(msg, len, "register");
    struct sigaction old;
    du_lc_install_jump_handler(t, &old);
    struct du_lc_bg *c = &du_lc_canceller;
    *c = (struct du_lc_bg){0};
    pthread_t th;
    pthread_create(&th, NULL, du_lc_cancel_leak_main, c);
    int fail = 0;
    if (du_lc_join_bounded(th, c) != 0)
        fail = du_lc_fail(msg, len, "cancel waits for its own leaked count (%d s)",
                          DU_LC_CHILD_BOUND_S);
    else if (c->rc != 0)
        fail = du_lc_fail(msg, len, "cancel with its own count leaked: %d", c->rc);
    if (fail)
        return fail; /* the stuck thread's leaked count would hang any cancel */
    sigaction(SIGUSR1, &old, NULL);
    du_tracer_destroy(t);
    return 0;
}
