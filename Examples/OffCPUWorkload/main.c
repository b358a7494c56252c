/*
 * offcpu-workload: threads that wait in known call paths for known times,
 * for `unwind-profile` (Docs/Profiler.md).  Each path is one named,
 * never-inlined function that makes one blocking libc call:
 *
 *   thread      path (function -> call)                 time per 40 ms cycle
 *   main        wait_run_time -> nanosleep              the run time, then
 *               wait_for_workers -> pthread_join        up to one cycle
 *   feeder      pace_feeder -> nanosleep                40 ms, then write() + cond signal
 *   reader      read_pipe_message -> read               until the feeder writes
 *   waiter      wait_for_signal -> pthread_cond_wait    until the feeder signals
 *   holder      sleep_holding_lock -> usleep            30 ms with the mutex held
 *               sleep_without_lock -> usleep            10 ms without it
 *   contender   take_contended_lock -> pthread_mutex_lock  while the holder holds it
 *               contender_pause -> poll                 5 ms after each acquisition
 *   spinner     crunch_numbers (on-CPU, no call)        all of it
 *
 * It measures each path's time itself (CLOCK_MONOTONIC around the call) and
 * prints one line per path, so a test can compare a profile's shares with
 * what really happened, on a loaded machine too:
 *   WORKLOAD path=<function> thread=<name> seconds=<s>
 *   WORKLOAD total threads=<n> wall=<s> spin_rate=<iterations per second>
 * Usage: offcpu-workload [seconds, default 4]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory") /* no tail call */

static double run_seconds = 4.0;
static atomic_int stop;
static int feed_pipe[2];
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned long cond_generation;
static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong spin_iterations;
static volatile unsigned long spin_sink;

enum { P_RUN, P_JOIN, P_SLEEP, P_READ, P_COND, P_HOLD, P_FREE, P_LOCK, P_PAUSE, P_SPIN, P_COUNT };
static const char *path_name[P_COUNT] = {
    "wait_run_time", "wait_for_workers", "pace_feeder", "read_pipe_message", "wait_for_signal",
    "sleep_holding_lock", "sleep_without_lock", "take_contended_lock", "contender_pause",
    "crunch_numbers",
};
static const char *path_thread[P_COUNT] = {
    "main", "main", "feeder", "reader", "waiter", "holder", "holder", "contender", "contender", "spinner",
};
static double path_seconds[P_COUNT]; /* each written by one thread, read after join */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static NOINLINE void pace_feeder(void)
{
    struct timespec d = {0, 40 * 1000 * 1000};
    double t = now();
    nanosleep(&d, NULL);
    path_seconds[P_SLEEP] += now() - t;
    KEEP_FRAME();
}

static void *feeder(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "feeder");
    while (!atomic_load(&stop)) {
        pace_feeder();
        char c = 'x';
        if (write(feed_pipe[1], &c, 1) != 1)
            abort();
        pthread_mutex_lock(&cond_lock);
        cond_generation++;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&cond_lock);
    }
    char end = 'q';
    if (write(feed_pipe[1], &end, 1) != 1)
        abort();
    pthread_mutex_lock(&cond_lock);
    cond_generation = ~0ul;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&cond_lock);
    return NULL;
}

static NOINLINE char read_pipe_message(void)
{
    char c = 0;
    double t = now();
    if (read(feed_pipe[0], &c, 1) != 1)
        abort();
    path_seconds[P_READ] += now() - t;
    KEEP_FRAME();
    return c;
}

static void *reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "reader");
    while (read_pipe_message() != 'q')
        ;
    return NULL;
}

static NOINLINE void wait_for_signal(unsigned long seen)
{
    double t = now();
    while (cond_generation == seen)
        pthread_cond_wait(&cond, &cond_lock);
    path_seconds[P_COND] += now() - t;
    KEEP_FRAME();
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "waiter");
    pthread_mutex_lock(&cond_lock);
    while (cond_generation != ~0ul)
        wait_for_signal(cond_generation);
    pthread_mutex_unlock(&cond_lock);
    return NULL;
}

static NOINLINE void sleep_holding_lock(void)
{
    double t = now();
    usleep(30 * 1000);
    path_seconds[P_HOLD] += now() - t;
    KEEP_FRAME();
}

static NOINLINE void sleep_without_lock(void)
{
    double t = now();
    usleep(10 * 1000);
    path_seconds[P_FREE] += now() - t;
    KEEP_FRAME();
}

static void *holder(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "holder");
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&contended);
        sleep_holding_lock();
        pthread_mutex_unlock(&contended);
        sleep_without_lock();
    }
    return NULL;
}

static NOINLINE void take_contended_lock(void)
{
    double t = now();
    pthread_mutex_lock(&contended);
    path_seconds[P_LOCK] += now() - t;
    KEEP_FRAME();
}

static NOINLINE void contender_pause(void)
{
    double t = now();
    poll(NULL, 0, 5);
    path_seconds[P_PAUSE] += now() - t;
    KEEP_FRAME();
}

static void *contender(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "contender");
    while (!atomic_load(&stop)) {
        take_contended_lock();
        pthread_mutex_unlock(&contended);
        contender_pause();
    }
    return NULL;
}

static NOINLINE void crunch_numbers(void)
{
    double t = now();
    unsigned long x = 88172645463325252ul, n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++) { /* xorshift: pure CPU */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        n++;
    }
    spin_sink = x;
    atomic_store(&spin_iterations, n);
    path_seconds[P_SPIN] += now() - t;
    KEEP_FRAME();
}

static void *spinner(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "spinner");
    crunch_numbers();
    return NULL;
}

static NOINLINE void wait_for_workers(pthread_t *threads, int n)
{
    double t = now();
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    path_seconds[P_JOIN] += now() - t;
    KEEP_FRAME();
}

static NOINLINE void wait_run_time(void)
{
    double t = now();
    struct timespec d = {(time_t)run_seconds, (long)((run_seconds - (time_t)run_seconds) * 1e9)};
    while (nanosleep(&d, &d) != 0)
        ;
    path_seconds[P_RUN] += now() - t;
    KEEP_FRAME();
}

int main(int argc, char **argv)
{
    if (argc > 1 && (run_seconds = atof(argv[1])) <= 0) {
        fprintf(stderr, "usage: offcpu-workload [seconds > 0]\n");
        return 2;
    }
    if (pipe(feed_pipe) != 0)
        return 2;
    void *(*bodies[])(void *) = {feeder, reader, waiter, holder, contender, spinner};
    enum { N = sizeof bodies / sizeof bodies[0] };
    pthread_t threads[N];
    double t0 = now();
    for (int i = 0; i < N; i++)
        if (pthread_create(&threads[i], NULL, bodies[i], NULL) != 0)
            return 2;
    wait_run_time();
    atomic_store(&stop, 1);
    wait_for_workers(threads, N);
    double wall = now() - t0;
    for (int p = 0; p < P_COUNT; p++)
        printf("WORKLOAD path=%s thread=%s seconds=%.4f\n", path_name[p], path_thread[p], path_seconds[p]);
    printf("WORKLOAD total threads=%d wall=%.4f spin_rate=%.0f\n", N + 1, wall,
           (double)atomic_load(&spin_iterations) / path_seconds[P_SPIN]);
    return 0;
}
