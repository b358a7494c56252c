/*
 * ms_free_race.c - a register and request on another thread after every
 * instruction of cancel's scrub (and of the free, if it came first):
 * model_slip_support.h, ms_free_race.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "model_slip_support.h"

static struct {
    du_tracer *x, *z;
    _Atomic int ready, go, busy, done, finish, tid;
    _Atomic unsigned long z_calls;
    int z_status;
    long target, traps;
    int tracing;
    struct ms_injection inj;
} fr;

static void fr_pause(long i)
{
    struct timespec ts = {0, 50 * 1000};
    if (i < 1000)
        sched_yield();
    else
        nanosleep(&ts, NULL);
}

static int fr_wait(_Atomic int *v)
{
    for (long i = 0; i < 30L * 20000; i++) {
        if (atomic_load(v))
            return 0;
        fr_pause(i);
    }
    return -1;
}

static void fr_z_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
    atomic_fetch_add(&fr.z_calls, 1);
}

/* The worker's current system call number (/proc), -1 if running.
 * open/read/close: async-signal-safe. */
static long fr_worker_syscall(void)
{
    char path[64], buf[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", atomic_load(&fr.tid));
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -2;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -2;
    buf[n] = 0;
    if (buf[0] < '0' || buf[0] > '9')
        return -1; /* "running" */
    return strtol(buf, NULL, 10);
}

static void *fr_worker(void *arg)
{
    (void)arg;
    atomic_store(&fr.tid, (int)syscall(SYS_gettid));
    du_thread_attach();
    atomic_store(&fr.ready, 1);
    if (fr_wait(&fr.go) == 0) {
        atomic_store(&fr.busy, 1);
        if (du_tracer_register(fr_z_cb, NULL, "ms-z", &fr.z) == 0) {
            uint64_t c;
            fr.z_status = du_request(fr.z, &c);
        }
        atomic_store(&fr.done, 1);
    }
    fr_wait(&fr.finish);
    du_safe_point();
    du_thread_detach();
    return NULL;
}

/* SIGTRAP handler on the cancelling thread. */
static void fr_inject(struct ms_injection *inj)
{
    atomic_store(&fr.go, 1);
    for (long i = 0; i < 30L * 20000; i++) {
        if (atomic_load(&fr.done)) {
            inj->cancel_state = 1;
            return;
        }
        /* Blocked on the registry lock, which this thread holds. */
        if (atomic_load(&fr.busy) && fr_worker_syscall() == SYS_futex) {
            inj->cancel_state = 2;
            return;
        }
        fr_pause(i);
    }
    inj->cancel_state = -1;
}

static void fr_cancel_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step == DU_STEP_CANCEL_CALLBACKS_QUIET && !fr.tracing) {
        fr.tracing = 1;
        ms_trace_start(fr.target, fr_inject, &fr.inj);
    } else if (step == DU_STEP_CANCEL_SCRUBBED && fr.tracing == 1) {
        fr.traps = ms_trace_stop();
        fr.tracing = 2;
    }
}

static void fr_x_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
}

int ms_free_race(long target, long *traps, int *z_status, unsigned long *z_calls, int *same_bit)
{
    *traps = 0;
    *z_status = -1;
    *z_calls = 0;
    *same_bit = 0;
    if (!ms_single_step_supported())
        return -1;
    atomic_store(&fr.ready, 0);
    atomic_store(&fr.go, 0);
    atomic_store(&fr.busy, 0);
    atomic_store(&fr.done, 0);
    atomic_store(&fr.finish, 0);
    atomic_store(&fr.z_calls, 0);
    fr.z = NULL;
    fr.z_status = -1;
    fr.target = target;
    fr.traps = 0;
    fr.tracing = 0;
    fr.inj = (struct ms_injection){0};
    if (du_tracer_register(fr_x_cb, NULL, "ms-x", &fr.x) != 0)
        return -1;
    int x_bit = du_tracer_bit(fr.x);
    pthread_t w;
    if (pthread_create(&w, NULL, fr_worker, NULL) != 0)
        return -1;
    int rc = -ETIMEDOUT;
    if (fr_wait(&fr.ready) == 0) {
        du_debug_set_step_hook(fr_cancel_hook, NULL);
        rc = du_tracer_cancel(fr.x);
        du_debug_set_step_hook(NULL, NULL);
        if (fr.tracing == 1)
            fr.traps = ms_trace_stop();
    }
    atomic_store(&fr.go, 1); /* not injected: register after the cancel */
    if (fr_wait(&fr.done) != 0 && rc >= 0)
        rc = -ETIMEDOUT;
    int z_bit = fr.z ? du_tracer_bit(fr.z) : -1;
    atomic_store(&fr.finish, 1);
    pthread_join(w, NULL); /* its safe point ran */
    *traps = fr.traps;
    *z_status = fr.z_status;
    *z_calls = atomic_load(&fr.z_calls);
    *same_bit = z_bit == x_bit;
    if (fr.z)
        du_tracer_destroy(fr.z);
    return rc;
}
