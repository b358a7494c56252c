/* lc_proxy.c - frozen regions and proxy safe points (proxy.c): who
 * delivers, with which cookie and trace, what leave waits for, cancel during
 * a proxy's callback, thread exit inside a region, misuse answers. */
#include <execinfo.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "lc_proxy.h"

struct lc_px_state lc_px = {.lock = PTHREAD_MUTEX_INITIALIZER};



void lc_px_callback(const struct du_trace *t, uint64_t cookie, void *arg)
{
    pthread_mutex_lock(&lc_px.lock);
    if (lc_px.n < PX_MAX) {
        struct px_rec *r = &lc_px.rec[lc_px.n++];
        r->tracer = (int)(intptr_t)arg;
        r->runner = pthread_self();
        r->cookie = cookie;
        r->flags = t->flags;
        r->nr = t->nr;
        for (uint32_t i = 0; i < t->nr && i < PX_FRAMES; i++)
            r->ips[i] = t->ips[i];
    }
    pthread_mutex_unlock(&lc_px.lock);
    if (atomic_load(&lc_px.hold)) {
        atomic_store(&lc_px.in_cb, 1);
        if (lc_px.release)
            sem_post(lc_px.release);
        for (int i = 0; i < 10000 && !atomic_load(&lc_px.leaving); i++)
            usleep(1000);
        usleep((useconds_t)lc_px.hold_ms * 1000);
        atomic_store(&lc_px.cb_done, 1);
    }
}

void lc_px_reset(void)
{
    pthread_mutex_lock(&lc_px.lock);
    lc_px.n = 0;
    pthread_mutex_unlock(&lc_px.lock);
    atomic_store(&lc_px.hold, 0);
    atomic_store(&lc_px.in_cb, 0);
    atomic_store(&lc_px.leaving, 0);
    atomic_store(&lc_px.cb_done, 0);
    lc_px.hold_ms = 0;
    lc_px.release = NULL;
}

int lc_px_count(void)
{
    pthread_mutex_lock(&lc_px.lock);
    int n = lc_px.n;
    pthread_mutex_unlock(&lc_px.lock);
    return n;
}

long long lc_px_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __attribute__((noinline)) void lc_px_exit_below(void) { pthread_exit(NULL); }

/* The region's frame: enter, block, leave all from here (the contract). */
__attribute__((noinline)) void du_lc_px_region(struct px_target *t)
{
    t->enter_rc = du_frozen_enter();
    t->ref_n = backtrace(t->ref, PX_FRAMES); /* ref[1..]: the same callers */
    sem_post(&t->frozen);
    if (du_lc_sem_wait(&t->go, 10) != 0)
        return;
    if (t->exit_in_region)
        lc_px_exit_below();
    t->busy_rc = du_safe_point();      /* inside the region: -EBUSY (pending) */
    t->detach_rc = du_thread_detach(); /* misuse: -EBUSY */
    t->again_rc = du_request(t->x, &t->c_again);
    t->y_rc = du_request(t->y, &t->c_y);
    atomic_store(&lc_px.leaving, 1);
    long long t0 = lc_px_now();
    t->leave_rc = du_frozen_leave();
    t->leave_ns = lc_px_now() - t0;
    __asm__ volatile("" ::: "memory"); /* no tail call: the frame stays */
}

void *lc_px_target_main(void *arg)
{
    struct px_target *t = arg;
    t->self = pthread_self();
    t->region_lo = (uintptr_t)du_lc_px_region;
    du_thread_attach();
    du_request(t->x, &t->c1);
    du_lc_px_region(t);
    t->sp_rc = du_safe_point();
    du_thread_detach();
    sem_post(&t->done);
    return NULL;
}

int lc_px_setup(struct px_target *t, char *msg, size_t len)
{
    memset(t, 0, sizeof *t);
    lc_px_reset();
    sem_init(&t->frozen, 0, 0);
    sem_init(&t->go, 0, 0);
    sem_init(&t->done, 0, 0);
    if (du_tracer_register(lc_px_callback, (void *)0, "px-x", &t->x) ||
        du_tracer_register(lc_px_callback, (void *)1, "px-y", &t->y))
        return du_lc_fail(msg, len, "register failed");
    return 0;
}

/* Attach this thread (the proxy), start the target, wait until it is in
 * its region.  0, or 1 with msg. */
int lc_px_start(struct px_target *t, pthread_t *th, char *msg, size_t len)
{
    du_thread_attach();
    pthread_create(th, NULL, lc_px_target_main, t);
    if (du_lc_sem_wait(&t->frozen, 10) != 0)
        return du_lc_fail(msg, len, "the target never entered its region");
    return 0;
}

void lc_px_teardown(struct px_target *t)
{
    du_tracer_cancel(t->x);
    du_tracer_cancel(t->y);
    du_tracer_destroy(t->x);
    du_tracer_destroy(t->y);
}

/* The proxy's trace starts in du_lc_px_region and continues as the
 * target's own backtrace() from there. */
