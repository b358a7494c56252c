/*
 * agent_fork_locks.c - fork while other threads hold the agent's slot locks.
 * Two threads rename themselves in a loop (the agent copies each name under
 * its name lock) and two create and join short threads (slot claims) while
 * the main thread forks N children; each child creates a thread, renames
 * it, joins it and exits 0.  A child whose fork copied a held lock would
 * wait for it forever at its first attach or rename.  Each child is waited
 * for up to 10 s (then killed).  Prints "hung K of N" and exits 0 if none
 * hung, 1 otherwise.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static void *renamer(void *arg)
{
    char name[16];
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        snprintf(name, sizeof name, "ren-%u-%u", (unsigned)(uintptr_t)arg, i % 1000);
        pthread_setname_np(pthread_self(), name);
        prctl(PR_SET_NAME, name);
    }
    return NULL;
}

static void *nothing(void *arg) { return arg; }

static void *spawner(void *arg)
{
    while (!atomic_load(&stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, nothing, arg) == 0)
            pthread_join(t, NULL);
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    pthread_setname_np(pthread_self(), "child-worker");
    return arg;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200, hung = 0, bad = 0;
    pthread_t th[4];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, renamer, (void *)(uintptr_t)i);
        pthread_create(&th[2 + i], NULL, spawner, NULL);
    }
    for (int k = 0; k < n; k++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            pthread_t t;
            if (pthread_create(&t, NULL, child_thread, NULL) != 0)
                _exit(2);
            pthread_join(t, NULL);
            _exit(0);
        }
        if (pid < 0) {
            bad++;
            continue;
        }
        int status = 0, waited = 0;
        while (waitpid(pid, &status, WNOHANG) == 0) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            if (++waited == 1000) { /* 10 s */
                hung++;
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
        }
        if (waited < 1000 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            bad++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    printf("hung %d of %d, failed %d\n", hung, n, bad);
    return hung || bad;
}
