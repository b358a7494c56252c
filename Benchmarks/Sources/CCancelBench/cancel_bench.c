/* cancel_bench.c - see include/cancel_bench.h.  Public du_ API only. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deferred_unwind.h"
#include "include/cancel_bench.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void cb_none(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace, (void)cookie, (void)arg;
}

/* ---- (7a) ---- */
/* Out of line, for callgrind's --toggle-collect (cancel-ab.sh): the
 * instructions of one register and of one cancel, nothing else. */
__attribute__((noinline)) int cb_register_one(du_tracer **t)
{
    return du_tracer_register(cb_none, NULL, "cancel-idle", t);
}
__attribute__((noinline)) int cb_cancel_one(du_tracer *t) { return du_tracer_cancel(t); }

static struct {
    pthread_t tid[128];
    int n;
    pthread_barrier_t up;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    _Atomic int errors;
} idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *idle_thread(void *p)
{
    (void)p;
    if (du_thread_attach() < 0)
        atomic_fetch_add(&idle.errors, 1);
    pthread_barrier_wait(&idle.up);
    pthread_mutex_lock(&idle.lock);
    while (!idle.stop)
        pthread_cond_wait(&idle.cond, &idle.lock);
    pthread_mutex_unlock(&idle.lock);
    du_thread_detach();
    return NULL;
}

int cancel_idle_run(int others, int samples, uint64_t *reg_cancel_ns, uint64_t *cancel_ns)
{
    if (others < 0 || others > 128 || samples < 1)
        return -EINVAL;
    int r = 0;
    idle.n = others;
    idle.stop = 0;
    pthread_barrier_init(&idle.up, NULL, (unsigned)others + 1);
    for (int i = 0; i < others; i++)
        if (pthread_create(&idle.tid[i], NULL, idle_thread, NULL) != 0)
            abort();
    pthread_barrier_wait(&idle.up);
    if (atomic_load(&idle.errors))
        r = -EIO;
    for (int i = -5; i < samples && r == 0; i++) { /* 5 warm-up rounds */
        du_tracer *t;
        uint64_t t0 = now_ns();
        r = cb_register_one(&t);
        uint64_t t1 = now_ns();
        if (r < 0)
            break;
        r = cb_cancel_one(t);
        uint64_t t2 = now_ns();
        du_tracer_destroy(t); /* already cancelled: returns at once */
        if (r < 0)
            break;
        r = 0;
        if (i >= 0) {
            reg_cancel_ns[i] = t2 - t0;
            cancel_ns[i] = t2 - t1;
        }
    }
    pthread_mutex_lock(&idle.lock);
    idle.stop = 1;
    pthread_cond_broadcast(&idle.cond);
    pthread_mutex_unlock(&idle.lock);
    for (int i = 0; i < others; i++)
        pthread_join(idle.tid[i], NULL);
    pthread_barrier_destroy(&idle.up);
    return r;
}

/* ---- (7b) ---- */
static struct {
    du_tracer *s;
    unsigned sleep_ms;
    _Atomic int started, finished, error;
} slp;

