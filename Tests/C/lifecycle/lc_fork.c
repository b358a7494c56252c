/*
 * lc_fork.c - fork at each dangerous moment: another thread in a callback,
 * in du_request, in du_tracer_cancel; attach/register churn; a pending
 * request on the forking thread; fork from inside a callback.
 */
#include "lc_common.h"
#include <stdlib.h>
#include <unistd.h>

/* ---- a thread parked inside a callback ---------------------------------- */
struct du_lc_park {
    sem_t entered, release;
    du_tracer *tracer;
    int rc;
};

static void du_lc_park_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    struct du_lc_park *p = arg;
    sem_post(&p->entered);
    (void)du_lc_sem_wait(&p->release, 2 * DU_LC_CHILD_BOUND_S);
}

static void *du_lc_park_main(void *arg)
{
    struct du_lc_park *p = arg;
    uint64_t c;
    p->rc = du_thread_attach();
    if (p->rc == 0 && (p->rc = du_request(p->tracer, &c)) == 0)
        p->rc = du_safe_point() == 1 ? 0 : -1;
    du_thread_detach();
    return NULL;
}

struct du_lc_tracer_arg { du_tracer *t; int bit; };

static int du_lc_child_cancels(void *arg, char *msg, size_t len)
{
    struct du_lc_tracer_arg *a = arg;
    if (du_lc_child_exercise(msg, len))
        return 1;
    /* The parked callback's thread does not exist here: cancel must not
     * wait for it. */
    int rc = du_tracer_cancel(a->t);
    return rc == 0 ? 0 : du_lc_fail(msg, len, "child: cancel of the parked tracer %d", rc);
}

int du_lc_fork_during_callback(char *msg, size_t len)
{
    struct du_lc_park p = {0};
    sem_init(&p.entered, 0, 0);
    sem_init(&p.release, 0, 0);
    if (du_tracer_register(du_lc_park_cb, &p, "parked", &p.tracer) != 0)
        return du_lc_fail(msg, len, "register");
    pthread_t th;
    pthread_create(&th, NULL, du_lc_park_main, &p);
    int fail = du_lc_sem_wait(&p.entered, DU_LC_CHILD_BOUND_S) != 0
                   ? du_lc_fail(msg, len, "callback never entered (rc %d)", p.rc)
                   : 0;
    struct du_lc_tracer_arg a = {p.tracer, du_tracer_bit(p.tracer)};
    if (!fail)
        fail = du_lc_in_child(du_lc_child_cancels, &a, msg, len);
    sem_post(&p.release);
    pthread_join(th, NULL);
    if (!fail && p.rc != 0)
        fail = du_lc_fail(msg, len, "parent: parked thread rc %d", p.rc);
    if (du_tracer_destroy(p.tracer) != 0)
        fail = du_lc_fail(msg, len, "parent: destroy");
    return fail;
}

/* ---- churn ---------------------------------------------------------------- */
static _Atomic int du_lc_stop;

static void du_lc_nop_cb(const struct du_trace *t, uint64_t c, void *a)
{
    (void)t;
    (void)c;
    (void)a;
}

static void *du_lc_churn_main(void *arg)
{
    int kind = (int)(intptr_t)arg;
    while (!atomic_load(&du_lc_stop)) {
        if (kind == 0) { /* attach / request / safe point / detach */
            du_tracer *t;
            if (du_thread_attach() == 0) {
                if (du_tracer_register(du_lc_nop_cb, NULL, "churn-a", &t) == 0) {
                    uint64_t c;
                    du_request(t, &c);
                    du_safe_point();
                    du_tracer_destroy(t);
                }
                du_thread_detach();
            }
        } else { /* register / cancel */
            du_tracer *t;
            if (du_tracer_register(du_lc_nop_cb, NULL, "churn-r", &t) == 0)
                du_tracer_cancel(t);
        }
    }
    return NULL;
}

static int du_lc_child_plain(void *arg, char *msg, size_t len)
{
    (void)arg;
    return du_lc_child_exercise(msg, len);
}

int du_lc_fork_during_churn(int forks, char *msg, size_t len)
{
    enum { N = 4 };
    pthread_t th[N];
    atomic_store(&du_lc_stop, 0);
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, du_lc_churn_main, (void *)(intptr_t)(i & 1));
    int fail = 0;
    for (int i = 0; i < forks && !fail; i++)
        fail = du_lc_in_child(du_lc_child_plain, NULL, msg, len);
    atomic_store(&du_lc_stop, 1);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    return fail;
}

