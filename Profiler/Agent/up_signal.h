/*
 * up_signal.h - the program's signal handlers behind trampolines (up_signal.c).
 */
#ifndef UP_SIGNAL_H
#define UP_SIGNAL_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <ucontext.h>

/* Signals 1 .. UP_NSIG - 1, realtime ones included (the kernel's count). */
#define UP_NSIG _NSIG

/* 1 once the program's sigaction()/signal() calls are emulated (set by the
 * constructor with release after the table is filled; never cleared: the
 * kernel holds trampolines from then on, in fork children too). */
extern _Atomic int up_sig_emulating;

/* Constructor: wrap handlers the program (or an earlier constructor)
 * installed before the agent started, catch SIGINT, SIGTERM and SIGHUP
 * while they are SIG_DFL (to finish the file before dying of them), then
 * start emulating. */
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

/* The signals whose default action the agent catches to finish the file
 * first, and its handler for them (up_signal_fatal.c).  Context: any;
 * the handler: a signal handler, every signal blocked. */
int up_is_finish_signal(int sig);
void up_fatal_handler(int sig, siginfo_t *info, void *uc);

/* A vfork child (or any CLONE_VM child) of the profiled process: its
 * sigaction calls go to the kernel alone, never to the table it shares with
 * the parent.  Context: as sigaction. */
int up_in_vfork_child(void);

/* A program handler starts on this thread (up_handler_depth.c): count it
 * in up_tls.foreign when `count` (an interposed call it interrupted then
 * knows a program signal ended it), raise the depth, record the
 * trampoline's frame (and alternate stack) for the repair.  Context:
 * handler. */
void up_handler_enter(const void *ucv, uintptr_t frame, int count);
/* The handler returned.  Context: handler. */
void up_handler_leave(void);

/*
 * Restarts seen from a handler's ucontext.  When the kernel restarts the
 * interrupted system call after the handler (SA_RESTART, or a call that
 * always restarts), it rewinds the saved pc onto the `syscall` instruction
 * and puts the call's number back in rax before the handler runs.  So a
 * saved pc at a syscall instruction means "restarted when the handler
 * returns" - or a thread interrupted just before making a call, which is
 * the same to the program: the call had not begun.  x86-64 only (0 on
 * other architectures: never a restart).  Context: handler.
 */
static inline int up_uc_restarting(const void *ucv)
{
#if defined(__x86_64__)
    const ucontext_t *uc = ucv;
    const unsigned char *ip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    return ip && ip[0] == 0x0f && ip[1] == 0x05;
#else
    (void)ucv;
    return 0;
#endif
}

/* Turn that restart into the call's return with EINTR, as the kernel
 * answers when the handler has no SA_RESTART.  Context: handler. */
static inline void up_uc_make_eintr(void *ucv)
{
#if defined(__x86_64__)
    ucontext_t *uc = ucv;
    uc->uc_mcontext.gregs[REG_RAX] = -EINTR;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
#else
    (void)ucv;
#endif
}

#endif /* UP_SIGNAL_H */