static int px_check_trace(const struct px_target *t, const struct px_rec *r, char *msg, size_t len)
{
    if (!(r->flags & DU_TRACE_PROXY) || !(r->flags & DU_TRACE_COMPLETE) || (r->flags & DU_TRACE_BACKTRACE))
        return du_lc_fail(msg, len, "proxy trace flags %#x (want PROXY|COMPLETE)", r->flags);
    /* The target's own backtrace() from the region's function: its first
     * frame there (a sanitizer's interceptor may come first). */
    int k = 0;
    while (k < t->ref_n && ((uintptr_t)t->ref[k] <= t->region_lo || (uintptr_t)t->ref[k] > t->region_lo + 4096))
        k++;
    if (k == t->ref_n)
        return du_lc_fail(msg, len, "the target's backtrace() has no frame in the region's function");
    uintptr_t here = (uintptr_t)t->ref[k];
    if (r->nr < 3 || r->ips[0] <= t->region_lo || r->ips[0] > here + 256 || r->ips[0] + 256 < here)
        return du_lc_fail(msg, len, "proxy frame 0 %#lx not in the region's function (%#lx, backtrace %#lx)",
                          (unsigned long)r->ips[0], (unsigned long)t->region_lo, (unsigned long)here);
    int n = (int)r->nr < t->ref_n - k ? (int)r->nr : t->ref_n - k;
    for (int i = 1; i < n && i < PX_FRAMES; i++)
        if (r->ips[i] != (uintptr_t)t->ref[k + i])
            return du_lc_fail(msg, len, "proxy frame %d %#lx, the thread's own backtrace %p", i,
                              (unsigned long)r->ips[i], t->ref[k + i]);
    if ((int)r->nr != t->ref_n - k)
        return du_lc_fail(msg, len, "proxy trace %u frames, backtrace %d above the region", r->nr, t->ref_n - k);
    return 0;
}

int du_lc_proxy_delivers_once(char *msg, size_t len, char *report, size_t rlen)
{
    struct px_target t;
    pthread_t th;
    int bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    if (t.enter_rc != 0) {
        bad = du_lc_fail(msg, len, "du_frozen_enter: %d", t.enter_rc);
        goto out;
    }
    int served = du_proxy_serve();
    int again = du_proxy_serve(); /* nothing new: 0 */
    if (served != 1 || again != 0 || lc_px_count() != 1) {
        bad = du_lc_fail(msg, len, "du_proxy_serve: %d then %d, callbacks %d (want 1, 0, 1)", served, again,
                         lc_px_count());
        goto out;
    }
    struct px_rec r0 = lc_px.rec[0];
    if (r0.tracer != 0 || !pthread_equal(r0.runner, pthread_self()) || r0.cookie != t.c1) {
        bad = du_lc_fail(msg, len, "proxy callback: tracer %d, on the proxy %d, cookie %#llx want %#llx",
                         r0.tracer, pthread_equal(r0.runner, pthread_self()), (unsigned long long)r0.cookie,
                         (unsigned long long)t.c1);
        goto out;
    }
    if ((bad = px_check_trace(&t, &r0, msg, len)))
        goto out;
    sem_post(&t.go);
    if (du_lc_sem_wait(&t.done, 10) != 0) {
        bad = du_lc_fail(msg, len, "the target did not finish");
        goto out;
    }
    if (t.busy_rc != -EBUSY || t.detach_rc != -EBUSY || t.again_rc != 1 || t.c_again != t.c1 || t.y_rc != 0 ||
        t.c_y != t.c1 || t.leave_rc != 0 || t.sp_rc != 1) {
        bad = du_lc_fail(msg, len,
                         "target: safe point in region %d (-EBUSY), detach %d (-EBUSY), repeat X %d (1) same "
                         "cookie %d, Y %d (0) same cookie %d, leave %d (0), safe point %d (1)",
                         t.busy_rc, t.detach_rc, t.again_rc, t.c_again == t.c1, t.y_rc, t.c_y == t.c1,
                         t.leave_rc, t.sp_rc);
        goto out;
    }
    /* Y at the thread's own safe point: same cookie, the context's trace
     * (the proxy's, reused), on the thread; X not again. */
    struct px_rec r1 = lc_px.rec[1];
    if (lc_px_count() != 2 || r1.tracer != 1 || !pthread_equal(r1.runner, t.self) || r1.cookie != t.c1 ||
        !(r1.flags & DU_TRACE_PROXY)) {
        bad = du_lc_fail(msg, len, "after the region: %d callbacks, tracer %d on the target %d, cookie ok %d, "
                         "flags %#x (want 2, Y, 1, 1, PROXY)", lc_px_count(), r1.tracer,
                         pthread_equal(r1.runner, t.self), r1.cookie == t.c1, r1.flags);
        goto out;
    }
    snprintf(report, rlen, "proxy trace %u frames, flags %#x; target's repeat request answered 1 with the "
             "same cookie; Y delivered by the target's safe point", r0.nr, r0.flags);
out:
    sem_post(&t.go);
    pthread_join(th, NULL);
    du_thread_detach();
    lc_px_teardown(&t);
    return bad;
}

