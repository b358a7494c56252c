/*
 * agent_procs.c - processes under the agent (AgentProcessTests).
 *
 *   agent_procs workers N   a forking server: the master starts a helper
 *                           thread (blocked in nanosleep: a thread that does
 *                           not exist in the children), forks N workers and
 *                           feeds them one byte per round through a pipe;
 *                           each worker alternates CPU work (worker_spin) and
 *                           a blocking read (worker_wait: the master writes
 *                           30 ms after the worker said it is ready, so
 *                           every round blocks, whatever the load) for 8
 *                           rounds and
 *                           exits (the last one with _exit).  Prints each
 *                           worker's pid and checksum, then "master done".
 *   agent_procs shell       fork + exec of /bin/sh -c 'a pipeline', waits.
 *   agent_procs exec        exec in place of /bin/sh -c 'a pipeline'.
 *   agent_procs spawn       posix_spawnp of sh -c 'a pipeline', waits.
 * Output is the same with and without the agent (pids go to stderr).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 8
#define MAX_WORKERS 8

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

__attribute__((noinline)) static uint64_t worker_spin(uint64_t seed)
{
    uint64_t x = seed;
    for (long i = 0; i < 12000000; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

__attribute__((noinline)) static int worker_wait(int fd)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0)
        ;
    return n == 1 ? c : -1;
}

static void worker(int index, int fd, int ready, int last)
{
    uint64_t sum = (uint64_t)index;
    for (int r = 0; r < ROUNDS; r++) {
        sum = worker_spin(sum);
        if (write(ready, "r", 1) != 1 || worker_wait(fd) < 0)
            _exit(2);
    }
    printf("worker %d checksum %016llx\n", index, (unsigned long long)sum);
    fflush(stdout);
    if (last)
        _exit(0);
    exit(0);
}

static volatile int helper_stop;

static void *helper(void *arg)
{
    while (!helper_stop)
        nap_ms(20);
    return arg;
}

static int workers(int n)
{
    if (n < 1 || n > MAX_WORKERS)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, helper, NULL);
    int fds[MAX_WORKERS][2], back[MAX_WORKERS][2];
    pid_t pids[MAX_WORKERS];
    for (int i = 0; i < n; i++) {
        if (pipe(fds[i]) != 0 || pipe(back[i]) != 0)
            return 2;
        fflush(stdout);
        pids[i] = fork();
        if (pids[i] < 0)
            return 2;
        if (pids[i] == 0) {
            close(fds[i][1]);
            close(back[i][0]);
            worker(i, fds[i][0], back[i][1], i == n - 1);
        }
        close(fds[i][0]);
        close(back[i][1]);
        fprintf(stderr, "worker %d pid %d\n", i, (int)pids[i]);
    }
    for (int r = 0; r < ROUNDS; r++) {
        char c;
        for (int i = 0; i < n; i++)
            if (read(back[i][0], &c, 1) != 1)
                return 2;
        nap_ms(30);
        for (int i = 0; i < n; i++)
            if (write(fds[i][1], "x", 1) != 1)
                return 2;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad++;
    }
    helper_stop = 1;
    pthread_join(t, NULL);
    printf("master done, %d failed\n", bad);
    return bad ? 1 : 0;
}

static const char pipeline[] = "seq 1 200000 | sort -n | tail -1; sleep 0.2; echo end";

int main(int argc, char **argv)
{
    fprintf(stderr, "master pid %d\n", (int)getpid());
    if (argc == 3 && strcmp(argv[1], "workers") == 0)
        return workers(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "shell") == 0) {
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/sh", "sh", "-c", pipeline, (char *)NULL);
            _exit(127);
        }
        int status;
        if (p < 0 || waitpid(p, &status, 0) != p)
            return 2;
        printf("shell status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "spawn") == 0) {
        extern char **environ;
        char *args[] = {"sh", "-c", (char *)pipeline, NULL};
        pid_t p;
        fflush(stdout);
        if (posix_spawnp(&p, "sh", NULL, NULL, args, environ) != 0)
            return 2;
        fprintf(stderr, "spawned pid %d\n", (int)p);
        int status;
        if (waitpid(p, &status, 0) != p)
            return 2;
        printf("spawn status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "exec") == 0) {
        execl("/bin/sh", "sh", "-c", pipeline, (char *)NULL);
        return 127;
    }
    fprintf(stderr, "usage: agent_procs workers N | shell | exec | spawn\n");
    return 2;
}
