/*
 * agent_fork.c - fork() without exec, and fork + exec, in a profiled
 * program.  While a parent thread keeps sleeping (so it is sampled across
 * the forks), the main thread forks a child that sleeps, contends a mutex,
 * creates and joins a thread and exits with exit(0) (atexit handlers run);
 * a second thread forks another such child; then a child execs this
 * program again ("exec-child").  Prints the parent's tids ("parent tid=N")
 * and each child's ("child tid=N"), the children's exit statuses, "done".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *child_thread(void *arg)
{
    pthread_mutex_lock(&lock);
    nap(20);
    pthread_mutex_unlock(&lock);
    return arg;
}

static void child_body(void)
{
    printf("child tid=%d\n", gettid());
    fflush(stdout);
    for (int i = 0; i < 5; i++)
        nap(20);
    pthread_t t;
    pthread_create(&t, NULL, child_thread, NULL);
    nap(5);
    pthread_mutex_lock(&lock); /* contended: the thread holds it */
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    exit(getenv("UNWIND_PROFILE_OUTPUT") ? 3 : 0);
}

static int fork_and_wait(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        child_body();
    int status = -1;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static volatile int stop;
static void *sleeper(void *arg)
{
    (void)arg;
    printf("parent tid=%d\n", gettid());
    fflush(stdout);
    while (!stop)
        nap(10);
    return NULL;
}

static void *forker(void *arg)
{
    *(int *)arg = fork_and_wait();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exec-child")) {
        printf("child tid=%d\n", gettid());
        nap(50);
        return getenv("UNWIND_PROFILE_OUTPUT") ? 3 : 0;
    }
    printf("parent tid=%d\n", gettid());
    pthread_t s, f;
    pthread_create(&s, NULL, sleeper, NULL);
    nap(50);
    int from_main = fork_and_wait();
    int from_thread = -1;
    pthread_create(&f, NULL, forker, &from_thread);
    pthread_join(f, NULL);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    int exec_child = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    nap(50);
    stop = 1;
    pthread_join(s, NULL);
    printf("children %d %d %d\n", from_main, from_thread, exec_child);
    printf("done\n");
    return from_main || from_thread || exec_child;
}
