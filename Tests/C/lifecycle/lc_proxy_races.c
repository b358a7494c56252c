/* lc_proxy_races.c - frozen regions and proxies against fork, bit reuse
 * and misuse (the fixture: lc_proxy.h, lc_proxy.c). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "lc_proxy.h"

/* A proxy's callback forks: the serve returns in the child, where the
 * served thread does not exist; the child can still serve (nothing), request
 * and deliver on its own; the parent goes on. */
static _Atomic pid_t px_forked;
static void px_forking_callback(const struct du_trace *t, uint64_t cookie, void *arg)
{
    lc_px_callback(t, cookie, arg);
    pid_t pid = fork();
    if (pid > 0)
        atomic_store(&px_forked, pid);
}

int du_lc_proxy_fork_in_callback(char *msg, size_t len)
{
    struct px_target t;
    pthread_t th;
    memset(&t, 0, sizeof t);
    lc_px_reset();
    sem_init(&t.frozen, 0, 0);
    sem_init(&t.go, 0, 0);
    sem_init(&t.done, 0, 0);
    if (du_tracer_register(px_forking_callback, (void *)0, "px-fork", &t.x) ||
        du_tracer_register(lc_px_callback, (void *)1, "px-y", &t.y))
        return du_lc_fail(msg, len, "register failed");
    atomic_store(&px_forked, 0);
    pid_t parent = getpid();
    int bad = 0;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    int served = du_proxy_serve();
    if (getpid() != parent) {
        /* The child: one thread, this one, out of the serve. */
        uint64_t c;
        int again = du_proxy_serve(), rq = du_request(t.y, &c), sp = du_safe_point();
        _exit(served == 1 && again == 0 && rq == 0 && sp == 1 ? 0 : 10 + (served != 1) + 2 * (again != 0));
    }
    pid_t pid = atomic_load(&px_forked);
    if (served != 1 || pid <= 0)
        bad = du_lc_fail(msg, len, "parent: served %d (1), forked %d", served, (int)pid);
    else if (du_lc_wait_child(pid, -1, msg, len) != 0)
        bad = 1;
out:
    sem_post(&t.go);
    if (du_lc_sem_wait(&t.done, 10) != 0 && !bad)
        bad = du_lc_fail(msg, len, "the target did not finish after the fork");
    pthread_join(th, NULL);
    du_thread_detach();
    lc_px_teardown(&t);
    return bad;
}

/* PROXY_NO_RECHECK on the proxy path (Docs/Model.md): the proxy has read
 * T's todo {A} and unwound; then A is cancelled and D registered into A's
 * slot (every other slot is taken); the proxy's du_registry_call finds a
 * live handle in the slot and must re-read T's word: D is never called. */
struct px_reuse {
    sem_t unwound, reused;
    du_tracer *a, *d;
    int cancel_rc, register_rc;
};
static struct px_reuse *px_reuse_state;

static void px_reuse_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step != DU_STEP_PROXY_UNWOUND || !px_reuse_state)
        return;
    sem_post(&px_reuse_state->unwound);
    du_lc_sem_wait(&px_reuse_state->reused, 10);
    px_reuse_state = NULL; /* once */
}

static void *px_reuser(void *arg)
{
    struct px_reuse *r = arg;
    if (du_lc_sem_wait(&r->unwound, 10) == 0) {
        r->cancel_rc = du_tracer_cancel(r->a);
        r->register_rc = du_tracer_register(lc_px_callback, (void *)2, "px-d", &r->d);
    }
    sem_post(&r->reused);
    return NULL;
}

int du_lc_proxy_bit_reuse(char *msg, size_t len)
{
    if (!du_debug_step_points_built())
        return 0;
    struct px_target t;
    struct px_reuse r;
    du_tracer *fill[DU_MAX_TRACERS];
    int nfill = 0, bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    memset(&r, 0, sizeof r);
    sem_init(&r.unwound, 0, 0);
    sem_init(&r.reused, 0, 0);
    r.a = t.x;
    while (nfill < DU_MAX_TRACERS && du_tracer_register(lc_px_callback, (void *)3, "px-fill", &fill[nfill]) == 0)
        nfill++;
    pthread_t th, re;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    pthread_create(&re, NULL, px_reuser, &r);
    px_reuse_state = &r;
    du_debug_set_step_hook(px_reuse_hook, NULL);
    int served = du_proxy_serve();
    du_debug_set_step_hook(NULL, NULL);
    pthread_join(re, NULL);
    int d_slot = r.d ? du_tracer_bit(r.d) : -1, a_slot = du_tracer_bit(t.x);
    pthread_mutex_lock(&lc_px.lock);
    int calls_a = 0, calls_d = 0;
    for (int i = 0; i < lc_px.n; i++) {
        calls_a += lc_px.rec[i].tracer == 0;
        calls_d += lc_px.rec[i].tracer == 2;
    }
    pthread_mutex_unlock(&lc_px.lock);
    if (r.cancel_rc < 0 || r.register_rc != 0)
        bad = du_lc_fail(msg, len, "cancel A %d, register D %d", r.cancel_rc, r.register_rc);
    else if (served != 0 || calls_d != 0 || calls_a != 0)
        bad = du_lc_fail(msg, len, "served %d: A called %d, D (in A's slot %d: %d) called %d (want 0, 0, 0)",
                         served, calls_a, a_slot, d_slot, calls_d);
out:
    sem_post(&t.go);
    du_lc_sem_wait(&t.done, 10);
    pthread_join(th, NULL);
    du_thread_detach();
    if (r.d) {
        du_tracer_cancel(r.d);
        du_tracer_destroy(r.d);
    }
    for (int i = 0; i < nfill; i++) {
        du_tracer_cancel(fill[i]);
        du_tracer_destroy(fill[i]);
    }
    lc_px_teardown(&t);
    return bad;
}

