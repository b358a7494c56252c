/*
 * agent_sigint.c - a program ended by SIGINT/SIGTERM while its threads are
 * blocked (AgentProcessTests, issue 18 item 2's end of recording).
 *
 *   agent_sigint          prints the old actions of SIGINT, SIGTERM and
 *                         SIGHUP as sigaction reports them, starts three
 *                         threads blocked in read, pthread_cond_wait and
 *                         sleep, prints "ready" and waits in pause(): the
 *                         signal's default action ends it.
 *   agent_sigint handler  the same, but first installs its own SIGINT
 *                         handler (which prints "caught" and _exits 3) and
 *                         sets SIGTERM to SIG_DFL with flags and a mask,
 *                         printing every old action it gets back.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fds[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *reader(void *a)
{
    char c;
    (void)!read(fds[0], &c, 1);
    return a;
}

static void *waiter(void *a)
{
    pthread_mutex_lock(&m);
    for (;;)
        pthread_cond_wait(&cv, &m);
    return a;
}

static void *sleeper(void *a)
{
    sleep(3600);
    return a;
}

static void show(const char *what, const struct sigaction *sa)
{
    unsigned long long mask = 0;
    for (int s = 1; s <= 64 && s < NSIG; s++)
        if (sigismember(&sa->sa_mask, s))
            mask |= 1ull << (s - 1);
    const char *h = sa->sa_handler == SIG_DFL ? "DFL" : sa->sa_handler == SIG_IGN ? "IGN" : "function";
    printf("%s: %s flags=%#x mask=%#llx restorer=%d\n", what, h, (unsigned)sa->sa_flags, mask,
           sa->sa_restorer != NULL);
}

static void on_int(int sig)
{
    (void)sig;
    static const char msg[] = "caught\n";
    (void)!write(1, msg, sizeof msg - 1);
    _exit(3);
}

int main(int argc, char **argv)
{
    struct sigaction old;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGINT && sig != SIGTERM && sig != SIGHUP)
            continue;
        sigaction(sig, NULL, &old);
        char what[32];
        snprintf(what, sizeof what, "start %d", sig);
        show(what, &old);
    }
    if (argc == 2 && strcmp(argv[1], "handler") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        sigaction(SIGINT, &sa, &old);
        show("old SIGINT", &old);
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGUSR1);
        sigaction(SIGTERM, &sa, &old);
        show("old SIGTERM", &old);
        sigaction(SIGTERM, NULL, &old);
        show("now SIGTERM", &old);
        sigaction(SIGINT, NULL, &old);
        printf("now SIGINT: %s\n", old.sa_handler == on_int ? "ours" : "other");
    }
    if (pipe(fds) != 0)
        return 2;
    pthread_t t[3];
    pthread_create(&t[0], NULL, reader, NULL);
    pthread_create(&t[1], NULL, waiter, NULL);
    pthread_create(&t[2], NULL, sleeper, NULL);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
