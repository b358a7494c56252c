/*
 * agent_idle.c - many idle threads and one busy one: the cost of sampling
 * threads that stay blocked (Docs/Agent.md, "Parked threads").
 *
 *   agent_idle [seconds (3)] [idle threads (200)] [wake|exit|cancel|jump]
 *
 * The idle threads block for the whole run, a third each in
 * pthread_cond_wait, in read() on a pipe and in nanosleep(seconds), from
 * their first instruction (no start barrier: a wait outside the calls the
 * agent interposes would be sampled at every tick); one thread spins until
 * it has used `seconds` of CPU time (its wall time is longer on a loaded
 * machine).  Then the main thread wakes the waiters (broadcast, one byte
 * per reader) and joins everyone.  Each thread
 * measures its own blocking (or spinning) call with CLOCK_MONOTONIC.
 * Modes, for the races of parking (up_idle.c): exit: main calls exit()
 * with every idle thread still blocked (each one's `blocked` is then until
 * that exit; the sleepers sleep until it); cancel: the sleeping threads sleep until main cancels them
 * (blocked: until the cancel; main exits 0.3 s after); jump: main sends each reader SIGUSR1, whose
 * handler leaves read() with siglongjmp (blocked: until the handler), and
 * the reader then spins for 0.3 s (`spin`, wall).
 * Prints one line per thread
 *   IDLE tid=<tid> kind=<cond|read|sleep> blocked=<s> spin=<s>
 *   BUSY tid=<tid> spin=<wall s>
 * then
 *   CPU seconds=<user+sys of the whole process, getrusage> wall=<s>
 *   done
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { COND, READ, SLEEP };
static const char *const kinds[] = {"cond", "read", "sleep"};

struct idle {
    pthread_t thread;
    pid_t tid;
    int kind;
    double start, blocked, spin;
    sigjmp_buf jump;
};

enum { M_WAKE, M_EXIT, M_CANCEL, M_JUMP };
static int mode = M_WAKE;
static _Thread_local struct idle *self;

/* jump: SIGUSR1 leaves the reader's read() with siglongjmp. */
static void on_usr1(int sig)
{
    (void)sig;
    self->blocked = now() - self->start;
    siglongjmp(self->jump, 1);
}

static double seconds = 3.0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int wake;
static int pipefd[2];

static void *idle_main(void *arg)
{
    struct idle *t = arg;
    self = t;
    t->tid = gettid();
    double start = t->start = now();
    if (mode == M_JUMP && t->kind == READ && sigsetjmp(t->jump, 1) != 0) {
        double from = now(); /* out of the call: on CPU for 0.3 s */
        volatile unsigned long x = 0;
        while (now() - from < 0.3)
            for (int i = 0; i < 1000; i++)
                x += (unsigned long)i;
        t->spin = now() - from;
        return NULL;
    }
    if (t->kind == COND) {
        pthread_mutex_lock(&lock);
        while (!wake)
            pthread_cond_wait(&cond, &lock);
        t->blocked = now() - start;
        pthread_mutex_unlock(&lock);
    } else if (t->kind == READ) {
        char c;
        while (read(pipefd[0], &c, 1) != 1) {
        }
        t->blocked = now() - start;
    } else {
        struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        if (mode == M_CANCEL || mode == M_EXIT)
            nap.tv_sec = 1000; /* until cancelled, or the exit */
        while (nanosleep(&nap, &nap) != 0) {
        }
        t->blocked = now() - start;
    }
    return NULL;
}

static pid_t busy_tid;
static double busy_spin;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spins until it has used `seconds` of CPU: the same work whatever the
 * machine's load, so a run's CPU time compares with another's. */
static void *busy_main(void *arg)
{
    busy_tid = gettid();
    double start = now();
    volatile unsigned long x = 0;
    while (cpu_now() < seconds)
        for (int i = 0; i < 1000; i++)
            x += (unsigned long)i;
    busy_spin = now() - start;
    return arg;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 200;
    if (argc > 3)
        mode = !strcmp(argv[3], "exit") ? M_EXIT : !strcmp(argv[3], "cancel") ? M_CANCEL
             : !strcmp(argv[3], "jump") ? M_JUMP : M_WAKE;
    if (seconds <= 0 || n < 3 || pipe(pipefd) != 0)
        return 2;
    signal(SIGUSR1, on_usr1);
    sigset_t usr1; /* the test runner may spawn us with it blocked */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    struct idle *threads = calloc((size_t)n, sizeof *threads);
    if (!threads)
        return 1;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        threads[i].kind = i % 3;
        if (pthread_create(&threads[i].thread, NULL, idle_main, &threads[i]) != 0)
            return 1;
    }
    pthread_t busy;
    if (pthread_create(&busy, NULL, busy_main, NULL) != 0)
        return 1;
    pthread_join(busy, NULL);
    if (mode == M_EXIT) { /* exit with every idle thread still blocked */
        double at = now();
        for (int i = 0; i < n; i++)
            printf("IDLE tid=%d kind=%s blocked=%.6f\n", (int)threads[i].tid, kinds[threads[i].kind],
                   at - threads[i].start);
        printf("done\n");
        exit(0);
    }
    for (int i = 0; i < n; i++) {
        if (mode == M_CANCEL && threads[i].kind == SLEEP) {
            threads[i].blocked = now() - threads[i].start;
            pthread_cancel(threads[i].thread);
        }
        if (mode == M_JUMP && threads[i].kind == READ)
            pthread_kill(threads[i].thread, SIGUSR1);
    }
    pthread_mutex_lock(&lock);
    wake = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        if (threads[i].kind == READ && mode != M_JUMP && write(pipefd[1], "x", 1) != 1)
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(threads[i].thread, NULL);
    if (mode == M_CANCEL) { /* the cancelled threads' slots stay retired a while */
        struct timespec wait = {0, 300000000};
        while (nanosleep(&wait, &wait) != 0) {
        }
    }
    for (int i = 0; i < n; i++)
        printf("IDLE tid=%d kind=%s blocked=%.6f spin=%.6f\n", (int)threads[i].tid, kinds[threads[i].kind],
               threads[i].blocked, threads[i].spin);
    printf("BUSY tid=%d spin=%.6f\n", (int)busy_tid, busy_spin);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    printf("CPU seconds=%.6f wall=%.6f\n", cpu, now() - t0);
    printf("done\n");
    free(threads);
    return 0;
}
