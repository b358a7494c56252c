/*
 * up_exec.c - exec* and _exit: the process ends (or becomes another
 * program) without running atexit handlers, so the agent finishes the
 * record first, as process exit does: the calling thread's pending stack
 * is delivered at a safe point, then STOPPING, timers stopped, the writer
 * drains every ring and writes MAPs, LOSTs and END (flag UP_END_EXEC for an
 * exec).  Without this an exec'd shell or wrapper (`sh -c`, `env`, `nice`,
 * a shell's `exec`) left a record cut short, and dash's `_exit` left it
 * empty.  The new program profiles itself into its own file: the
 * environment passed to it carries the agent's variables (up_inherit.c;
 * the program's own environ never has them).  With record --no-inherit it
 * is not profiled.
 *
 * Only in the profiled process itself (not in a vfork child, which shares
 * our memory and must not stop the parent's profiler; fork children are
 * inert already), in thread context (not from a program's signal handler:
 * finishing joins the writer, which is not async-signal-safe; a handler
 * that execs or _exits leaves the record without END, as a fatal signal
 * would).  An exec that fails returns its error; the rest of the run is
 * then not profiled (said in the agent's log).  execl, execlp and execle
 * collect their arguments and go through the v-variants.
 * Context of each: whatever the program calls it from.
 */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <unistd.h>
#include "up_call.h"
#include "up_inherit.h"
#include "up_real.h"
#include "up_records.h"
#include "up_writer.h"

/* Whether this call may finish the record: the profiled process, active,
 * thread context, not inside the agent. */
static int up_may_finish(void)
{
    return up_phase_get() == UP_ACTIVE && getpid() == up_config.pid && up_tls.guard == 0 &&
           (atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) == 0 || up_handler_repair());
}

/* Finish the record as process exit does: this thread's pending stack is
 * delivered at a safe point first.  Context: where up_may_finish() said yes. */
static void up_finish_here(void)
{
    if (up_tls.state == UP_T_ATTACHED)
        up_safe_point();
    up_finish_recording();
}

static void up_before_exec(const char *what)
{
    if (!up_may_finish())
        return;
    atomic_fetch_or_explicit(&up_end_flags, UP_END_EXEC, memory_order_relaxed);
    if (!up_self.inherit)
        up_log("exec of %s: the recording ends here (the new program is not profiled: --no-inherit)",
               what ? what : "?");
    up_finish_here();
}

static int up_exec_failed(int r)
{
    int saved = errno;
    if (up_phase_get() == UP_STOPPING && getpid() == up_config.pid)
        up_log("the exec failed (errno %d): the rest of the run is not profiled", saved);
    errno = saved;
    return r;
}

/* The new image's environment, on this stack (a vfork child may not
 * allocate): the program's entries plus the agent's; environments beyond
 * UP_ENV_MAX entries are passed as they are (the new image is not
 * profiled).  execv and execvp pass `environ`, as glibc's do. */
#define UP_ENV_MAX 65536u
#define UP_WITH_ENV(env, envp, what)                                                   \
    size_t env##_cap = up_inherit_env_cap(envp);                                      \
    if (env##_cap > UP_ENV_MAX)                                                        \
        env##_cap = 0;                                                                 \
    char *env##_buf[env##_cap ? env##_cap : 1];                                       \
    char env##_proc[64];                                                               \
    char *const *env = up_inherit_env(envp, env##_buf, env##_cap, env##_proc, what)

UP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    UP_WITH_ENV(env, envp, path);
    up_before_exec(path);
    return up_exec_failed(up_real_execve()(path, argv, env));
}

UP_EXPORT int execv(const char *path, char *const argv[])
{
    UP_WITH_ENV(env, environ, path);
    up_before_exec(path);
    return up_exec_failed(up_real_execve()(path, argv, env));
}

UP_EXPORT int execvp(const char *file, char *const argv[])
{
    UP_WITH_ENV(env, environ, file);
    up_before_exec(file);
    return up_exec_failed(up_real_execvpe()(file, argv, env));
}

UP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    UP_WITH_ENV(env, envp, file);
    up_before_exec(file);
    return up_exec_failed(up_real_execvpe()(file, argv, env));
}

UP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    UP_WITH_ENV(env, envp, "a descriptor");
    up_before_exec("a descriptor");
    return up_exec_failed(up_real_fexecve()(fd, argv, env));
}

/* The execl family: the arguments after `arg`, NULL-terminated, gathered
 * on the stack (execle's envp follows the NULL), then the v-variant:
 * 'v' execv, 'p' execvp, 'e' execve. */
static int up_execl(char kind, const char *path, const char *arg, va_list ap)
{
    va_list count;
    va_copy(count, ap);
    size_t n = 1;
    while (va_arg(count, const char *) != NULL)
        n++;
    va_end(count);
    const char *argv[n + 1];
    argv[0] = arg;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, const char *);
    if (kind == 'e')
        return execve(path, (char *const *)argv, va_arg(ap, char *const *));
    return kind == 'p' ? execvp(path, (char *const *)argv) : execv(path, (char *const *)argv);
}

UP_EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = up_execl('v', path, arg, ap);
    va_end(ap);
    return r;
}

UP_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = up_execl('p', file, arg, ap);
    va_end(ap);
    return r;
}

UP_EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = up_execl('e', path, arg, ap);
    va_end(ap);
    return r;
}

UP_EXPORT void _exit(int status)
{
    if (up_may_finish())
        up_finish_here();
    up_real__exit()(status);
    __builtin_unreachable();
}

UP_EXPORT void _Exit(int status)
{
    if (up_may_finish())
        up_finish_here();
    up_real__Exit()(status);
    __builtin_unreachable();
}

/* posix_spawn, posix_spawnp: the spawned program gets the agent's
 * variables in the environment it is given (up_inherit.c) and this
 * process's file a PROCESS record (spawn) with its pid.  glibc's own
 * spawn (clone with CLONE_VM | CLONE_VFORK, its internal execve) runs
 * none of our code in the child.  The real functions are looked up here,
 * once (thread context; the default, newest symbol version).
 * Context: whatever the program calls them from. */
typedef int up_spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

static int up_spawn(const char *name, _Atomic(up_spawn_fn *) *cache, pid_t *pid, const char *path,
                    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr, char *const argv[],
                    char *const envp[])
{
    /* Relaxed: every thread stores the same pointer. */
    up_spawn_fn *real = atomic_load_explicit(cache, memory_order_relaxed);
    if (!real) {
        real = (up_spawn_fn *)dlsym(RTLD_NEXT, name);
        if (!real)
            return ENOSYS;
        atomic_store_explicit(cache, real, memory_order_relaxed);
    }
    size_t cap = up_inherit_env_cap(envp);
    if (cap > UP_ENV_MAX)
        cap = 0;
    char *buf[cap ? cap : 1];
    char proc[64];
    char *const *spawn_env = up_inherit_spawn_env(envp, buf, cap, proc);
    pid_t child = 0;
    int r = real(&child, path, fa, attr, argv, spawn_env);
    if (r == 0 && spawn_env != envp)
        up_process_event((uint32_t)child, (uint32_t)up_config.pid, UP_PROC_SPAWN, path);
    if (r == 0 && pid)
        *pid = child;
    return r;
}

UP_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    static _Atomic(up_spawn_fn *) real;
    return up_spawn("posix_spawn", &real, pid, path, fa, attr, argv, envp);
}

UP_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    static _Atomic(up_spawn_fn *) real;
    return up_spawn("posix_spawnp", &real, pid, file, fa, attr, argv, envp);
}
