/*
 * up_inherit.c - every process: fork children and exec'd programs profile
 * themselves, each into its own file next to the root's.
 *
 * Files: the root process (started by `record`) writes <output>; every
 * other process image writes <output>.<pid>, and an image exec'd by a
 * process that already wrote <output>.<pid> writes <output>.<pid>.<gen>
 * (gen = 1, 2, ...: a fork child that execs, a shell's `exec`).  One file
 * per image: no cross-process locking or interleaving, a child killed
 * mid-write cannot damage another's file, and each file is a valid record
 * on its own.  Each starts with META then a PROCESS record flagged SELF
 * (pid, ppid, how it started, the program).
 *
 * fork: the atfork child handler (up_init.c) calls up_inherit_fork_child,
 * which only stores (async-signal-safe): the slots of the threads that do
 * not exist in the child are freed with their rings emptied, and the
 * forking thread's rings are emptied (what they held is the parent's: its
 * writer drains it into the parent's file), its tid is the child's, its
 * timer word cleared (timers do not survive fork).  The restart proper
 * (file, writer thread, timer) runs in fork()'s wrapper after every atfork
 * child handler ran (up_init.c), in plain thread context: glibc's fork has
 * by then reset its own locks (malloc, the thread-stack cache), liburcu and
 * the core have rebuilt their state (the forking thread stays attached,
 * Docs/Lifecycle.md), so open, pthread_create and timer_create are as safe
 * as in any forked child of a threaded glibc program - what profilers that
 * follow forks do.  A fork that bypasses the wrapper (raw clone, or fork
 * from inside a signal handler) leaves that child inert, as before.  The
 * parent queues a PROCESS record naming the child.
 *
 * exec: the exec interposers (up_exec.c) pass, in the environment of the
 * new image only, UNWIND_PROFILE_OUTPUT (the base path), _FREQUENCY, _LOG
 * and the private UNWIND_PROFILE_PROCESS ("<kind> <ppid> <gen>"); the new
 * image's constructor removes them all from environ, so the program never
 * sees them.  An image whose environment lost LD_PRELOAD (env -i), a
 * static or setuid program, does not profile itself: the parent's PROCESS
 * record says it was started, and `report` lists it as not profiled.
 * vfork children (CPython's subprocess, a shell's vfork) exec through the
 * same interposers: the environment is built on the stack and nothing of
 * the parent's state is written but the lock-free event queue.
 * posix_spawn and posix_spawnp are interposed (up_exec.c): the variables
 * go into the environment they pass, and the parent queues a PROCESS
 * record (kind spawn) with the child's pid.  system() and popen() call
 * glibc's internal spawn with `environ`, which no longer has the
 * variables: their commands are neither profiled nor seen.
 *
 * record --no-inherit (UNWIND_PROFILE_INHERIT=0): fork children stay inert
 * and exec passes nothing: the behaviour before this file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_inherit.h"
#include "up_slot.h"
#include "up_tls.h"
#include "up_writer.h"

UP_HIDDEN struct up_self up_self;

/* The variables handed to children, built once by the constructor. */
static char up_env_output[PATH_MAX + 32];
static char up_env_freq[64];
static char up_env_log[PATH_MAX + 32];
static char up_base[PATH_MAX];
static char up_exe[PATH_MAX];
static size_t up_exe_len;

const char *up_inherit_exe(size_t *len)
{
    *len = up_exe_len;
    return up_exe;
}

