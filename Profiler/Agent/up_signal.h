/*
 * up_signal.h - the program's signal handlers behind trampolines (up_signal.c).
 */
#ifndef UP_SIGNAL_H
#define UP_SIGNAL_H

#include <signal.h>
#include <stdatomic.h>

/* 1 once the program's sigaction()/signal() calls are emulated (set by the
 * constructor with release after the table is filled; never cleared: the
 * kernel holds trampolines from then on, in fork children too). */
extern _Atomic int up_sig_emulating;

/* Constructor: wrap handlers the program (or an earlier constructor)
 * installed before the agent started, then start emulating. */
void up_signal_wrap_existing(void);
/* Constructor: the SIGPROF disposition our handler replaced is the
 * program's recorded SIGPROF action. */
void up_signal_adopt_sigprof(const struct sigaction *old);
void up_signal_start_emulating(void);
/* A SIGPROF that is not one of our ticks: the program's SIGPROF action.
 * Context: our SIGPROF handler; async-signal-safe. */
void up_signal_forward_sigprof(int sig, siginfo_t *info, void *uc);
/* Fork child (one thread): the table lock may have been held by a thread
 * that does not exist in the child. */
void up_signal_after_fork_child(void);
/* syscall(SYS_rt_sigaction, ...) from the program, routed through the
 * emulation (kernel layout: handler, flags, restorer, 64-bit mask).
 * Returns 1 and the syscall's result in *ret when it handled the call, 0
 * when the caller must make the real syscall.  Context: as sigaction. */
int up_signal_raw_rt_sigaction(long sig, const void *kact, void *koact, long size, long *ret);

#endif /* UP_SIGNAL_H */
