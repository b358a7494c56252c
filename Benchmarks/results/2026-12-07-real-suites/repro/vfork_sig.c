/* vfork child resets a handler to SIG_DFL (as CPython's _posixsubprocess
 * does before exec), then the parent raises the signal. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void h(int s) { (void)s; got++; }
int main(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("before vfork: handler ran %d time(s)\n", (int)got);
    pid_t p = vfork();
    if (p == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGUSR1, &dfl, NULL);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    sigaction(SIGUSR1, NULL, &old);
    printf("after vfork: parent's sigaction reports %s\n",
           old.sa_handler == h ? "its handler" : old.sa_handler == SIG_DFL ? "SIG_DFL" : "something else");
    got = 0;
    raise(SIGUSR1);
    printf("after vfork: handler ran %d time(s)\n", (int)got);
    return 0;
}
