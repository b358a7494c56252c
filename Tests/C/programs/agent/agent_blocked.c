/* agent_blocked.c - threads that stay blocked for the whole run (a read on
 * a pipe nobody writes, a condition variable nobody signals, a long sleep)
 * while the main thread computes, then exits with them still blocked.
 * Their samples get stacks only from the agent's proxy (the writer thread
 * serving frozen regions; Docs/Agent.md).  Usage: agent_blocked SECONDS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) static void blocked_in_read(void)
{
    char c;
    (void)read(fds[0], &c, 1);
}
__attribute__((noinline)) static void blocked_in_cond(void)
{
    pthread_mutex_lock(&m);
    for (;;)
        pthread_cond_wait(&cv, &m);
}
__attribute__((noinline)) static void blocked_in_sleep(void) { sleep(3600); }

static void *reader(void *a) { (void)a; blocked_in_read(); return NULL; }
static void *waiter(void *a) { (void)a; blocked_in_cond(); return NULL; }
static void *sleeper(void *a) { (void)a; blocked_in_sleep(); return NULL; }

__attribute__((noinline)) static double compute(double seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += i * 1e-9;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    return x;
}

int main(int argc, char **argv)
{
    double s = argc > 1 ? atof(argv[1]) : 1.0;
    if (pipe(fds) != 0)
        return 1;
    pthread_t t[3];
    pthread_create(&t[0], NULL, reader, NULL);
    pthread_create(&t[1], NULL, waiter, NULL);
    pthread_create(&t[2], NULL, sleeper, NULL);
    printf("%.3f\n", compute(s) > 0 ? s : 0);
    return 0; /* the three threads are still blocked */
}
