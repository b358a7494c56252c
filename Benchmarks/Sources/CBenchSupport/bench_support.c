/* bench_support.c - see include/bench_support.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdatomic.h>
#include "deferred_unwind.h"
#include "deferred_unwind_variants.h"
#include "include/bench_support.h"

/* ---- the two libraries behind one table ---- */
struct lib_ops {
    int (*attach)(void);
    int (*detach)(void);
    int (*reg)(du_callback, void *, const char *, du_tracer **);
    int (*cancel)(du_tracer *);
    int (*destroy)(du_tracer *);
    int (*request)(du_tracer *, uint64_t *);
    int (*safe_point)(void);
};
static const struct lib_ops ops[2] = {
    {du_thread_attach, du_thread_detach, du_tracer_register, du_tracer_cancel,
     du_tracer_destroy, du_request, du_safe_point},
    {duv_thread_attach, duv_thread_detach, duv_tracer_register, duv_tracer_cancel,
     duv_tracer_destroy, duv_request, duv_safe_point},
};

static du_tracer *tracers[2][DU_MAX_TRACERS];
static int ntracers[2];

/* ---- callbacks ---- */
static _Thread_local uint64_t tl_callbacks;
static _Thread_local uint64_t tl_sink;
static _Thread_local uintptr_t tl_ring[1024];
static _Thread_local uint32_t tl_ring_pos;
static uint32_t work_spin;

static void cb_count(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    tl_callbacks++;
    tl_sink += cookie + trace->nr;
}

/* A plausible profiler callback: hash the stack, copy it into a per-thread
 * ring buffer with the cookie, then `work_spin` rounds of dependent work. */
static void cb_work(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    uint64_t h = cookie;
    uint32_t nr = trace->nr < 256 ? trace->nr : 256;
    for (uint32_t i = 0; i < nr; i++)
        h = (h ^ trace->ips[i]) * 0x100000001b3ull;
    uint32_t pos = tl_ring_pos;
    if (pos + nr + 1 > 1024)
        pos = 0;
    tl_ring[pos] = (uintptr_t)cookie;
    memcpy(&tl_ring[pos + 1], trace->ips, nr * sizeof(uintptr_t));
    tl_ring_pos = pos + nr + 1;
    for (uint32_t i = 0; i < work_spin; i++) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        __asm__ volatile("" : "+r"(h));
    }
    tl_sink += h;
    tl_callbacks++;
}

uint64_t bench_callbacks(void) { return tl_callbacks; }

int bench_init(const char *v) { return duv_select(v); }
const char *bench_duv_selected(void) { return duv_selected(); }

int bench_register(int lib, int k, int work, uint32_t spin)
{
    if (k < 1 || k > DU_MAX_TRACERS || ntracers[lib])
        return -EINVAL;
    work_spin = spin;
    for (int i = 0; i < k; i++) {
        int r = ops[lib].reg(work ? cb_work : cb_count, NULL, "bench", &tracers[lib][i]);
        if (r < 0) {
            ntracers[lib] = i;
            bench_unregister(lib);
            return r;
        }
    }
    ntracers[lib] = k;
    return 0;
}

void bench_unregister(int lib)
{
    for (int i = 0; i < ntracers[lib]; i++)
        ops[lib].destroy(tracers[lib][i]);
    ntracers[lib] = 0;
}

int bench_attach(int lib) { return ops[lib].attach(); }
int bench_detach(int lib) { return ops[lib].detach(); }

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- (1) first request vs lower bound (white-box part: wb.c) ---- */
du_tracer *bench_duv_tracer0(void) { return tracers[BENCH_DUV][0]; }

/* Shipped library, public API only: first request, then a safe point that
 * ends the context (one unwind).  For callgrind: du_request's inclusive
 * cost here is exactly the first-in-context request. */
uint64_t k_request_first_sp(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = tracers[BENCH_DU][0];
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)du_request(t, &c) + c;
        sum += (uint64_t)du_safe_point();
    }
    return sum;
}

static struct {
    _Atomic uint32_t cpu_half;
    _Atomic uint64_t word;
} __attribute__((aligned(64))) lb_state;

