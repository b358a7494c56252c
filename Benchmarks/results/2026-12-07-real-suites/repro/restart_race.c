/* Kernel mechanism, no agent involved: a thread blocked in read() on a pipe
 * gets two signals at once: a thread-directed one whose handler has
 * SA_RESTART (as the agent's SIGPROF tick from its per-thread timer) and a
 * process-directed one whose handler has not (as alarm()'s SIGALRM with
 * Python's handler).  The kernel dequeues the thread's private signals
 * first, so the SA_RESTART one decides: the read is restarted, and the
 * program's handler runs but its EINTR never comes. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static volatile sig_atomic_t prof, usr;
static void on_prof(int s) { (void)s; prof++; }
static void on_usr(int s) { (void)s; usr++; }
static int fds[2];
static pid_t main_tid;
static void poke(pid_t pid, pid_t tid, int prof_too)
{
    usleep(200000);
    kill(pid, SIGSTOP);                           /* freeze the reader */
    usleep(50000);
    if (prof_too)
        syscall(SYS_tgkill, pid, tid, SIGPROF);   /* thread-directed, SA_RESTART */
    kill(pid, SIGUSR1);                           /* process-directed, no SA_RESTART */
    kill(pid, SIGCONT);                           /* both pending at once */
    usleep(1000000);
    write(fds[1], "x", 1);                        /* end the read after 1 s */
}
int main(int argc, char **argv)
{
    int prof_too = argc < 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof; sa.sa_flags = SA_RESTART; sigaction(SIGPROF, &sa, NULL);
    sa.sa_handler = on_usr;  sa.sa_flags = 0;          sigaction(SIGUSR1, &sa, NULL);
    pipe(fds);
    main_tid = gettid();
    pid_t me = getpid();
    if (fork() == 0) { poke(me, main_tid, prof_too); _exit(0); }
    char c;
    ssize_t r = read(fds[0], &c, 1);
    int e = errno;
    printf("read returned %zd (%s); SIGPROF handler ran %d, SIGUSR1 handler ran %d%s\n", r,
           r < 0 ? strerror(e) : "data", (int)prof, (int)usr,
           (r > 0 && usr) ? ": SIGUSR1's EINTR was lost (read restarted)" : "");
    return 0;
}