/* Decimal digits of v at p; returns the end.  Async-signal-safe. */
static char *up_put_u32(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static const char *up_get_u32(const char *p, uint32_t *out)
{
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return NULL;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
            return NULL;
    *out = (uint32_t)v;
    return p;
}

/* "<kind> <ppid> <gen>"; anything else: a root. */
static void up_parse_process(const char *s)
{
    uint32_t kind, ppid, gen;
    const char *p = s ? up_get_u32(s, &kind) : NULL;
    if (p && *p == ' ')
        p = up_get_u32(p + 1, &ppid);
    else
        p = NULL;
    if (p && *p == ' ')
        p = up_get_u32(p + 1, &gen);
    else
        p = NULL;
    if (!p || *p || kind > UP_PROC_SPAWN || kind == UP_PROC_ROOT) {
        up_self.kind = UP_PROC_ROOT;
        up_self.ppid = (uint32_t)getppid();
        up_self.gen = 0;
        return;
    }
    up_self.kind = kind;
    up_self.ppid = ppid;
    up_self.gen = gen;
}

/* This image's file: <base> for the root, <base>.<pid>[.<gen>] else. */
static int up_own_path(char *path, size_t cap, uint32_t pid)
{
    int n = up_self.kind == UP_PROC_ROOT ? snprintf(path, cap, "%s", up_base)
            : up_self.gen == 0          ? snprintf(path, cap, "%s.%u", up_base, pid)
                                        : snprintf(path, cap, "%s.%u.%u", up_base, pid, up_self.gen);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int up_inherit_init(const char *base, const char *freq_text, const char *log_path, char *path, size_t cap)
{
    up_parse_process(getenv("UNWIND_PROFILE_PROCESS"));
    const char *inh = getenv("UNWIND_PROFILE_INHERIT");
    up_self.inherit = !(inh && strcmp(inh, "0") == 0);
    if (strlen(base) >= sizeof up_base)
        return -ENAMETOOLONG;
    memcpy(up_base, base, strlen(base) + 1);
    (void)snprintf(up_env_output, sizeof up_env_output, "UNWIND_PROFILE_OUTPUT=%s", base);
    if (freq_text[0])
        (void)snprintf(up_env_freq, sizeof up_env_freq, "UNWIND_PROFILE_FREQUENCY=%s", freq_text);
    if (log_path[0])
        (void)snprintf(up_env_log, sizeof up_env_log, "UNWIND_PROFILE_LOG=%s", log_path);
    ssize_t n = readlink("/proc/self/exe", up_exe, sizeof up_exe - 1);
    up_exe_len = n > 0 ? (size_t)n : 0;
    up_exe[up_exe_len] = '\0';
    return up_own_path(path, cap, (uint32_t)getpid());
}

int up_inherit_child_path(char *path, size_t cap, uint32_t parent)
{
    up_self.kind = UP_PROC_FORK;
    up_self.ppid = parent;
    up_self.gen = 0;
    return up_own_path(path, cap, (uint32_t)getpid());
}

/* ---- exec: the environment of the new image ---- */

size_t up_inherit_env_cap(char *const envp[])
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n + UP_INHERIT_ENV_EXTRA + 1;
}

static char *const *up_env_build(char *const envp[], char **out, size_t cap, char proc[64], uint32_t kind,
                                 uint32_t ppid, uint32_t gen);

static int up_inheriting(void)
{
    int phase = up_phase_get();
    return up_self.inherit && (phase == UP_ACTIVE || phase == UP_STOPPING);
}

char *const *up_inherit_spawn_env(char *const envp[], char **out, size_t cap, char proc[64])
{
    if (!up_inheriting())
        return envp;
    return up_env_build(envp, out, cap, proc, UP_PROC_SPAWN, (uint32_t)up_config.pid, 0);
}

char *const *up_inherit_env(char *const envp[], char **out, size_t cap, char proc[64], const char *path)
{
    if (!up_inheriting())
        return envp;
    uint32_t kind, ppid, gen;
    if ((uint32_t)getpid() != (uint32_t)up_config.pid) {
        /* A vfork child of this process: a new pid. */
        kind = UP_PROC_SPAWN;
        ppid = (uint32_t)up_config.pid;
        gen = 0;
    } else {
        kind = up_self.kind == UP_PROC_FORK ? UP_PROC_EXEC_FORK : UP_PROC_EXEC;
        ppid = up_self.ppid;
        gen = up_self.kind == UP_PROC_ROOT ? 0 : up_self.gen + 1;
    }
    up_process_event((uint32_t)getpid(), ppid, kind, path);
    return up_env_build(envp, out, cap, proc, kind, ppid, gen);
}

static char *const *up_env_build(char *const envp[], char **out, size_t cap, char proc[64], uint32_t kind,
                                 uint32_t ppid, uint32_t gen)
{
    /* Only for an image that will load the agent: an environment without
     * it in LD_PRELOAD (env -i, a sanitised environment) is passed as the
     * program built it. */
    size_t n = 0;
    int preloads = 0;
    for (; envp && envp[n]; n++)
        if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0 && strstr(envp[n], "unwind_profile_agent"))
            preloads = 1;
    if (!preloads || n + UP_INHERIT_ENV_EXTRA + 1 > cap)
        return envp;
    static const char name[] = "UNWIND_PROFILE_PROCESS=";
    char *p = proc;
    memcpy(p, name, sizeof name - 1);
    p += sizeof name - 1;
    p = up_put_u32(p, kind);
    *p++ = ' ';
    p = up_put_u32(p, ppid);
    *p++ = ' ';
    p = up_put_u32(p, gen);
    *p = '\0';
    /* Ours first: getenv returns the first match. */
    size_t k = 0;
    out[k++] = up_env_output;
    out[k++] = proc;
    if (up_env_freq[0])
        out[k++] = up_env_freq;
    if (up_env_log[0])
        out[k++] = up_env_log;
    for (size_t i = 0; i < n; i++)
        out[k++] = envp[i];
    out[k] = NULL;
    return out;
}

/* ---- the PROCESS event queue: children and execs this process saw ---- */

