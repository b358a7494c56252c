/*
 * ms_scrub_race.c - cancel's scrub stepped instruction by instruction
 * while the owning thread's reset lands between any two of its
 * instructions (model_slip_support.h, ms_scrub_race).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "model_slip_support.h"


static struct {
    du_tracer *x;
    _Atomic int requested, parked, release, reset_done, finish;
    _Atomic unsigned long calls;
    long target, traps;
    int tracing;
    struct ms_injection inj;
} sr;

/* Bounded wait (30 s) for *v != 0; nanosleep is async-signal-safe. */
static int sr_wait(_Atomic int *v)
{
    struct timespec ts = {0, 50 * 1000};
    for (long i = 0; i < 30L * 20000; i++) {
        if (atomic_load(v))
            return 0;
        if (i < 1000)
            sched_yield();
        else
            nanosleep(&ts, NULL);
    }
    return -1;
}

static void sr_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
    atomic_fetch_add(&sr.calls, 1);
}

static void sr_worker_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step == DU_STEP_DISPATCH_RETURNED) {
        atomic_store(&sr.parked, 1);
        sr_wait(&sr.release);
    } else if (step == DU_STEP_RESET_DONE) {
        atomic_store(&sr.reset_done, 1);
    }
}

static void *sr_worker(void *arg)
{
    (void)arg;
    du_thread_attach();
    du_debug_set_step_hook(sr_worker_hook, NULL);
    uint64_t c;
    du_request(sr.x, &c);
    atomic_store(&sr.requested, 1);
    du_safe_point();
    du_debug_set_step_hook(NULL, NULL);
    sr_wait(&sr.finish);
    du_thread_detach();
    return NULL;
}

/* In the SIGTRAP handler on the cancelling thread: the worker resets now. */
static void sr_inject(struct ms_injection *inj)
{
    atomic_store(&sr.release, 1);
    inj->cancel_state = sr_wait(&sr.reset_done) == 0 ? 1 : -1;
}

static void sr_cancel_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step == DU_STEP_CANCEL_CALLBACKS_QUIET && !sr.tracing) {
        sr.tracing = 1;
        ms_trace_start(sr.target, sr_inject, &sr.inj);
    } else if (step == DU_STEP_CANCEL_SCRUBBED && sr.tracing == 1) {
        sr.traps = ms_trace_stop();
        sr.tracing = 2;
    }
}

int ms_scrub_race(long target, long *traps, unsigned long *calls, int *fired)
{
    *traps = 0;
    *calls = 0;
    *fired = 0;
    if (!ms_single_step_supported())
        return -1;
    atomic_store(&sr.requested, 0);
    atomic_store(&sr.parked, 0);
    atomic_store(&sr.release, 0);
    atomic_store(&sr.reset_done, 0);
    atomic_store(&sr.finish, 0);
    atomic_store(&sr.calls, 0);
    sr.target = target;
    sr.traps = 0;
    sr.tracing = 0;
    sr.inj = (struct ms_injection){0};
    if (du_tracer_register(sr_cb, NULL, "ms-scrub", &sr.x) != 0)
        return -1;
    pthread_t w;
    if (pthread_create(&w, NULL, sr_worker, NULL) != 0)
        return -1;
    int rc;
    if (sr_wait(&sr.parked) != 0) {
        rc = -ETIMEDOUT;
    } else {
        du_debug_set_step_hook(sr_cancel_hook, NULL);
        rc = du_tracer_cancel(sr.x);
        du_debug_set_step_hook(NULL, NULL);
        if (sr.tracing == 1) /* never reached the scrub's end: stop anyway */
            sr.traps = ms_trace_stop();
    }
    atomic_store(&sr.release, 1);
    if (sr_wait(&sr.reset_done) != 0 && rc >= 0)
        rc = -ETIMEDOUT;
    atomic_store(&sr.finish, 1);
    pthread_join(w, NULL);
    *traps = sr.traps;
    *calls = atomic_load(&sr.calls);
    *fired = sr.inj.fired && sr.inj.cancel_state == 1;
    return rc;
}
