/*
 * agent_cpu_split.c - programs whose CPU time the on-/off-CPU split must
 * match (AgentCPUSplitTests).  argv[1]:
 *   cpu    one thread computes for ~1.5 s of wall time;
 *   io     the main thread writes 64 KiB blocks through stdio (fwrite: libc
 *          writes inside, no interposed call) into a pipe that a reader
 *          thread drains slowly (a 4 KiB read, then a 2 ms sleep): the
 *          writer sleeps in libc's own write most of the time;
 *   mixed  a thread computing half the time (2 ms of work, 2 ms of sleep),
 *          a thread copying 64 KiB blocks through a pipe with write/read
 *          (kernel time inside interposed calls) to a draining thread, and
 *          the main thread waiting for them.
 * At the end it prints one line:
 *   CPU_SPLIT cpu_us=<getrusage user+sys> wall_us=<sum of the threads' lives>
 * Each thread measures its own life from its start to its end (the main
 * thread from main() to the line), so cpu_us / wall_us is the share of
 * the threads' time spent on a CPU.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long wall_us;
static int fds[2];
static _Atomic int stop;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lived(long long start)
{
    atomic_fetch_add(&wall_us, now_us() - start);
}

static double spin_us(long long us)
{
    volatile double x = 0;
    long long end = now_us() + us;
    while (now_us() < end)
        for (int i = 0; i < 1000; i++)
            x += (double)i * 0.5;
    return x;
}

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

static void *slow_reader(void *arg)
{
    long long t0 = now_us();
    static char buf[4096];
    while (read(fds[0], buf, sizeof buf) > 0)
        nap_us(2000);
    lived(t0);
    return arg;
}

static void *fast_reader(void *arg)
{
    long long t0 = now_us();
    static char buf[65536];
    while (read(fds[0], buf, sizeof buf) > 0)
        ;
    lived(t0);
    return arg;
}

static void *half_busy(void *arg)
{
    long long t0 = now_us();
    while (!atomic_load(&stop)) {
        spin_us(2000);
        nap_us(2000);
    }
    lived(t0);
    return arg;
}

static void *copier(void *arg)
{
    long long t0 = now_us();
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    while (!atomic_load(&stop))
        if (write(fds[1], buf, sizeof buf) < 0)
            break;
    close(fds[1]);
    lived(t0);
    return arg;
}

int main(int argc, char **argv)
{
    long long t0 = now_us();
    const char *mode = argc > 1 ? argv[1] : "cpu";
    if (pipe(fds) != 0)
        return 1;
    if (strcmp(mode, "cpu") == 0) {
        spin_us(1500000);
    } else if (strcmp(mode, "io") == 0) {
        pthread_t r;
        pthread_create(&r, NULL, slow_reader, NULL);
        FILE *f = fdopen(fds[1], "w");
        static char block[65536];
        memset(block, 'y', sizeof block);
        long long end = now_us() + 1500000;
        while (now_us() < end)
            if (fwrite(block, 1, sizeof block, f) != sizeof block)
                return 1;
        fclose(f);
        pthread_join(r, NULL);
    } else if (strcmp(mode, "mixed") == 0) {
        pthread_t h, c, r;
        pthread_create(&h, NULL, half_busy, NULL);
        pthread_create(&r, NULL, fast_reader, NULL);
        pthread_create(&c, NULL, copier, NULL);
        nap_us(1500000);
        atomic_store(&stop, 1);
        pthread_join(h, NULL);
        pthread_join(c, NULL);
        pthread_join(r, NULL);
    } else {
        fprintf(stderr, "usage: agent_cpu_split cpu|io|mixed\n");
        return 2;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long cpu = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                    (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    lived(t0);
    printf("CPU_SPLIT cpu_us=%lld wall_us=%lld\n", cpu, atomic_load(&wall_us));
    return 0;
}
