/*
 * lc_fork_cancel.c - fork from inside a callback while another thread
 * cancels that callback's tracer.  Until issue 8 this deadlocked (the
 * callback ran inside a read-side section that the canceller's grace period
 * waited for, while fork's prepare waited for the canceller's grace-period
 * lock).  Now callbacks run outside the section: the canceller waits on the
 * callback's `calling` word holding no lock, and fork goes through.
 */
#include "lc_common.h"
#include <stdlib.h>
#include <unistd.h>

struct du_lc_fc {
    sem_t entered;
    du_tracer *s;
    int s_bit;
    int cancel_rc, park_rc;
    int child_threads; /* 0 under TSan: it refuses pthread_create in a forked child (exit 66) */
    int fail;
    char msg[256];
};

static void du_lc_fc_nop(const struct du_trace *t, uint64_t c, void *a)
{
    (void)t;
    (void)c;
    (void)a;
}

/* In the child, on a fresh thread: the exercise, the stale tracer's cancel
 * (finished by the fork handler: -EALREADY), and a tracer that reuses its
 * bit, cancelled while the forking thread still runs the old tracer's
 * callback (which must not be waited for: it is not this tracer's). */
static void *du_lc_fc_child_main(void *arg)
{
    struct du_lc_fc *f = arg;
    char *msg = f->msg;
    size_t len = sizeof(f->msg);
    if (du_lc_child_exercise(msg, len)) {
        f->fail = 1;
        return NULL;
    }
    int rc = du_tracer_cancel(f->s);
    if (rc != -EALREADY) {
        f->fail = du_lc_fail(msg, len, "child: cancel of the tracer cancelled at fork %d", rc);
        return NULL;
    }
    du_tracer *t[DU_MAX_TRACERS];
    int n = 0, reused = 0;
    while (n < DU_MAX_TRACERS && du_tracer_register(du_lc_fc_nop, NULL, "reuser", &t[n]) == 0)
        reused |= du_tracer_bit(t[n++]) == f->s_bit;
    for (int i = 0; i < n; i++)
        if ((rc = du_tracer_cancel(t[i])) != 0 && !f->fail)
            f->fail = du_lc_fail(msg, len, "child: cancel of a new tracer %d", rc);
    if (!reused && !f->fail)
        f->fail = du_lc_fail(msg, len, "child: bit %d never reused (%d registered)", f->s_bit, n);
    return NULL;
}

static int du_lc_fc_child(void *arg, char *msg, size_t len)
{
    struct du_lc_fc *f = arg;
    f->fail = 0;
    if (!f->child_threads) {
        /* On the forking thread, still inside the callback: the finished
         * cancel, and the bit handed out again.  Cancels would be -EDEADLK
         * here; the process exits with the reusers registered. */
        int rc = du_tracer_cancel(f->s);
        if (rc != -EDEADLK && rc != -EALREADY)
            return du_lc_fail(msg, len, "child: cancel of the tracer cancelled at fork %d", rc);
        du_tracer *t;
        for (int n = 0; n < DU_MAX_TRACERS && du_tracer_register(du_lc_fc_nop, NULL, "reuser", &t) == 0; n++)
            if (du_tracer_bit(t) == f->s_bit)
                return 0;
        return du_lc_fail(msg, len, "child: bit %d never reused", f->s_bit);
    }
    pthread_t th;
    pthread_create(&th, NULL, du_lc_fc_child_main, f);
    pthread_join(th, NULL);
    if (f->fail)
        snprintf(msg, len, "%s", f->msg);
    return f->fail;
}

static void du_lc_fc_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    struct du_lc_fc *f = arg;
    sem_post(&f->entered);
    /* Wait until the canceller is inside du_tracer_cancel (marked). */
    for (int i = 0; i < 100000 && du_tracer_bit(f->s) != -1; i++)
        usleep(100);
    if (du_tracer_bit(f->s) != -1) {
        f->fail = du_lc_fail(f->msg, sizeof(f->msg), "parent: cancel never began");
        return;
    }
    f->fail = du_lc_in_child(du_lc_fc_child, f, f->msg, sizeof(f->msg));
}

static void *du_lc_fc_park_main(void *arg)
{
    struct du_lc_fc *f = arg;
    uint64_t c;
    f->park_rc = du_thread_attach();
    if (f->park_rc == 0 && (f->park_rc = du_request(f->s, &c)) == 0)
        f->park_rc = du_safe_point() == 1 ? 0 : -1;
    du_thread_detach();
    return NULL;
}

static void *du_lc_fc_cancel_main(void *arg)
{
    struct du_lc_fc *f = arg;
    f->cancel_rc = du_tracer_cancel(f->s);
    return NULL;
}

int du_lc_fork_in_callback_during_cancel(int child_threads, char *msg, size_t len)
{
    static struct du_lc_fc f; /* the child reads it after fork */
    memset(&f, 0, sizeof(f));
    f.child_threads = child_threads;
    if (du_tracer_register(du_lc_fc_cb, &f, "forker", &f.s) != 0)
        return du_lc_fail(msg, len, "register");
    f.s_bit = du_tracer_bit(f.s);
    sem_init(&f.entered, 0, 0);
    pthread_t park, canceller;
    pthread_create(&park, NULL, du_lc_fc_park_main, &f);
    /* Cancel once the callback runs: cancel waits for it, and it forks. */
    int entered = du_lc_sem_wait(&f.entered, DU_LC_CHILD_BOUND_S) == 0;
    if (entered)
        pthread_create(&canceller, NULL, du_lc_fc_cancel_main, &f);
    pthread_join(park, NULL);
    if (entered)
        pthread_join(canceller, NULL);
    if (!entered)
        return du_lc_fail(msg, len, "parent: the callback never ran (rc %d)", f.park_rc);
    if (f.fail)
        return du_lc_fail(msg, len, "%s", f.msg);
    if (f.park_rc != 0)
        return du_lc_fail(msg, len, "parent: parked thread rc %d", f.park_rc);
    if (f.cancel_rc != 0)
        return du_lc_fail(msg, len, "parent: cancel %d (the callback ran: nothing dropped)", f.cancel_rc);
    return 0;
}
