/*
 * probe.c - what sampling costs the sampled threads (Scripts/bench/profiler.sh).
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
 * The threads are named (pthread_setname_np) "busy-probe" and "blocked", so
 * a folded report counts each one's samples by its first field.
 *
 * The probe's rate is given per second of wall time (the loss includes
 * being preempted by anything else that runs on its CPU) and per second of
 * its own CPU time (the loss is then what the thread itself spends: the
 * kernel's signal delivery and return, the handler, interrupts taken on its
 * CPU, cache effects).  A throughput difference between two runs is only as
 * good as the machine is steady from one run to the next, so the probe also
 * measures its interruptions directly: it reads CLOCK_MONOTONIC after each
 * iteration (~0.4 us of work), and an iteration that took more than GAP_NS
 * was interrupted; the gaps' time beyond the iteration's own work is summed
 * (gap_us).  Unprofiled, the gaps are the machine's own (timer ticks,
 * other interrupts, preemption); the difference is what profiling adds.
 *
 * Prints one grep-able line:
 *   PROBE threads=<N> seconds=<S> probe_rate=<iterations/s> probe_cpu_seconds=<s>
 *         probe_cpu_rate=<iterations per CPU second> gaps=<count> gap_us=<sum>
 *         max_gap_us=<longest> blocked_cpu_us=<sum> probe_ticks=<n> blocked_ticks=<n>
 * (ticks: bare timer signals received, 0 without them).
 * Usage: probe <N blocked threads> <seconds> [bare timer Hz]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Bare timer signals (the third argument): each thread gets its own
 * CLOCK_MONOTONIC timer sending SIGPROF to it at that rate, to an empty
 * handler (SA_RESTART), as the agent's timers do, with no profiler: what
 * the kernel and the machine charge for a timer signal by themselves. */
static long bare_hz;
static _Thread_local volatile unsigned long ticks; /* this thread's bare signals */
static atomic_ulong blocked_ticks, probe_ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks = ticks + 1;
}

static timer_t bare_timer_start(void)
{
    timer_t id = 0;
    if (!bare_hz)
        return id;
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGPROF;
    ev._sigev_un._tid = gettid();
    long ns = 1000000000L / bare_hz;
    struct itimerspec its = {{ns / 1000000000L, ns % 1000000000L}, {ns / 1000000000L, ns % 1000000000L}};
    if (timer_create(CLOCK_MONOTONIC, &ev, &id) != 0 || timer_settime(id, 0, &its, NULL) != 0)
        abort();
    return id;
}

static void bare_timer_stop(timer_t id)
{
    if (bare_hz && timer_delete(id) != 0)
        abort();
}

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
    pthread_setname_np(pthread_self(), "blocked");
    timer_t timer = bare_timer_start();
    block_in_read();
    bare_timer_stop(timer);
    atomic_fetch_add(&blocked_cpu_ns, (unsigned long)(mono(CLOCK_THREAD_CPUTIME_ID) * 1e9));
    atomic_fetch_add(&blocked_ticks, ticks);
    return NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An iteration takes about 0.4 us here; one that took longer than this was
 * interrupted (an interrupt, a signal, a preemption). */
#define GAP_NS 1000u

static unsigned long iterations, gaps;
static double busy_seconds, busy_cpu_seconds, gap_seconds, max_gap_seconds;

static void *probe(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "busy-probe");
    timer_t timer = bare_timer_start();
    unsigned long x = 88172645463325252ul, n = 0, ngaps = 0;
    uint64_t gap_sum = 0, gap_max = 0;
    double t0 = mono(CLOCK_MONOTONIC), c0 = mono(CLOCK_THREAD_CPUTIME_ID);
    uint64_t prev = mono_ns();
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 200; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        n++;
        uint64_t now = mono_ns(), dt = now - prev;
        prev = now;
        if (dt > GAP_NS) {
            ngaps++;
            gap_sum += dt;
            gap_max = dt > gap_max ? dt : gap_max;
        }
    }
    busy_seconds = mono(CLOCK_MONOTONIC) - t0;
    busy_cpu_seconds = mono(CLOCK_THREAD_CPUTIME_ID) - c0;
    bare_timer_stop(timer);
    atomic_store(&probe_ticks, ticks);
    sink = x;
    iterations = n;
    gaps = ngaps;
    /* What the interruptions took beyond the work of their iterations. */
    double per_iteration = n ? busy_seconds / (double)n : 0;
    gap_seconds = (double)gap_sum / 1e9 - (double)ngaps * per_iteration;
    max_gap_seconds = (double)gap_max / 1e9;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: probe <blocked threads> <seconds> [bare timer Hz]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    double seconds = atof(argv[2]);
    bare_hz = argc == 4 ? atol(argv[3]) : 0;
    if (n < 0 || n > 1000 || seconds <= 0 || bare_hz < 0 || bare_hz > 10000 || pipe(gate) != 0)
        return 2;
    if (bare_hz) {
        struct sigaction sa = {0};
        sa.sa_handler = on_tick;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGPROF, &sa, NULL) != 0)
            return 2;
    }
    timer_t main_timer = bare_timer_start();
    pthread_t *t = calloc((size_t)n + 1, sizeof *t);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, blocked, NULL);
    pthread_create(&t[n], NULL, probe, NULL);
    /* An absolute deadline: a relative sleep resumed after each signal
     * would drift by the signal's cost every time. */
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)seconds;
    end.tv_nsec += (long)((seconds - (time_t)seconds) * 1e9);
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0)
        ;
    bare_timer_stop(main_timer);
    atomic_store(&stop, 1);
    pthread_join(t[n], NULL);
    char wake[1000] = {0};
    if (n > 0 && write(gate[1], wake, (size_t)n) != n)
        return 2;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("PROBE threads=%d seconds=%.3f probe_rate=%.0f probe_cpu_seconds=%.4f probe_cpu_rate=%.0f "
           "gaps=%lu gap_us=%.0f max_gap_us=%.1f blocked_cpu_us=%.0f probe_ticks=%lu blocked_ticks=%lu\n",
           n, busy_seconds, iterations / busy_seconds, busy_cpu_seconds, iterations / busy_cpu_seconds, gaps,
           gap_seconds * 1e6, max_gap_seconds * 1e6, atomic_load(&blocked_cpu_ns) / 1e3, atomic_load(&probe_ticks),
           atomic_load(&blocked_ticks));
    free(t);
    return 0;
}
