/*
 * up_init.c - the agent's start, process exit and fork.
 *
 * Start (constructor, priority 101: before the core's default-priority
 * constructor in this object and before the program's): resolve libc,
 * read UNWIND_PROFILE_OUTPUT (absent: inert for good),
 * UNWIND_PROFILE_FREQUENCY (Hz, 1..10000, default 99), UNWIND_PROFILE_LOG
 * and the inheritance variables (up_inherit.c), remove them all from
 * environ so the program never sees them, open this process's file
 * (<output> for the root, <output>.<pid>[.<gen>] for a child or an exec'd
 * image), register the tracer, install the SIGPROF handler, put the
 * program's existing handlers behind trampolines, register the fork child
 * handler and the exit handler, start the writer, go ACTIVE, attach this
 * (the main) thread.  Any failure logs one line and leaves the agent inert.
 *
 * Exit (atexit handler, registered before the main thread attaches, so it
 * runs after the core's own at-exit delivery of the exiting thread's
 * pending requests, which the core registers at that first attach; again
 * from the destructor if atexit could not register): STOPPING, delete
 * every timer, let the writer drain everything and write MAPs, LOSTs, END,
 * close.  Threads still running go on unprofiled; their records after the
 * writer's last round are dropped (samples whose stacks never arrive are
 * reported as lost stacks).
 *
 * fork(): POSIX timers do not survive fork, the child has no writer
 * thread, and the parent's rings it inherited must never reach a file
 * twice.  The child handler sets CHILD (interposers pass through) and
 * forgets the parent's descriptor; with inheritance on and the fork made
 * through our wrapper, it also empties the inherited rings
 * (up_inherit_fork_child), and the wrapper then restarts the agent in the
 * child (up_fork_restart): its own file, writer and the forking thread's
 * timer.  Otherwise (record --no-inherit) the child stays inert.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deferred_unwind.h>
#include "up_idle.h"
#include "up_inherit.h"
#include "up_maps.h"
#include "up_records.h"
#include "up_real.h"
#include "up_sampler.h"
#include "up_signal.h"
#include "up_stack.h"
#include "up_tls.h"
#include "up_thread.h"
#include "up_writer.h"

UP_HIDDEN _Atomic int up_phase;
UP_HIDDEN struct up_config up_config;
UP_HIDDEN struct du_tracer *up_tracer;

/* Where the agent's messages go: UNWIND_PROFILE_LOG (set by `record`,
 * which prints the file after the run), else <UNWIND_PROFILE_OUTPUT>.log;
 * empty before the constructor read them, or when neither fits: messages
 * are dropped then.  Never the program's stderr: its output is part of its
 * behaviour.  Written once in the constructor, read after. */
static char up_log_path[PATH_MAX];

void up_log(const char *fmt, ...)
{
    if (!up_log_path[0])
        return;
    char line[512];
    int n = snprintf(line, sizeof line - 1, "unwind-profile agent (pid %d): ", (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n'; /* the - 1 above kept room for it */
    int saved = errno;
    int fd = open(up_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!up_real_write()(fd, line, len); /* one write: O_APPEND keeps lines whole */
        (void)close(fd);
    }
    errno = saved;
}

uint64_t up_monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int up_parse_frequency(const char *s, uint32_t *out)
{
    if (!s || !*s) {
        *out = UP_FREQ_DEFAULT;
        return 0;
    }
    uint32_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > UP_FREQ_MAX)
            return -1;
        v = v * 10 + (uint32_t)(*p - '0');
    }
    if (v < 1 || v > UP_FREQ_MAX)
        return -1;
    *out = v;
    return 0;
}

/* /proc/self/cmdline, cut after the last whole argument that fits. */
static size_t up_read_cmdline(char *buf, size_t cap)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t len = 0;
    for (;;) {
        ssize_t n = up_real_read()(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap)
            break;
    }
    (void)close(fd);
    while (len > 0 && buf[len - 1] != '\0')
        len--;
    return len;
}

