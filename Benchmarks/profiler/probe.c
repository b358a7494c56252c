/*
 * probe.c - what sampling costs the sampled threads (Benchmarks/profiler.sh).
 *
 * One busy probe thread counts loop iterations while N other threads block
 * in read() on a pipe that stays empty until the end, for S seconds.  Run
 * unprofiled and under unwind-profile; the probe's lost iterations, turned
 * into seconds, divided by its samples, is how long a running thread is held
 * per sample.  A blocked thread uses CPU only because it is sampled (each
 * signal wakes it, the agent records, the kernel restarts the read), so the
 * blocked threads' CPU time divided by their samples is the time per sample
 * of a blocked thread; with deferred unwinding it includes one unwind per
 * thread at the end, with a per-sample unwinder one unwind per sample.
 *
 * Prints one grep-able line:
 *   PROBE threads=<N> seconds=<S> probe_rate=<iterations/s> blocked_cpu_us=<sum>
 * Usage: probe <N blocked threads> <seconds>
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int gate[2];
static atomic_int stop;
static atomic_ulong blocked_cpu_ns;
static volatile unsigned long sink;

static double mono(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) char block_in_read(void)
{
    char c = 0;
    if (read(gate[0], &c, 1) != 1)
        abort();
    __asm__ volatile("" ::: "memory");
    return c;
}

static void *blocked(void *arg)
{
    (void)arg;
    block_in_read();
    atomic_fetch_add(&blocked_cpu_ns, (unsigned long)(mono(CLOCK_THREAD_CPUTIME_ID) * 1e9));
    return NULL;
}

static unsigned long iterations;
static double busy_seconds;

static void *probe(void *arg)
{
    (void)arg;
    unsigned long x = 88172645463325252ul, n = 0;
    double t0 = mono(CLOCK_MONOTONIC);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 200; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        n++;
    }
    busy_seconds = mono(CLOCK_MONOTONIC) - t0;
    sink = x;
    iterations = n;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: probe <blocked threads> <seconds>\n");
        return 2;
    }
    int n = atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (n < 0 || n > 1000 || seconds <= 0 || pipe(gate) != 0)
        return 2;
    pthread_t *t = calloc((size_t)n + 1, sizeof *t);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, blocked, NULL);
    pthread_create(&t[n], NULL, probe, NULL);
    struct timespec d = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    while (nanosleep(&d, &d) != 0)
        ;
    atomic_store(&stop, 1);
    pthread_join(t[n], NULL);
    char wake[1000] = {0};
    if (n > 0 && write(gate[1], wake, (size_t)n) != n)
        return 2;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("PROBE threads=%d seconds=%.3f probe_rate=%.0f blocked_cpu_us=%.0f\n", n, busy_seconds,
           iterations / busy_seconds, atomic_load(&blocked_cpu_ns) / 1e3);
    free(t);
    return 0;
}