#define UP_EVENTS 128u /* a power of 2 */
#define UP_EVENT_PATH 240u

struct up_event {
    _Atomic int ready; /* release by the producer; acquire by the writer */
    uint32_t pid, ppid, kind, path_len;
    char path[UP_EVENT_PATH];
};
static struct up_event up_events[UP_EVENTS];
/* head: slots claimed by producers (CAS, relaxed: the entry is published
 * by its `ready`).  tail: consumed by the writer; release store after it
 * cleared the entry's `ready`, partner of the producers' acquire load
 * before they reuse the entry. */
static _Atomic uint32_t up_ev_head, up_ev_tail;
static _Atomic uint64_t up_ev_dropped;

void up_process_event(uint32_t pid, uint32_t ppid, uint32_t kind, const char *path)
{
    uint32_t h = atomic_load_explicit(&up_ev_head, memory_order_relaxed);
    do {
        if (h - atomic_load_explicit(&up_ev_tail, memory_order_acquire) >= UP_EVENTS) {
            atomic_fetch_add_explicit(&up_ev_dropped, 1, memory_order_relaxed);
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(&up_ev_head, &h, h + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    struct up_event *e = &up_events[h % UP_EVENTS];
    e->pid = pid;
    e->ppid = ppid;
    e->kind = kind;
    size_t len = 0;
    while (path && path[len] && len < UP_EVENT_PATH)
        len++;
    memcpy(e->path, path ? path : "", len);
    e->path_len = (uint32_t)len;
    atomic_store_explicit(&e->ready, 1, memory_order_release);
}

void up_process_events_drain(void)
{
    uint32_t t = atomic_load_explicit(&up_ev_tail, memory_order_relaxed); /* writer-only */
    for (;;) {
        struct up_event *e = &up_events[t % UP_EVENTS];
        if (!atomic_load_explicit(&e->ready, memory_order_acquire))
            break;
        struct up_rec_process rec = {
            .h = {.type = UP_REC_PROCESS}, .pid = e->pid, .ppid = e->ppid, .kind = e->kind, .path_len = e->path_len};
        up_writer_record(&rec, sizeof rec, e->path, e->path_len);
        atomic_store_explicit(&e->ready, 0, memory_order_relaxed);
        atomic_store_explicit(&up_ev_tail, ++t, memory_order_release);
    }
    uint64_t dropped = atomic_exchange_explicit(&up_ev_dropped, 0, memory_order_relaxed);
    if (dropped)
        up_log("%llu child/exec events not recorded (queue full)", (unsigned long long)dropped);
}

/* ---- fork: the child handler's resets ---- */

static void up_slot_empty(struct up_slot *s)
{
    /* One thread in the child: relaxed is program order; the writer that
     * reads these starts later (pthread_create orders them). */
    atomic_store_explicit(&s->s_tail, atomic_load_explicit(&s->s_head, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&s->k_tail, atomic_load_explicit(&s->k_head, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&s->s_lost, 0, memory_order_relaxed);
    atomic_store_explicit(&s->k_lost, 0, memory_order_relaxed);
    s->s_lost_reported = 0;
    s->k_lost_reported = 0;
    atomic_store_explicit(&s->timer_live, 0, memory_order_relaxed); /* the timer is the parent's */
}

int up_inherit_fork_child(int via_wrapper)
{
    if (!via_wrapper || !up_self.inherit || up_phase_get() != UP_ACTIVE ||
        atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) != 0)
        return 0;
    struct up_slot *mine = atomic_load_explicit(&up_tls.slot, memory_order_relaxed);
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n; i++) {
        struct up_slot *s = up_slots[i];
        up_slot_empty(s);
        if (s == mine)
            continue;
        s->name_gen_written = atomic_load_explicit(&s->name_gen, memory_order_relaxed);
        atomic_store_explicit(&s->state, UP_SLOT_FREE, memory_order_relaxed);
    }
    if (mine) {
        mine->tid = (uint32_t)gettid();
        up_tls.tid = mine->tid;
        /* The name again, in the child's file (the writer compares). */
        mine->name_gen_written = atomic_load_explicit(&mine->name_gen, memory_order_relaxed) - 1;
    } else if (up_tls.state != UP_T_INTERNAL) {
        up_tls.state = UP_T_NONE; /* attaches at the restart */
    }
    for (uint32_t i = 0; i < UP_EVENTS; i++)
        atomic_store_explicit(&up_events[i].ready, 0, memory_order_relaxed);
    atomic_store_explicit(&up_ev_head, 0, memory_order_relaxed);
    atomic_store_explicit(&up_ev_tail, 0, memory_order_relaxed);
    atomic_store_explicit(&up_ev_dropped, 0, memory_order_relaxed);
    return 1;
}
