/*
 * agent_stopped.c - a process stopped (SIGSTOP) while one thread computes
 * and the main thread sleeps in an interposed call.  While stopped, each
 * thread's timer counts overruns of its one pending tick; at SIGCONT each
 * thread takes one signal for all of them.  A child sends SIGSTOP at
 * 0.4 s and SIGCONT 0.8 s later.  Prints
 *   STOPPED sleeper=<tid> sleep=<s> spinner=<tid> spin=<s> child=<status>
 * with the wall time of the main thread's nanosleep and of the spinner's
 * loop (CLOCK_MONOTONIC around each), then "done".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double spin_seconds;
static pid_t spinner_tid;

static void *spinner(void *arg)
{
    spinner_tid = gettid();
    double start = now();
    volatile unsigned long x = 0;
    while (now() - start < 2.0)
        for (int i = 0; i < 1000; i++)
            x += (unsigned long)i;
    spin_seconds = now() - start;
    return arg;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, spinner, NULL) != 0)
        return 1;
    pid_t parent = getpid();
    double start = now();
    pid_t child = fork();
    if (child == 0) {
        struct timespec a = {0, 400000000}, b = {0, 800000000};
        nanosleep(&a, NULL);
        kill(parent, SIGSTOP);
        nanosleep(&b, NULL);
        kill(parent, SIGCONT);
        _exit(0);
    }
    if (child < 0)
        return 1;
    struct timespec nap = {2, 0};
    while (nanosleep(&nap, &nap) != 0)
        ;
    double sleep_seconds = now() - start;
    int status = -1;
    waitpid(child, &status, 0);
    pthread_join(t, NULL);
    printf("STOPPED sleeper=%d sleep=%.4f spinner=%d spin=%.4f child=%d\n", gettid(), sleep_seconds, spinner_tid,
           spin_seconds, status);
    printf("done\n");
    return 0;
}
