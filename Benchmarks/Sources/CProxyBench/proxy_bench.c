/*
 * proxy_bench.c - the costs of proxy safe points (Docs/Performance.md,
 * rows 9): public API only, the shared library.
 *
 *   enter+leave  a frozen region with nobody serving: ns per pair.
 *   serve        `threads` threads each request one tracer, enter a region
 *                and wait; one du_proxy_serve() serves them all (one unwind
 *                of each frozen stack, one callback each): ns per thread.
 *   leave wait   a thread requests, enters and leaves at once, in a loop,
 *                while this thread serves in a loop: how long a leave that
 *                found the claim waited (p50, p99, max) and how often.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "deferred_unwind.h"
#include "proxy_bench.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static _Atomic long callbacks;
static void count_cb(const struct du_trace *t, uint64_t cookie, void *arg)
{
    (void)t, (void)cookie, (void)arg;
    atomic_fetch_add_explicit(&callbacks, 1, memory_order_relaxed);
}

static du_tracer *tracer;
static _Atomic int phase, ready, stop;

/* The region's frame: enter, wait for the round to end, leave. */
static __attribute__((noinline)) void frozen_wait(int round)
{
    du_frozen_enter();
    atomic_fetch_add(&ready, 1);
    while (atomic_load(&phase) == round && !atomic_load(&stop))
        ;
    du_frozen_leave();
    __asm__ volatile("" ::: "memory");
}

static void *serve_target(void *arg)
{
    (void)arg;
    du_thread_attach();
    for (int round = 0; !atomic_load(&stop); round++) {
        while (atomic_load(&phase) != round && !atomic_load(&stop))
            ;
        uint64_t c;
        du_request(tracer, &c);
        frozen_wait(round);
        du_safe_point();
    }
    du_thread_detach();
    return NULL;
}

static uint64_t leave_waits[200000];
static _Atomic long n_waits, n_leaves;

static __attribute__((noinline)) void quick_region(void)
{
    du_frozen_enter();
    uint64_t t0 = now_ns();
    int w = du_frozen_leave();
    uint64_t dt = now_ns() - t0;
    atomic_fetch_add(&n_leaves, 1);
    if (w == 1) {
        long i = atomic_fetch_add(&n_waits, 1);
        if (i < 200000)
            leave_waits[i] = dt;
    }
    __asm__ volatile("" ::: "memory");
}

static void *leave_target(void *arg)
{
    (void)arg;
    du_thread_attach();
    while (!atomic_load(&stop)) {
        uint64_t c;
        du_request(tracer, &c);
        quick_region();
        du_safe_point();
    }
    du_thread_detach();
    return NULL;
}

int proxy_bench_main(int rounds, int threads)
{
    if (du_tracer_register(count_cb, NULL, "proxy-bench", &tracer) != 0 || du_thread_attach() != 0) {
        fprintf(stderr, "proxy bench: register/attach failed\n");
        return 1;
    }
    /* enter + leave, nobody serving */
    enum { PAIRS = 1000000 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < PAIRS; i++) {
        du_frozen_enter();
        du_frozen_leave();
    }
    printf("PROXY enter+leave ns=%.1f (no proxy, %d pairs)\n", (double)(now_ns() - t0) / PAIRS, PAIRS);

    /* serve: `threads` frozen threads per du_proxy_serve() */
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    uint64_t *per = calloc((size_t)rounds, sizeof *per);
    atomic_store(&phase, 0);
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, serve_target, NULL);
    long served_total = 0;
    for (int r = 0; r < rounds; r++) {
        while (atomic_load(&ready) < threads)
            ;
        atomic_store(&ready, 0);
        uint64_t s0 = now_ns();
        int n = du_proxy_serve();
        per[r] = (now_ns() - s0) / (uint64_t)(n > 0 ? n : 1);
        served_total += n;
        atomic_store(&phase, r + 1);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    qsort(per, (size_t)rounds, sizeof *per, cmp);
    printf("PROXY serve ns_per_thread p50=%llu p90=%llu (threads=%d rounds=%d served=%ld of %ld; one unwind + one "
           "callback each)\n",
           (unsigned long long)per[rounds / 2], (unsigned long long)per[rounds * 9 / 10], threads, rounds,
           served_total, (long)threads * rounds);

    /* leave wait: one target looping enter/leave while we serve */
    atomic_store(&stop, 0);
    pthread_t lt;
    pthread_create(&lt, NULL, leave_target, NULL);
    uint64_t end = now_ns() + 2000000000u;
    long serves = 0;
    while (now_ns() < end)
        serves += du_proxy_serve() > 0;
    atomic_store(&stop, 1);
    pthread_join(lt, NULL);
    long w = atomic_load(&n_waits) < 200000 ? atomic_load(&n_waits) : 200000;
    if (w > 0) {
        qsort(leave_waits, (size_t)w, sizeof *leave_waits, cmp);
        printf("PROXY leave_wait ns p50=%llu p99=%llu max=%llu (waited in %ld of %ld leaves; %ld serves that "
               "called back, 2 s)\n",
               (unsigned long long)leave_waits[w / 2], (unsigned long long)leave_waits[w * 99 / 100],
               (unsigned long long)leave_waits[w - 1], atomic_load(&n_waits), atomic_load(&n_leaves), serves);
    } else {
        printf("PROXY leave_wait: no leave found a claim (%ld leaves, %ld serves)\n", atomic_load(&n_leaves),
               serves);
    }
    printf("PROXY callbacks=%ld\n", atomic_load(&callbacks));
    free(tid);
    free(per);
    du_thread_detach();
    du_tracer_cancel(tracer);
    du_tracer_destroy(tracer);
    return 0;
}
