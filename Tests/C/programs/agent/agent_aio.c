/*
 * agent_aio.c - libaio's io_getevents under the profiler's signal.  The
 * kernel never restarts io_getevents after a handler (signal(7)): EINTR,
 * or fewer than min_nr events when some had arrived.  Each case submits
 * IOCB_CMD_POLL requests on pipes (complete when the pipe is readable) and
 * waits in io_getevents on the main thread; a helper thread acts once the
 * main thread sleeps in the kernel (its /proc state, three looks 5 ms
 * apart), so the lines do not depend on timing.  Cases:
 *   one        min_nr 1, no timeout; the helper writes a pipe
 *   two        min_nr 2 of two pipes; the helper writes one, waits until the
 *              main thread sleeps again, writes the other
 *   timeout    min_nr 1, a 300 ms timeout, nothing written: 0 events, and
 *              at least 300 ms passed ("waited=full")
 *   own-signal min_nr 1, no timeout; the helper sends SIGUSR1, whose handler
 *              has no SA_RESTART: -EINTR, as the kernel answers
 * Prints "AIO <case> ret=<r> events=<ids> waited=<full|short>" per case.
 * Linked with -laio (Debian libaio-dev).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libaio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pid_t main_tid;
static atomic_int returned;
static int pipes[2][2];
static const char *action;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Until the main thread sleeps in the kernel three looks in a row. */
static void wait_blocked(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)main_tid);
    for (int i = 0, seen = 0; i < 2000 && !atomic_load(&returned); i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        seen = p && p[1] && (p[2] == 'S' || p[2] == 'D') ? seen + 1 : 0;
        if (seen == 3)
            return;
        nap_ms(5);
    }
}

static void *helper(void *arg)
{
    pthread_t main_thread = *(pthread_t *)arg;
    wait_blocked();
    if (strcmp(action, "own-signal") == 0) {
        pthread_kill(main_thread, SIGUSR1);
    } else if (strcmp(action, "one") == 0) {
        (void)!write(pipes[0][1], "x", 1);
    } else if (strcmp(action, "two") == 0) {
        (void)!write(pipes[0][1], "x", 1);
        nap_ms(50);
        wait_blocked();
        (void)!write(pipes[1][1], "x", 1);
    }
    return NULL;
}

static void on_usr1(int sig) { (void)sig; }

static void run_case(const char *name)
{
    io_context_t ctx = 0;
    if (io_setup(4, &ctx) != 0)
        exit(2);
    for (int i = 0; i < 2; i++)
        if (pipe(pipes[i]) != 0)
            exit(2);
    int want = strcmp(name, "two") == 0 ? 2 : 1;
    struct iocb cbs[2], *list[2];
    for (int i = 0; i < want; i++) {
        io_prep_poll(&cbs[i], pipes[i][0], POLLIN);
        cbs[i].data = (void *)(long)(i + 1);
        list[i] = &cbs[i];
    }
    if (io_submit(ctx, want, list) != want)
        exit(2);
    action = name;
    atomic_store(&returned, 0);
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, helper, &self);
    struct io_event ev[2];
    memset(ev, 0, sizeof ev);
    struct timespec tmo = {0, 300000000};
    double t0 = now();
    int r = io_getevents(ctx, want, 2, ev, strcmp(name, "timeout") == 0 ? &tmo : NULL);
    double waited = now() - t0;
    atomic_store(&returned, 1);
    pthread_join(t, NULL);
    char ids[32] = "";
    for (int i = 0; i < (r > 0 ? r : 0); i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%ld", i ? "," : "", (long)ev[i].data);
    printf("AIO %s ret=%d events=%s waited=%s\n", name, r, r > 0 ? ids : "-",
           strcmp(name, "timeout") != 0 ? "-" : waited >= 0.299 ? "full" : "short");
    fflush(stdout);
    io_destroy(ctx);
    for (int i = 0; i < 2; i++)
        close(pipes[i][0]), close(pipes[i][1]);
}

int main(void)
{
    main_tid = gettid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    /* The test runner may start us with signals blocked. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    const char *cases[] = {"one", "two", "timeout", "own-signal"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(cases[i]);
    return 0;
}