/* ---- stopped at a step point ---------------------------------------------- */
struct du_lc_stop_at {
    enum du_step step;
    sem_t inside, release;
    int armed;
    du_tracer *tracer;
    int rc;
};

static void du_lc_stop_hook(enum du_step step, void *arg)
{
    struct du_lc_stop_at *s = arg;
    if (!s->armed || step != s->step)
        return;
    s->armed = 0;
    sem_post(&s->inside);
    (void)du_lc_sem_wait(&s->release, 2 * DU_LC_CHILD_BOUND_S);
}

static void *du_lc_request_stopped_main(void *arg)
{
    struct du_lc_stop_at *s = arg;
    uint64_t c;
    du_thread_attach();
    du_debug_set_step_hook(du_lc_stop_hook, s);
    s->armed = 1;
    s->rc = du_request(s->tracer, &c);
    du_debug_set_step_hook(NULL, NULL);
    if (s->rc == 0 && du_safe_point() != 1)
        s->rc = -1;
    du_thread_detach();
    return NULL;
}

static void *du_lc_cancel_stopped_main(void *arg)
{
    struct du_lc_stop_at *s = arg;
    du_debug_set_step_hook(du_lc_stop_hook, s);
    s->armed = 1;
    s->rc = du_tracer_cancel(s->tracer);
    du_debug_set_step_hook(NULL, NULL);
    return NULL;
}

static int du_lc_child_after_mid_cancel(void *arg, char *msg, size_t len)
{
    struct du_lc_tracer_arg *a = arg;
    int bit = a->bit, rc;
    if ((rc = du_tracer_cancel(a->t)) != -EALREADY)
        return du_lc_fail(msg, len, "child: cancel of the half-cancelled tracer %d", rc);
    du_tracer *t[DU_MAX_TRACERS];
    int n = 0, reused = 0;
    while (n < DU_MAX_TRACERS && du_tracer_register(du_lc_nop_cb, NULL, "fill", &t[n]) == 0)
        reused |= du_tracer_bit(t[n++]) == bit;
    for (int i = 0; i < n; i++)
        du_tracer_cancel(t[i]);
    if (!reused)
        return du_lc_fail(msg, len, "child: bit %d never reused (%d registered)", bit, n);
    return du_lc_child_exercise(msg, len);
}

static int du_lc_stopped(void *(*main)(void *), enum du_step step,
                         int (*child)(void *, char *, size_t), char *msg, size_t len)
{
    if (!du_debug_step_points_built())
        return du_lc_fail(msg, len, "needs step points (a debug build)");
    struct du_lc_stop_at s = {.step = step};
    sem_init(&s.inside, 0, 0);
    sem_init(&s.release, 0, 0);
    if (du_tracer_register(du_lc_nop_cb, NULL, "stopped", &s.tracer) != 0)
        return du_lc_fail(msg, len, "register");
    struct du_lc_tracer_arg a = {s.tracer, du_tracer_bit(s.tracer)};
    pthread_t th;
    pthread_create(&th, NULL, main, &s);
    int fail = du_lc_sem_wait(&s.inside, DU_LC_CHILD_BOUND_S) != 0
                   ? du_lc_fail(msg, len, "step %s never reached", du_step_name(step))
                   : 0;
    if (!fail)
        fail = du_lc_in_child(child, &a, msg, len);
    sem_post(&s.release);
    pthread_join(th, NULL);
    if (!fail && s.rc < 0)
        fail = du_lc_fail(msg, len, "parent: stopped call returned %d", s.rc);
    du_tracer_destroy(s.tracer);
    return fail;
}

int du_lc_fork_inside_request(char *msg, size_t len)
{
    return du_lc_stopped(du_lc_request_stopped_main, DU_STEP_REQUEST_BIT_READ,
                         du_lc_child_cancels, msg, len);
}

int du_lc_fork_mid_cancel(char *msg, size_t len)
{
    return du_lc_stopped(du_lc_cancel_stopped_main, DU_STEP_CANCEL_MARKED,
                         du_lc_child_after_mid_cancel, msg, len);
}
