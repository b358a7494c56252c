/*
 * agent_spawn_fd.c - a spawn child's error pipe on a low descriptor, as
 * GLib's g_spawn does: the parent makes a pipe, the child moves its write
 * end to descriptor 3 (in a profiled child that number may be the agent's
 * record file: the program's dup2 replaces it), closes everything above,
 * execs a program that does not exist and writes errno to descriptor 3.
 * The parent must read ENOENT.  Prints "child reported errno N (text)",
 * exit 0; or "child reported nothing" (the agent closed the program's
 * descriptor), exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (p[1] != 3) {
            dup2(p[1], 3);
            close(p[1]);
        }
        syscall(SYS_close_range, 4u, ~0u, 0u);
        char *argv[] = {"/nonexistent/agent-spawn-fd", NULL};
        execv(argv[0], argv);
        int e = errno;
        (void)!write(3, &e, sizeof e);
        _exit(1);
    }
    close(p[1]);
    int e = 0;
    ssize_t n = read(p[0], &e, sizeof e);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n != (ssize_t)sizeof e) {
        printf("child reported nothing\n");
        return 1;
    }
    printf("child reported errno %d (%s)\n", e, strerror(e));
    return 0;
}
