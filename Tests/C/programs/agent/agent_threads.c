/*
 * agent_threads.c - many threads under the profiler.
 *   agent_threads N       N threads (named "w<i>") start together, then
 *                         each sleeps, contends one mutex and waits on a
 *                         condition variable a few times, and exits; the
 *                         main thread joins them all.  Prints "done".
 *   agent_threads exit    8 threads sleep in a loop forever; the main
 *                         thread calls exit(0) 200 ms later.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, total;

static void *worker(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "w%d", (int)(long)arg);
    pthread_setname_np(pthread_self(), name);
    pthread_mutex_lock(&m);
    if (++started == total)
        pthread_cond_broadcast(&cv);
    while (started < total)
        pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 3; i++) {
        nap(5);
        pthread_mutex_lock(&m);
        nap(1); /* hold it: the others block in pthread_mutex_lock */
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void *forever(void *arg)
{
    (void)arg;
    for (;;)
        nap(5);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exit")) {
        pthread_t t;
        for (int i = 0; i < 8; i++)
            pthread_create(&t, NULL, forever, NULL);
        nap(200);
        printf("done\n");
        fflush(stdout);
        exit(0);
    }
    total = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t *ts = calloc((size_t)total, sizeof *ts);
    for (int i = 0; i < total; i++)
        if (pthread_create(&ts[i], NULL, worker, (void *)(long)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (int i = 0; i < total; i++)
        pthread_join(ts[i], NULL);
    free(ts);
    printf("done\n");
    return 0;
}
