/*
 * up_inherit.h - every process: fork children and exec'd programs profile
 * themselves, each into its own file next to the root's (up_inherit.c).
 */
#ifndef UP_INHERIT_H
#define UP_INHERIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "up_records.h"

/* Who this process is, for its PROCESS record and its file's name.  Written
 * by the constructor (from UNWIND_PROFILE_PROCESS) or by a fork child's
 * restart, before the phase goes ACTIVE (release); read-only afterwards. */
struct up_self {
    uint32_t kind; /* enum up_process_kind */
    uint32_t ppid;
    uint32_t gen;  /* exec generation within this pid: the file's suffix */
    int inherit;   /* children are profiled (record --no-inherit: 0) */
};
extern struct up_self up_self;

/* Constructor: read and remove UNWIND_PROFILE_PROCESS and
 * UNWIND_PROFILE_INHERIT, remember the base path, frequency text and log
 * path for children, and put this process's file name in `path`.
 * 0 or -ENAMETOOLONG.  Context: the constructor, one thread. */
int up_inherit_init(const char *base, const char *freq_text, const char *log_path, char *path, size_t cap);

/* The fork child handler's part: async-signal-safe resets only (the slots
 * of threads that do not exist here, the forking thread's rings and timer
 * word, the event queue).  Returns 1 when the child is to be restarted by
 * up_inherit_restart (the fork went through our wrapper, outside a
 * handler, with inheritance on).  Context: atfork child handler. */
int up_inherit_fork_child(int via_wrapper);
/* A fork child's own file name (<base>.<pid>); up_self becomes a fork
 * child of `parent`.  0 or -ENAMETOOLONG.  Context: the child's restart. */
int up_inherit_child_path(char *path, size_t cap, uint32_t parent);
/* fork() as the program calls it (up_proc.c's interposer): the child is
 * restarted here, after every atfork child handler ran (up_init.c).
 * Context: whatever the program calls fork from. */
pid_t up_fork(void);

/* An exec of `path` about to happen: the environment to pass, with the
 * variables that make the new image profile itself (`out`, cap entries;
 * the input when nothing is to be added or it does not fit), and the
 * exec queued as a PROCESS event for this process's file.  Context: any
 * thread, also a vfork child (no allocation, no lock; shared state
 * written: the lock-free event queue only; `proc` is the caller's buffer
 * for the PROCESS variable). */
char *const *up_inherit_env(char *const envp[], char **out, size_t cap, char proc[64], const char *path);
/* The same for posix_spawn (a new pid whose parent is this process; the
 * caller queues the event once it knows the pid).  Context: thread. */
char *const *up_inherit_spawn_env(char *const envp[], char **out, size_t cap, char proc[64]);
/* Entries up_inherit_env needs for envp: its own plus ours and the NULL. */
size_t up_inherit_env_cap(char *const envp[]);
/* How many entries up_inherit_env may add. */
#define UP_INHERIT_ENV_EXTRA 4

/* A child or exec this process saw: queued for the writer's PROCESS record.
 * Context: any thread (lock-free; a full queue drops it and counts). */
void up_process_event(uint32_t pid, uint32_t ppid, uint32_t kind, const char *path);
/* Write the queued events.  Context: the writer thread. */
void up_process_events_drain(void);

/* The program this image runs (/proc/self/exe at start). */
const char *up_inherit_exe(size_t *len);

#endif /* UP_INHERIT_H */
