/*
 * agent_rename.c - threads renamed mid-run.
 *   agent_rename    thread 1 names itself "p-before" with prctl(PR_SET_NAME),
 *                   sleeps 300 ms, renames itself "p-after", sleeps 300 ms;
 *                   thread 2 does the same with pthread_setname_np
 *                   ("n-before", "n-after").  Prints each thread's
 *                   prctl(PR_GET_NAME) after each rename, then "done".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void show(void)
{
    char name[16] = {0};
    if (prctl(PR_GET_NAME, name) != 0)
        strcpy(name, "?");
    pthread_mutex_lock(&print_lock);
    printf("%s\n", name);
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
}

static void *with_prctl(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "p-before", 0, 0, 0);
    show();
    nap(300);
    prctl(PR_SET_NAME, "p-after", 0, 0, 0);
    show();
    nap(300);
    return NULL;
}

static void *with_pthread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "n-before");
    nap(300);
    pthread_setname_np(pthread_self(), "n-after");
    nap(300);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, with_prctl, NULL);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, with_pthread, NULL);
    pthread_join(b, NULL);
    printf("done\n");
    return 0;
}
