/*
 * agent_mix.c - a little of everything for the record-file checks: the
 * main thread computes and sleeps and feeds a pipe; a reader thread blocks
 * in read(); a waiter thread blocks in pthread_cond_wait.  Prints "done".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int pipe_fd[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ticks;

static void *reader(void *arg)
{
    char c;
    while (read(pipe_fd[0], &c, 1) == 1 && c != 'q')
        ;
    return arg;
}

static void *waiter(void *arg)
{
    pthread_mutex_lock(&m);
    while (ticks < 10)
        pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    return arg;
}

static double spin(long n)
{
    volatile double x = 0;
    for (long i = 0; i < n; i++)
        x += (double)i * 0.5;
    return x;
}

int main(void)
{
    if (pipe(pipe_fd) != 0)
        return 1;
    pthread_t r, w;
    pthread_create(&r, NULL, reader, NULL);
    pthread_create(&w, NULL, waiter, NULL);
    for (int i = 0; i < 10; i++) {
        spin(2000000);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        if (write(pipe_fd[1], "x", 1) != 1)
            return 1;
        pthread_mutex_lock(&m);
        ticks++;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&m);
    }
    if (write(pipe_fd[1], "q", 1) != 1)
        return 1;
    pthread_join(r, NULL);
    pthread_join(w, NULL);
    printf("done\n");
    return 0;
}
