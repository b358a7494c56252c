/*
 * agent_idle.c - many idle threads and one busy one: the cost of sampling
 * threads that stay blocked (Docs/Agent.md, "Parked threads").
 *
 *   agent_idle [seconds (3)] [idle threads (200)]
 *
 * The idle threads block for the whole run, a third each in
 * pthread_cond_wait, in read() on a pipe and in nanosleep(seconds), from
 * their first instruction (no start barrier: a wait outside the calls the
 * agent interposes would be sampled at every tick); one thread spins for
 * `seconds`.  After `seconds` the main thread wakes the waiters
 * (broadcast, one byte per reader) and joins everyone.  Each thread
 * measures its own blocking (or spinning) call with CLOCK_MONOTONIC.
 * Prints one line per thread
 *   IDLE tid=<tid> kind=<cond|read|sleep> blocked=<s>
 *   BUSY tid=<tid> spin=<s>
 * then
 *   CPU seconds=<user+sys of the whole process, getrusage> wall=<s>
 *   done
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { COND, READ, SLEEP };
static const char *const kinds[] = {"cond", "read", "sleep"};

struct idle {
    pthread_t thread;
    pid_t tid;
    int kind;
    double blocked;
};

static double seconds = 3.0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int wake;
static int pipefd[2];

static void *idle_main(void *arg)
{
    struct idle *t = arg;
    t->tid = gettid();
    double start = now();
    if (t->kind == COND) {
        pthread_mutex_lock(&lock);
        while (!wake)
            pthread_cond_wait(&cond, &lock);
        t->blocked = now() - start;
        pthread_mutex_unlock(&lock);
    } else if (t->kind == READ) {
        char c;
        while (read(pipefd[0], &c, 1) != 1) {
        }
        t->blocked = now() - start;
    } else {
        struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&nap, &nap) != 0) {
        }
        t->blocked = now() - start;
    }
    return NULL;
}

static pid_t busy_tid;
static double busy_spin;

static void *busy_main(void *arg)
{
    busy_tid = gettid();
    double start = now();
    volatile unsigned long x = 0;
    while (now() - start < seconds)
        for (int i = 0; i < 1000; i++)
            x += (unsigned long)i;
    busy_spin = now() - start;
    return arg;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 200;
    if (seconds <= 0 || n < 3 || pipe(pipefd) != 0)
        return 2;
    struct idle *threads = calloc((size_t)n, sizeof *threads);
    if (!threads)
        return 1;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        threads[i].kind = i % 3;
        if (pthread_create(&threads[i].thread, NULL, idle_main, &threads[i]) != 0)
            return 1;
    }
    pthread_t busy;
    if (pthread_create(&busy, NULL, busy_main, NULL) != 0)
        return 1;
    struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&nap, &nap) != 0) {
    }
    pthread_mutex_lock(&lock);
    wake = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        if (threads[i].kind == READ && write(pipefd[1], "x", 1) != 1)
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(threads[i].thread, NULL);
    pthread_join(busy, NULL);
    for (int i = 0; i < n; i++)
        printf("IDLE tid=%d kind=%s blocked=%.6f\n", (int)threads[i].tid, kinds[threads[i].kind],
               threads[i].blocked);
    printf("BUSY tid=%d spin=%.6f\n", (int)busy_tid, busy_spin);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    printf("CPU seconds=%.6f wall=%.6f\n", cpu, now() - t0);
    printf("done\n");
    free(threads);
    return 0;
}