static void up_at_exit(void)
{
    int expect = UP_ACTIVE;
    /* seq_cst: the Dekker with up_timer_start (up_sampler.c). */
    if (!atomic_compare_exchange_strong_explicit(&up_phase, &expect, UP_STOPPING, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    up_tls.guard++;
    up_timer_stop_all();
    up_writer_finish();
    up_tls.guard--;
}

__attribute__((destructor)) static void up_fini(void) { up_at_exit(); }

void up_finish_recording(void) { up_at_exit(); }

void up_finish_on_signal(void)
{
    int expect = UP_ACTIVE;
    /* A vfork child shares our memory, not our writer: never from there. */
    if (getpid() != up_config.pid)
        return;
    /* seq_cst: as up_at_exit (the timers' Dekker); the timers keep
     * running (timer_delete is not async-signal-safe by POSIX): ticks
     * after the writer's last drain are simply not written. */
    if (!atomic_compare_exchange_strong_explicit(&up_phase, &expect, UP_STOPPING, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    (void)up_writer_finish_bounded((int64_t)UP_FATAL_FINISH_MS * 1000000); /* late: no END */
}

/* Set by fork()'s wrapper around the real fork (this thread only): the
 * child handler knows the wrapper will restart the child. */
static UP_IE_TLS int up_forking;
/* The child handler's verdict, read by the wrapper in the child. */
static int up_restart_pending;

static void up_fork_child(void)
{
    if (atomic_load_explicit(&up_phase, memory_order_relaxed) == UP_INERT)
        return;
    /* The slot locks must have been held across the fork (up_slot.c). */
    up_restart_pending = up_slot_fork_child() == 0 && up_inherit_fork_child(up_forking);
    up_idle_fork_child();
    /* One thread in the child: relaxed is program order. */
    atomic_store_explicit(&up_phase, UP_CHILD, memory_order_relaxed);
    if (!up_restart_pending) {
        atomic_store_explicit(&up_tls.slot, NULL, memory_order_relaxed);
        atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed);
        up_tls.state = UP_T_DEAD;
    }
    up_signal_after_fork_child();
    up_writer_forget();
}

static int up_start_recording(const char *path);

/* The fork child's restart (up_inherit.c says why here).  Context: the
 * child, thread context, fork()'s wrapper after the atfork handlers.  On
 * failure the child stays inert (CHILD) and the log says why. */
static void up_fork_restart(void)
{
    uint32_t parent = (uint32_t)up_config.pid;
    up_config.pid = getpid();
    up_config.start_ns = up_monotonic_ns();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    up_config.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
    atomic_store_explicit(&up_end_flags, 0, memory_order_relaxed);
    char path[PATH_MAX];
    if (up_inherit_child_path(path, sizeof path, parent) < 0) {
        up_log("fork child: its file name is longer than PATH_MAX; the child runs unprofiled");
        return;
    }
    up_tls.guard++;
    int r = up_start_recording(path);
    up_tls.guard--;
    if (r < 0) {
        up_log("fork child: cannot start recording into %s (%s); the child runs unprofiled", path, strerror(-r));
        return;
    }
    /* Partner: the acquire loads of up_phase, as in the constructor. */
    atomic_store_explicit(&up_phase, UP_ACTIVE, memory_order_release);
    struct up_slot *s = atomic_load_explicit(&up_tls.slot, memory_order_relaxed);
    if (s) {
        up_tls.guard++;
        if (up_timer_start(s) < 0)
            up_log("fork child: timer_create failed, the forking thread is not sampled");
        up_tls.guard--;
    } else {
        up_thread_attach_self();
    }
}

/* fork() runs the atfork handlers (the core's take liburcu's and its own
 * locks with pthread_mutex_lock) under the guard, so they pass straight
 * through. */
int up_fork(void)
{
    up_tls.guard++;
    up_forking = 1;
    pid_t p = up_real_fork()();
    int saved = errno;
    up_forking = 0;
    up_tls.guard--;
    if (p == 0 && up_restart_pending) {
        up_restart_pending = 0;
        up_fork_restart();
    } else if (p > 0 && up_is_active()) {
        if (up_self.inherit)
            up_process_event((uint32_t)p, (uint32_t)up_config.pid, UP_PROC_FORK, NULL);
        else if (!atomic_fetch_or_explicit(&up_end_flags, UP_END_FORKED, memory_order_relaxed))
            up_log("the program forked (first child pid %d): children are not profiled (--no-inherit)", (int)p);
    }
    errno = saved;
    return p;
}

/* Remove every NAME=... from the environment by editing `environ` itself,
 * as glibc's unsetenv does: the program's own unsetenv may not (bash
 * defines one that edits its own variable table, which it has not built
 * yet when our constructor runs, so its children inherited the variables
 * and reopened the record file).  Context: the constructor, before main:
 * one thread, nothing else reads environ yet. */
static void up_env_remove(const char *name)
{
    size_t n = strlen(name);
    char **w = environ;
    for (char **r = environ; r && *r; r++)
        if (!(strncmp(*r, name, n) == 0 && (*r)[n] == '='))
            *w++ = *r;
    if (w)
        *w = NULL;
}

static void up_inert(const char *why, int err)
{
    if (err)
        up_log("%s (%s); the program runs unprofiled", why, strerror(err));
    else
        up_log("%s; the program runs unprofiled", why);
    atomic_store_explicit(&up_phase, UP_INERT, memory_order_release);
}

/* Open `path`, write header, META, PROCESS, CALLs, start the writer.
 * 0 or -errno (the file is forgotten then).  Context: the constructor, or a
 * fork child's restart; one agent thread so far. */
static int up_start_recording(const char *path)
{
    static char cmdline[4096];
    size_t cmdline_len = up_read_cmdline(cmdline, sizeof cmdline);
    int r = up_writer_open(path, cmdline, cmdline_len);
    if (r < 0)
        return r;
    r = up_writer_start();
    if (r < 0)
        up_writer_forget(); /* closes the file, forgets it */
    return r;
}

__attribute__((constructor(101))) static void up_init(void)
{
    up_resolve_all();
    const char *out = getenv("UNWIND_PROFILE_OUTPUT");
    if (!out || !*out) {
        atomic_store_explicit(&up_phase, UP_INERT, memory_order_release);
        return;
    }
    char path[PATH_MAX];
    char freq_text[32];
    int r;
    int too_long = strlen(out) >= sizeof path;
    snprintf(path, sizeof path, "%s", out);
    const char *f = getenv("UNWIND_PROFILE_FREQUENCY");
    snprintf(freq_text, sizeof freq_text, "%s", f ? f : "");
    int freq_too_long = f && strlen(f) >= sizeof freq_text;
    const char *lg = getenv("UNWIND_PROFILE_LOG");
    if (lg && *lg)
        (void)snprintf(up_log_path, sizeof up_log_path, "%s", strlen(lg) < sizeof up_log_path ? lg : "");
    else if (strlen(out) + 4 < sizeof up_log_path)
        (void)snprintf(up_log_path, sizeof up_log_path, "%s.log", out);
    up_env_remove("UNWIND_PROFILE_OUTPUT");
    up_env_remove("UNWIND_PROFILE_FREQUENCY");
    up_env_remove("UNWIND_PROFILE_LOG");
    if (too_long)
        return up_inert("UNWIND_PROFILE_OUTPUT is longer than PATH_MAX", 0);
    char base[PATH_MAX];
    memcpy(base, path, sizeof base);
    r = up_inherit_init(base, freq_text, up_log_path, path, sizeof path);
    up_env_remove("UNWIND_PROFILE_PROCESS");
    up_env_remove("UNWIND_PROFILE_INHERIT");
    if (r < 0)
        return up_inert("the record file's name is longer than PATH_MAX", 0);
    uint32_t freq;
    if (freq_too_long || up_parse_frequency(freq_text, &freq) != 0) {
        up_log("UNWIND_PROFILE_FREQUENCY=%s: not a frequency in Hz, 1..%u", freq_text, UP_FREQ_MAX);
        return up_inert("bad frequency", 0);
    }

    up_config.frequency_hz = freq;
    up_config.period_ns = 1000000000LL / freq;
    up_config.start_ns = up_monotonic_ns();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    up_config.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
    up_config.pid = getpid();
    if (up_maps_find_text((const void *)up_stack_callback, &up_config.text_start, &up_config.text_end) != 0)
        return up_inert("cannot find the agent's own text segment", 0);

    r = up_thread_init();
    if (r < 0)
        return up_inert("pthread_key_create failed", -r);
    r = du_tracer_register(up_stack_callback, NULL, "unwind-profile", &up_tracer);
    if (r < 0)
        return up_inert("du_tracer_register failed", -r);
    r = pthread_atfork(up_slot_fork_prepare, up_slot_fork_parent, up_fork_child);
    if (r != 0)
        return up_inert("pthread_atfork failed", r);
    /* From here the program's handlers run behind trampolines, for good
     * (also if the start fails below: the emulation stays consistent). */
    r = up_sampler_install();
    if (r < 0)
        return up_inert("cannot install the SIGPROF handler", -r);
    up_signal_wrap_existing();
    up_signal_start_emulating();
    r = up_start_recording(path);
    if (r < 0) {
        up_log("cannot record into %s (%s)", path, strerror(-r));
        return up_inert("no record file or no writer thread", 0);
    }
    if (atexit(up_at_exit) != 0)
        up_log("atexit failed: the file is finished by the library destructor");
    /* A signal mask is inherited across exec: a launcher that blocks
     * SIGPROF in the thread that spawns us (Dispatch worker threads block
     * signals, and posix_spawn keeps the spawning thread's mask) would leave
     * every thread of the program unsampled.  The program did not choose
     * that mask, so SIGPROF is unblocked here, before the program's code
     * runs; what the program blocks itself later is respected. */
    sigset_t prof;
    sigemptyset(&prof);
    sigaddset(&prof, UP_SIGNAL);
    (void)pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
    /* Partner: the acquire loads of up_phase (interposers, attach): the
     * configuration, tracer and file above are visible with ACTIVE. */
    atomic_store_explicit(&up_phase, UP_ACTIVE, memory_order_release);
    up_thread_attach_self();
}
