/*
 * agent_core_fork.c - a program with its own copy of the core
 * (libdeferred_unwind) that forks while the agent, which holds another
 * copy, is preloaded.  Both copies' atfork handlers call liburcu-bp's fork
 * hooks; without the agent's nesting (up_urcu_fork.c) the first fork hangs
 * with every signal blocked.  Prints "forks ok" after 20 forks whose
 * children still see their attached thread.
 */
#include <deferred_unwind.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    if (du_thread_attach() != 0)
        return 3;
    for (int i = 0; i < 20; i++) {
        pid_t p = fork();
        if (p < 0)
            return 4;
        if (p == 0)
            _exit(du_thread_is_attached() ? 0 : 5);
        int status;
        if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 6;
    }
    puts("forks ok");
    return du_thread_detach() == 0 ? 0 : 7;
}