__attribute__((noinline)) uint64_t lb_kernel(uint64_t bit)
{
    uint32_t mine = (uint32_t)sched_getcpu() + 1u;
    uint32_t expected = 0;
    atomic_compare_exchange_strong_explicit(&lb_state.cpu_half, &expected, mine,
                                            memory_order_relaxed, memory_order_relaxed);
    uint64_t old = atomic_fetch_or_explicit(&lb_state.word, 1u | bit, memory_order_relaxed);
    return old + expected;
}

uint64_t k_lower_bound(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += lb_kernel((uint64_t)1 << 3);
        atomic_store_explicit(&lb_state.word, 0, memory_order_relaxed);
        atomic_store_explicit(&lb_state.cpu_half, 0, memory_order_relaxed);
    }
    return sum;
}

/* ---- (2), (4) ---- */
uint64_t k_request_repeat(uint64_t n)
{
    uint64_t sum = 0, c;
    du_tracer *t = tracers[BENCH_DU][0];
    du_request(t, &c);
    for (uint64_t i = 0; i < n; i++)
        sum += (uint64_t)du_request(t, &c) + c;
    du_safe_point();
    return sum;
}

uint64_t k_safepoint_idle(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += (uint64_t)du_safe_point();
    return sum;
}

/* ---- (5) ---- */
uint64_t k_safepoint_k(uint64_t n, int k)
{
    uint64_t sum = 0, c;
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            sum += (uint64_t)du_request(tracers[BENCH_DU][j], &c);
        sum += (uint64_t)du_safe_point();
    }
    return sum;
}

/* du_safe_point -> du_dispatch -> du_round -> du_unwind -> backtrace: four
 * frames between the caller and backtrace().  The baseline has four too, and
 * asks for the same number of frames as du_unwind (64 + capacity + 1). */
enum { BT_WANT = 64 + (4096 - 8) / 8 + 1 };
__attribute__((noinline)) static int bt4(void)
{
    void *scratch[BT_WANT];
    int n = backtrace(scratch, BT_WANT);
    __asm__ volatile("" ::"r"(scratch) : "memory");
    return n;
}
__attribute__((noinline)) static int bt3(void) { int r = bt4(); __asm__ volatile(""); return r; }
__attribute__((noinline)) static int bt2(void) { int r = bt3(); __asm__ volatile(""); return r; }
__attribute__((noinline)) static int bt1(void) { int r = bt2(); __asm__ volatile(""); return r; }

uint64_t k_backtrace_k(uint64_t n, int k)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            sum += (uint64_t)bt1();
    return sum;
}

/* ---- (3) signals ---- */
static void h_empty(int sig) { (void)sig; }
static void h_request(int sig)
{
    uint64_t c;
    (void)sig;
    du_request(tracers[BENCH_DU][0], &c);
}
static void h_request_duv(int sig)
{
    uint64_t c;
    (void)sig;
    duv_request(tracers[BENCH_DUV][0], &c);
}

int bench_signal_install(int mode)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mode == 1 ? h_request : mode == 2 ? h_request_duv : h_empty;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGUSR1, &sa, NULL) == 0 ? 0 : -errno;
}

uint64_t k_raise(uint64_t n, int reset)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += (uint64_t)raise(SIGUSR1);
        if (reset)
            bench_wb_reset();
    }
    return sum;
}

/* ---- (6) dispatch throughput ---- */
static struct {
    int lib, threads;
    uint64_t per_thread;
    pthread_t tid[64];
    pthread_barrier_t ready, go, done, leave;
    _Atomic uint64_t callbacks;
    _Atomic int errors;
} mt;

static void *mt_worker(void *p)
{
    (void)p;
    const struct lib_ops *o = &ops[mt.lib];
    int k = ntracers[mt.lib];
    uint64_t c;
    if (o->attach() < 0)
        atomic_fetch_add(&mt.errors, 1);
    /* warm-up: first unwind allocates the trace cache */
    for (int j = 0; j < k; j++)
        o->request(tracers[mt.lib][j], &c);
    o->safe_point();
    uint64_t before = tl_callbacks;
    pthread_barrier_wait(&mt.ready);
    pthread_barrier_wait(&mt.go);
    for (uint64_t i = 0; i < mt.per_thread; i++) {
        for (int j = 0; j < k; j++)
            o->request(tracers[mt.lib][j], &c);
        o->safe_point();
    }
    atomic_fetch_add(&mt.callbacks, tl_callbacks - before);
    pthread_barrier_wait(&mt.done);
    pthread_barrier_wait(&mt.leave);
    o->detach();
    return NULL;
}

