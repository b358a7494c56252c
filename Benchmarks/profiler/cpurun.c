/*
 * cpurun.c - the CPU time of a command and everything it waited for
 * (Scripts/bench/profiler.sh), at microsecond resolution (/usr/bin/time's %U
 * and %S have 10 ms).
 *
 * Runs the command as a child, waits for it with wait4(), and writes one
 * line to <file>:
 *   CPURUN wall=<s> user=<s> sys=<s> cpu=<user+sys s> status=<exit status>
 * The child's rusage includes its own waited-for children, so for
 * `unwind-profile record -- <program>` it is record's CPU plus the
 * program's.  Exit status: the command's (128 + signal if killed).
 * Usage: cpurun <file> <command> [args...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cpurun <file> <command> [args...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("cpurun: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("cpurun: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("cpurun: wait4");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("cpurun: output file");
        return 2;
    }
    double user = seconds(ru.ru_utime), sys = seconds(ru.ru_stime);
    fprintf(f, "CPURUN wall=%.6f user=%.6f sys=%.6f cpu=%.6f status=%d\n",
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, user, sys, user + sys, code);
    fclose(f);
    return code;
}
