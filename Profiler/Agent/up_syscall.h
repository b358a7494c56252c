/*
 * up_syscall.h - what the interrupted context says about the thread's state
 * at a tick: running (in user code, or in the kernel on its way back from a
 * call that did not sleep) or asleep in a system call, and which one.
 */
#ifndef UP_SYSCALL_H
#define UP_SYSCALL_H

#include <stdint.h>

/* Answers of up_uc_syscall_state. */
enum {
    UP_UC_UNKNOWN = 0, /* this architecture's contexts are not read */
    UP_UC_RUNNING = 1, /* the tick interrupted a running thread */
    UP_UC_BLOCKED = 2, /* the tick woke the thread from a sleeping system call */
    UP_UC_RETURN = 3,  /* the tick came as a system call returned: it ran, or it
                          slept and the tick cut it short (a partial transfer) */
};

/* Reads the signal's ucontext (the interrupted registers and at most 9 bytes
 * of the text around the pc, never outside the pc's own page).  On
 * UP_UC_BLOCKED and UP_UC_RETURN, *nr is the system call's number, or -1
 * when the context does not name it.  Context: signal handler (async-signal-safe: no call,
 * no store but *nr). */
int up_uc_syscall_state(const void *ucv, int32_t *nr);

/* The calling thread's CPU time (user + system), in microseconds; 0 when the
 * clock cannot be read.  Context: any, async-signal-safe
 * (clock_gettime is on POSIX's list); errno untouched on success. */
uint64_t up_thread_cpu_us(void);

#endif /* UP_SYSCALL_H */