static void cb_sleep(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace, (void)cookie, (void)arg;
    atomic_store(&slp.started, 1);
    struct timespec ts = {.tv_sec = slp.sleep_ms / 1000, .tv_nsec = (long)(slp.sleep_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    atomic_store(&slp.finished, 1);
}

static void *sleeper(void *p)
{
    (void)p;
    uint64_t c;
    if (du_thread_attach() < 0 || du_request(slp.s, &c) != 0 || du_safe_point() < 0)
        atomic_store(&slp.error, 1);
    if (!atomic_load(&slp.started))
        atomic_store(&slp.error, 1);
    du_thread_detach();
    return NULL;
}

static pthread_t slp_tid;
static du_tracer *slp_x;

int cancel_sleep_begin(unsigned sleep_ms)
{
    int r = du_tracer_register(cb_sleep, NULL, "sleeper", &slp.s);
    if (r < 0)
        return r;
    slp.sleep_ms = sleep_ms;
    atomic_store(&slp.started, 0);
    atomic_store(&slp.finished, 0);
    atomic_store(&slp.error, 0);
    if (pthread_create(&slp_tid, NULL, sleeper, NULL) != 0)
        abort();
    while (!atomic_load(&slp.started) && !atomic_load(&slp.error))
        sched_yield();
    return 0;
}

int cancel_sleep_register_x(void) { return du_tracer_register(cb_none, NULL, "x", &slp_x); }
int cancel_sleep_cancel_x(void) { return du_tracer_cancel(slp_x); }
int cancel_sleep_still_sleeping(void) { return !atomic_load(&slp.finished); }

int cancel_sleep_end(void)
{
    if (slp_x)
        du_tracer_destroy(slp_x);
    slp_x = NULL;
    pthread_join(slp_tid, NULL);
    du_tracer_destroy(slp.s);
    return atomic_load(&slp.error) ? -EIO : 0;
}

int cancel_sleep_round(unsigned sleep_ms, uint64_t *cancel_ns, uint64_t *reg_cancel_ns,
                       int *still_sleeping)
{
    int r = cancel_sleep_begin(sleep_ms);
    if (r < 0)
        return r;
    uint64_t t0 = now_ns();
    r = cancel_sleep_register_x();
    uint64_t t1 = now_ns();
    if (r >= 0) {
        r = cancel_sleep_cancel_x();
        uint64_t t2 = now_ns();
        *still_sleeping = cancel_sleep_still_sleeping();
        *cancel_ns = t2 - t1;
        *reg_cancel_ns = t2 - t0;
    }
    int e = cancel_sleep_end();
    return r < 0 ? r : e;
}

/* ---- tables ---- */
static double q(uint64_t *v, int n, double p) /* v sorted; nearest rank */
{
    int i = (int)(p * (n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

int cancel_idle_main(int samples, int others)
{
    uint64_t *rc = calloc((size_t)samples, sizeof(uint64_t)), *c = calloc((size_t)samples, sizeof(uint64_t));
    int r = cancel_idle_run(others, samples, rc, c);
    if (r < 0) {
        fprintf(stderr, "cancel-idle: %d (%s)\n", r, strerror(-r));
        return 1;
    }
    qsort(rc, (size_t)samples, sizeof(uint64_t), cmp_u64);
    qsort(c, (size_t)samples, sizeof(uint64_t), cmp_u64);
    printf("(7a) register+cancel idle, %d other attached, us: p50 %.2f p90 %.2f max %.2f (n %d)\n",
           others, q(rc, samples, 0.5), q(rc, samples, 0.9), q(rc, samples, 1.0), samples);
    printf("(7a) cancel alone idle,    %d other attached, us: p50 %.2f p90 %.2f max %.2f (n %d)\n",
           others, q(c, samples, 0.5), q(c, samples, 0.9), q(c, samples, 1.0), samples);
    free(rc);
    free(c);
    return 0;
}

int cancel_sleep_main(int reps, unsigned sleep_ms)
{
    uint64_t *c = calloc((size_t)reps, sizeof(uint64_t)), *rc = calloc((size_t)reps, sizeof(uint64_t));
    int sleeping = 0;
    for (int i = 0; i < reps; i++) {
        int s = 0;
        int r = cancel_sleep_round(sleep_ms, &c[i], &rc[i], &s);
        if (r < 0) {
            fprintf(stderr, "cancel-sleep round %d: %d (%s)\n", i, r, strerror(-r));
            return 1;
        }
        sleeping += s;
    }
    printf("(7b) cancel samples, us:");
    for (int i = 0; i < reps; i++)
        printf(" %.2f", (double)c[i] / 1000.0);
    printf("\n");
    qsort(c, (size_t)reps, sizeof(uint64_t), cmp_u64);
    qsort(rc, (size_t)reps, sizeof(uint64_t), cmp_u64);
    printf("(7b) cancel X while S's callback sleeps %u ms, us: p50 %.2f max %.2f min %.2f (n %d); "
           "register+cancel p50 %.2f max %.2f; S still sleeping at return %d/%d\n",
           sleep_ms, q(c, reps, 0.5), q(c, reps, 1.0), q(c, reps, 0.0), reps,
           q(rc, reps, 0.5), q(rc, reps, 1.0), sleeping, reps);
    free(c);
    free(rc);
    return 0;
}
