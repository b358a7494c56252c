/*
 * up_tls.h - the per-thread state that interposers, the SIGPROF handler and
 * the signal trampolines share.  Initial-exec TLS: a handler reaches it with
 * one %fs-relative load and never calls __tls_get_addr (which may allocate).
 *
 * Every field is written and read by its own thread only: in thread context
 * or in a handler running on that thread between two of its instructions.
 * So the atomics below are relaxed and the ordering that matters is the
 * compiler's, given by atomic_signal_fence where two steps must not be
 * reordered for a handler (C11's same-thread guarantee).  The writer thread
 * never reads this; it reads the thread's slot (up_slot.h).
 */
#ifndef UP_TLS_H
#define UP_TLS_H

#include <stdatomic.h>
#include <stdint.h>
#include "up_agent.h"

struct up_slot;

/* Thread states (up_tls.state; thread context only). */
enum {
    UP_T_NONE = 0, /* never seen: attaches at its first interposed call */
    UP_T_ATTACHED, /* sampled; calls are marked */
    UP_T_DEAD,     /* exiting, or attach failed: pass through, never attach again */
    UP_T_INTERNAL, /* an agent thread (the writer): pass through */
};

struct up_tls {
    /* The thread's slot, published to its SIGPROF handler after the slot
     * and the core's state are ready (relaxed store after a release signal
     * fence; the handler loads it relaxed and fences acquire).  NULL before
     * attach and from the start of the exit teardown. */
    _Atomic(struct up_slot *) slot;
    /* The call the thread is blocked in (a call id), 0 in user code.  Thread
     * writes, its handler reads: relaxed; signal fences order it against
     * the real call (up_call.h). */
    _Atomic uint32_t call;
    /* Handlers of the program's signals that ran on this thread (bumped by
     * the trampolines).  An interposed call compares it before and after:
     * unchanged means only our signal can have interrupted it. */
    _Atomic uint32_t foreign;
    /* Of those, the handlers installed without SA_RESTART, and their count
     * when the marked call began (up_on_sigprof: one that ran during the
     * call must interrupt it even when the kernel restarted it for our
     * tick). */
    _Atomic uint32_t foreign_intr, call_intr0;
    /* Set while a marked transfer that already moved bytes goes on for the
     * rest (UP_XFER_CALL): a program signal then ends it with the bytes
     * done, as it would have ended the one call the program made - even a
     * handler with SA_RESTART, whose restart of the continuing call the
     * trampoline turns into EINTR (up_signal.c).  Thread writes, its
     * handlers read: relaxed, signal fences in the macro. */
    _Atomic uint32_t xfer_progress;
    /* Depth of the program's handlers running on this thread (trampolines).
     * Interposers called from a handler pass straight through: no attach, no
     * safe point (it unwinds: not async-signal-safe). */
    _Atomic uint32_t in_handler;
    /* Depth of agent code on this thread: interposed calls made by the
     * agent, the core or liburcu from inside the agent pass straight
     * through.  Thread context only (handlers never change it). */
    uint32_t guard;
    uint32_t state; /* UP_T_*, thread context only */
    uint32_t warming; /* attach's first unwind: the callback writes nothing */
    uint32_t tid;
    /* CLOCK_MONOTONIC of the first sample the handler took in the current
     * call (0: none yet).  The interposer zeroes it at entry; the handler
     * sets it once.  Used to bound a socket timeout that our signal cut
     * short (up_call.c). */
    _Atomic uint64_t call_first_ns;
    /* The profiler's own ticks that reached this thread (the SIGPROF
     * handler bumps it for every tick of our timer, attached or not).  An
     * interposed call resumes after EINTR, or goes on after a partial
     * transfer, only when it moved during the attempt (up_call_ours):
     * never on the mere absence of a counted program handler, which a
     * handler installed behind our back (raw rt_sigaction) would leave. */
    _Atomic uint32_t ticks;
    /* Stack pointer of the interposer frame that set `call` (0 none).  A
     * tick whose interrupted stack pointer is above it finds the frame
     * popped - a siglongjmp (or exception) left the call - and clears the
     * stale mark; `stale` then tells the next interposed call to end that
     * context without its stack (up_call_begin_ex). */
    _Atomic uintptr_t call_sp;
    _Atomic uint32_t stale;
    /* Frames of the trampolines running on this thread (innermost last):
     * a program handler left with siglongjmp leaves its depth raised; an
     * interposed call whose own frame lies outside the innermost
     * trampoline's stack finds it stale and pops it (up_handler_repair). */
    uintptr_t tramp_sp[8];
    uintptr_t tramp_alt_lo[8], tramp_alt_hi[8]; /* its alternate stack, 0 if none */
    /* The safe point ends a context that a jump abandoned: the callback
     * writes no stack for it (its samples count as stack lost, never as
     * another call's).  Thread context only. */
    uint32_t discarding;
    /* The thread's CPU clock (us) at its last SAMPLE that reached the ring:
     * the next sample carries the difference.  Written and read by the
     * thread's SIGPROF handler only (it does not nest with itself); 0 in a
     * new thread, so its first sample counts from the thread's start. */
    uint64_t cpu_us_last;
};

extern UP_IE_TLS struct up_tls up_tls;

#endif /* UP_TLS_H */