/* Leave waits for the proxy's callback of this thread's context. */
int du_lc_proxy_leave_waits(int hold_ms, char *msg, size_t len, char *report, size_t rlen)
{
    struct px_target t;
    pthread_t th;
    int bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    lc_px.hold_ms = hold_ms;
    lc_px.release = &t.go; /* the callback lets the target go on to leave */
    atomic_store(&lc_px.hold, 1);
    long long t0 = lc_px_now();
    int served = du_proxy_serve();
    long long serve_ns = lc_px_now() - t0;
    if (du_lc_sem_wait(&t.done, 10) != 0) {
        bad = du_lc_fail(msg, len, "the target did not finish");
        goto out;
    }
    /* The target started to leave while the callback ran: leave must wait
     * for the callback's end. */
    if (served != 1 || t.leave_rc != 1 || !atomic_load(&lc_px.cb_done) || t.leave_ns < (long long)hold_ms * 1000000 / 2)
        bad = du_lc_fail(msg, len, "served %d (1); leave returned %d after %.1f ms with the proxy's callback %s "
                         "(want 1, >= %d ms, finished)", served, t.leave_rc, t.leave_ns / 1e6,
                         atomic_load(&lc_px.cb_done) ? "finished" : "still running", hold_ms / 2);
    snprintf(report, rlen, "served %d; leave returned %d after %.1f ms (the callback held %d ms; serve took "
             "%.1f ms)", served, t.leave_rc, t.leave_ns / 1e6, hold_ms, serve_ns / 1e6);
out:
    sem_post(&t.go);
    pthread_join(th, NULL);
    du_thread_detach();
    atomic_store(&lc_px.hold, 0);
    lc_px_teardown(&t);
    return bad;
}

struct px_cancel {
    du_tracer *x;
    int rc;
    int cb_done_at_return;
    long long ns;
};

static void *px_canceller(void *arg)
{
    struct px_cancel *c = arg;
    while (!atomic_load(&lc_px.in_cb))
        usleep(1000);
    long long t0 = lc_px_now();
    c->rc = du_tracer_cancel(c->x);
    c->ns = lc_px_now() - t0;
    c->cb_done_at_return = atomic_load(&lc_px.cb_done);
    return NULL;
}

/* Cancel of X while the proxy runs X's callback for the target: cancel
 * waits for it (the proxy publishes the target's `calling`). */
int du_lc_proxy_cancel_waits(char *msg, size_t len, char *report, size_t rlen)
{
    struct px_target t;
    pthread_t th, ct;
    int bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    struct px_cancel c = {.x = t.x};
    lc_px.hold_ms = 100;
    atomic_store(&lc_px.leaving, 1); /* the callback holds only hold_ms */
    atomic_store(&lc_px.hold, 1);
    pthread_create(&ct, NULL, px_canceller, &c);
    int served = du_proxy_serve();
    pthread_join(ct, NULL);
    if (served != 1 || c.rc != 0 || !c.cb_done_at_return)
        bad = du_lc_fail(msg, len, "served %d (1), cancel %d (0), callback finished when cancel returned %d (1)",
                         served, c.rc, c.cb_done_at_return);
    snprintf(report, rlen, "cancel waited %.1f ms for the proxy's 100 ms callback", c.ns / 1e6);
    atomic_store(&lc_px.hold, 0);
out:
    sem_post(&t.go);
    if (du_lc_sem_wait(&t.done, 10) != 0 && !bad)
        bad = du_lc_fail(msg, len, "the target did not finish");
    pthread_join(th, NULL);
    du_thread_detach();
    lc_px_teardown(&t);
    return bad;
}

/* pthread_exit below the region's frame: the exit destructor ends the
 * region and delivers X (EXITING) unless a proxy did; never twice. */
int du_lc_proxy_exit_in_region(int serve_first, char *msg, size_t len)
{
    struct px_target t;
    pthread_t th;
    int bad = lc_px_setup(&t, msg, len);
    if (bad)
        return bad;
    t.exit_in_region = 1;
    if ((bad = lc_px_start(&t, &th, msg, len)))
        goto out;
    int served = serve_first ? du_proxy_serve() : 0;
    sem_post(&t.go);
    pthread_join(th, NULL);
    int n = lc_px_count();
    if (n != 1)
        bad = du_lc_fail(msg, len, "%d callbacks for one request (served by the proxy %d)", n, served);
    else if (!serve_first && !(lc_px.rec[0].flags & DU_TRACE_EXITING))
        bad = du_lc_fail(msg, len, "exit delivered X with flags %#x (want EXITING)", lc_px.rec[0].flags);
    else if (serve_first && (served != 1 || !(lc_px.rec[0].flags & DU_TRACE_PROXY)))
        bad = du_lc_fail(msg, len, "served %d, flags %#x (want 1, PROXY)", served, lc_px.rec[0].flags);
out:
    du_thread_detach();
    lc_px_teardown(&t);
    return bad;
}