int mt_prepare(int lib, int threads, uint64_t per_thread)
{
    if (threads < 1 || threads > 64 || ntracers[lib] == 0)
        return -EINVAL;
    mt.lib = lib;
    mt.threads = threads;
    mt.per_thread = per_thread;
    atomic_store(&mt.callbacks, 0);
    atomic_store(&mt.errors, 0);
    pthread_barrier_init(&mt.ready, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&mt.go, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&mt.done, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&mt.leave, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&mt.tid[i], NULL, mt_worker, NULL) != 0)
            abort();
    pthread_barrier_wait(&mt.ready);
    return atomic_load(&mt.errors) ? -EIO : 0;
}

uint64_t mt_run(void)
{
    pthread_barrier_wait(&mt.go);
    pthread_barrier_wait(&mt.done);
    return atomic_load(&mt.callbacks);
}

void mt_finish(void)
{
    pthread_barrier_wait(&mt.leave);
    for (int i = 0; i < mt.threads; i++)
        pthread_join(mt.tid[i], NULL);
    pthread_barrier_destroy(&mt.ready);
    pthread_barrier_destroy(&mt.go);
    pthread_barrier_destroy(&mt.done);
    pthread_barrier_destroy(&mt.leave);
}

/* ---- (7) cancel latency ---- */
static struct {
    int lib, threads;
    pthread_t tid[128];
    pthread_barrier_t up;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
} idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *idle_worker(void *p)
{
    (void)p;
    ops[idle.lib].attach();
    pthread_barrier_wait(&idle.up);
    pthread_mutex_lock(&idle.lock);
    while (!idle.stop)
        pthread_cond_wait(&idle.cond, &idle.lock);
    pthread_mutex_unlock(&idle.lock);
    ops[idle.lib].detach();
    return NULL;
}

int idle_start(int lib, int threads)
{
    if (threads < 1 || threads > 128)
        return -EINVAL;
    idle.lib = lib;
    idle.threads = threads;
    idle.stop = 0;
    pthread_barrier_init(&idle.up, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&idle.tid[i], NULL, idle_worker, NULL) != 0)
            abort();
    pthread_barrier_wait(&idle.up);
    return 0;
}

void idle_stop(void)
{
    pthread_mutex_lock(&idle.lock);
    idle.stop = 1;
    pthread_cond_broadcast(&idle.cond);
    pthread_mutex_unlock(&idle.lock);
    for (int i = 0; i < idle.threads; i++)
        pthread_join(idle.tid[i], NULL);
    pthread_barrier_destroy(&idle.up);
}

int64_t bench_cancel_once(int lib)
{
    du_tracer *t;
    int r = ops[lib].reg(cb_count, NULL, "cancel", &t);
    if (r < 0)
        return r;
    uint64_t t0 = bench_now_ns();
    r = ops[lib].cancel(t);
    uint64_t t1 = bench_now_ns();
    ops[lib].destroy(t); /* already cancelled: only frees */
    return r < 0 ? r : (int64_t)(t1 - t0);
}

static du_tracer *cancel_t;
int bench_cancel_register(int lib) { return ops[lib].reg(cb_count, NULL, "cancel", &cancel_t); }
int bench_cancel_run(int lib) { return ops[lib].cancel(cancel_t); }
void bench_cancel_free(int lib) { ops[lib].destroy(cancel_t); cancel_t = NULL; }

/* ---- (8) ---- */
uint32_t bench_thread_footprint(void) { return du_thread_footprint(); }
uint32_t bench_trace_cache_bytes(void) { return du_trace_cache_bytes(); }
uint32_t bench_trace_capacity(void) { return du_trace_capacity(); }