/* PROXY_CLAIM_UNLOCKED (Docs/Model.md): between the proxy's peek of T
 * (frozen, a request pending) and its claim, T leaves, runs its safe point
 * and detaches.  The detach's unlink needs the list lock, which the proxy
 * holds from its peeks to its claim: it must not return while the proxy is
 * parked there (proxy.peeked), or the claim would write T's freed state. */
struct px_peek {
    struct px_target *t;
    int parked, detached_while_parked;
};
static struct px_peek *px_peek_state;

static void px_peek_hook(enum du_step step, void *arg)
{
    (void)arg;
    struct px_peek *p = px_peek_state;
    if (step != DU_STEP_PROXY_PEEKED || !p)
        return;
    px_peek_state = NULL; /* once */
    p->parked = 1;
    sem_post(&p->t->go); /* T leaves, delivers, detaches */
    /* Generous for T's three calls when nothing holds it (a few us); the
     * shipped code makes the whole wait expire. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 500 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc;
    while ((rc = sem_timedwait(&p->t->done, &ts)) != 0 && errno == EINTR)
        ;
    if (rc == 0) {
        p->detached_while_parked = 1;
        sem_post(&p->t->done); /* for the caller's wait */
    }
}

int du_lc_proxy_detach_waits_for_peek(char *msg, size_t len)
{
    if (!du_debug_step_points_built())
        return 0;
    struct px_target t;
    struct px_peek p = {.t = &t};
    pthread_t th;
    int bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    if ((bad = lc_px_start(&t, &th, msg, len))) {
        sem_post(&t.go);
        goto out;
    }
    px_peek_state = &p;
    du_debug_set_step_hook(px_peek_hook, NULL);
    int served = du_proxy_serve();
    du_debug_set_step_hook(NULL, NULL);
    px_peek_state = NULL;
    if (!p.parked)
        bad = du_lc_fail(msg, len, "the proxy never reached proxy.peeked (served %d)", served);
    else if (p.detached_while_parked)
        bad = du_lc_fail(msg, len, "the target's detach returned while the proxy was parked between its peek "
                                   "of the target and its claim (proxy.peeked): the claim would write freed "
                                   "state (served %d)", served);
    else if (served != 0 || lc_px_count() != 2)
        bad = du_lc_fail(msg, len, "served %d, callbacks %d (want 0: the target left before the claim; 2: X "
                                   "and Y at its own safe point)", served, lc_px_count());
out:
    if (du_lc_sem_wait(&t.done, 10) != 0 && !bad)
        bad = du_lc_fail(msg, len, "the target's detach did not return after the proxy's serve");
    pthread_join(th, NULL);
    du_thread_detach();
    lc_px_teardown(&t);
    return bad;
}

static int px_callback_serve_rc;
static void px_serving_callback(const struct du_trace *t, uint64_t cookie, void *arg)
{
    (void)t, (void)cookie, (void)arg;
    px_callback_serve_rc = du_proxy_serve();
}

/* Answers that make misuse harmless. */
int du_lc_proxy_misuse(char *msg, size_t len)
{
    int a = du_frozen_enter(), b = du_frozen_leave(), c = du_proxy_serve();
    if (a != -ESRCH || b != -ESRCH || c != -ESRCH)
        return du_lc_fail(msg, len, "not attached: enter %d leave %d serve %d (want -ESRCH)", a, b, c);
    du_thread_attach();
    int bad = 0;
    b = du_frozen_leave();
    a = du_frozen_enter();
    int twice = du_frozen_enter(), serve_in = du_proxy_serve(), leave = du_frozen_leave();
    if (b != -EINVAL || a != 0 || twice != -EBUSY || serve_in != -EBUSY || leave != 0)
        bad = du_lc_fail(msg, len, "leave outside %d (-EINVAL), enter %d (0), again %d (-EBUSY), serve inside "
                         "%d (-EBUSY), leave %d (0)", b, a, twice, serve_in, leave);
    du_tracer *s;
    if (!bad && du_tracer_register(px_serving_callback, NULL, "px-serve", &s) == 0) {
        uint64_t ck;
        du_request(s, &ck);
        du_safe_point();
        if (px_callback_serve_rc != -EDEADLK)
            bad = du_lc_fail(msg, len, "serve from a callback: %d (-EDEADLK)", px_callback_serve_rc);
        du_tracer_cancel(s);
        du_tracer_destroy(s);
    }
    du_thread_detach();
    return bad;
}
