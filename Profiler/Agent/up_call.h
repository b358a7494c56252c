/*
 * up_call.h - what every interposer does around the real call.
 *
 *   struct up_call c;
 *   if (!up_call_begin(&c, UP_CALL_READ))
 *       return real(...);                 inert, unarmed: straight through
 *   do r = real(...); while (r < 0 && <EINTR from our signal alone>);
 *   up_call_end(&c);                      leave the mark, du_safe_point()
 *
 * Marking: on entry the thread's up_tls.call is set to the call id (so a
 * SIGPROF during the call records "in <call>" and calls du_request); on
 * return the mark is cleared first, then the safe point runs, so a sample
 * landing between the two is on-CPU and never requests a stack that this
 * safe point would not deliver.  The mark is set only for attached threads
 * in thread context: not inside agent code (up_tls.guard: the core and
 * liburcu call pthread_mutex_lock and syscall(SYS_futex) from inside the
 * agent), not on agent threads, not inside a program's signal handler
 * (du_safe_point unwinds, which is not async-signal-safe).  A thread seen
 * for the first time attaches here (lazily).
 *
 * Resuming: the agent's handler uses SA_RESTART, so the kernel restarts
 * what signal(7) says it restarts; the calls it never restarts after a
 * handler (sleeps, poll/select/epoll, futex waits with a timeout, socket
 * calls with SO_RCVTIMEO/SO_SNDTIMEO, SysV IPC, sigtimedwait, pause...)
 * return EINTR, and a blocking transfer interrupted after partial progress
 * returns the bytes done.  up_call_ours() says whether that came from our
 * signal: our tick ran on this thread during the attempt (up_tls.ticks
 * moved) and no handler of the program did (the trampolines count them,
 * up_signal.c).  Then the interposer resumes the call with what is left of
 * its timeout (or the transfer with what is left of its buffer);
 * otherwise the program gets its EINTR, or its partial count, as without
 * the agent.  A handler installed behind the agent's back (a raw
 * rt_sigaction) is not counted, but its signal moves no tick: the call
 * returns EINTR unless one of our ticks landed in the same attempt.  This
 * applies also to calls that are not marked (inside a program's handler,
 * agent threads, STOPPING): our signal must be invisible everywhere while
 * timers may exist.
 *
 * Jumps: a siglongjmp (or exception) out of a program handler that
 * interrupted a marked call pops the interposer's frame without
 * up_call_end.  The SIGPROF handler sees the interrupted stack pointer
 * above the frame that set the mark (up_tls.call_sp), clears the mark and
 * flags the context stale; the next interposed call ends that context with
 * no stack (its samples count as stack lost, never as another call's).
 * A handler depth the jump left raised is repaired the same way
 * (up_handler_repair, up_signal.c).
 */
#ifndef UP_CALL_H
#define UP_CALL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <deferred_unwind.h>
#include "up_agent.h"
#include "up_calls.h"
#include "up_idle.h"
#include "up_tls.h"

struct up_call {
    uint32_t foreign0; /* up_tls.foreign at entry */
    uint32_t ticks0;   /* up_tls.ticks at the start of the current attempt */
    uint16_t tracked;  /* the mark was set: clear it and run the safe point */
    uint16_t frozen;   /* in a frozen region (the core's du_frozen_enter): leave it first */
    uint64_t t0;       /* socket timeouts: when the call began (up_call_fd_retry) */
};

/* Attach the calling thread (first interposed call).  Sets up_tls.state to
 * ATTACHED or DEAD.  Context: thread, not in a handler, phase ACTIVE. */
void up_thread_attach_lazy(void);
/* du_safe_point() under the guard.  Context: thread, not in a handler. */
void up_safe_point(void);
/* End the context a jump abandoned (up_tls.stale): du_safe_point() with the
 * callback writing no stack.  Context: thread, not in a handler. */
void up_call_discard_stale(void);
/* up_signal.c: pop trampoline frames a siglongjmp left behind; 1 when the
 * thread is then outside every program handler.  Context: thread or handler. */
int up_handler_repair(void);
/* The same for code running at stack pointer sp (the SIGPROF handler passes
 * the interrupted one).  Context: thread or handler of this thread. */
int up_handler_repair_at(uintptr_t sp);

/* Context: thread or a program's handler; async-signal-safe.  Returns 0 when
 * the call must go straight through (agent inert, child, before init).
 * may_attach: a thread seen for the first time attaches here.  Not from
 * pthread_mutex_lock and futex waits: those are what allocators and
 * runtimes call while holding their own locks, and attaching allocates
 * (malloc inside a malloc lock would deadlock). */
/* Always inlined: the frozen region's frame is the interposer's own (the
 * frame du_frozen_enter records must stay until du_frozen_leave). */
static inline __attribute__((always_inline)) int up_call_begin_ex(struct up_call *c, uint32_t id, int may_attach)
{
    int phase = up_phase_get(); /* acquire: partner the constructor's release */
    if (UP_LIKELY(phase != UP_ACTIVE && phase != UP_STOPPING))
        return 0;
    c->tracked = 0;
    c->frozen = 0;
    c->t0 = 0;
    /* Relaxed: written by this thread's trampolines and handler only (same
     * thread). */
    c->foreign0 = atomic_load_explicit(&up_tls.foreign, memory_order_relaxed);
    c->ticks0 = atomic_load_explicit(&up_tls.ticks, memory_order_relaxed);
    if (phase != UP_ACTIVE || up_tls.guard != 0)
        return 1;
    if (UP_UNLIKELY(atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) != 0) &&
        !up_handler_repair())
        return 1;
    if (UP_UNLIKELY(up_tls.state != UP_T_ATTACHED)) {
        if (up_tls.state != UP_T_NONE || !may_attach)
            return 1;
        up_thread_attach_lazy();
        if (up_tls.state != UP_T_ATTACHED)
            return 1;
    }
    /* A mark still set, or one the handler found stale: the previous call
     * was left by a jump.  End its context without a stack first. */
    if (UP_UNLIKELY(atomic_load_explicit(&up_tls.stale, memory_order_relaxed) != 0 ||
                    atomic_load_explicit(&up_tls.call, memory_order_relaxed) != 0))
        up_call_discard_stale();
    /* Relaxed stores; the fence keeps them before the real call for this
     * thread's handler (its partner: the handler's loads, same thread). */
    atomic_store_explicit(&up_tls.call_first_ns, 0, memory_order_relaxed);
    /* A continued transfer left by a jump (UP_XFER_CALL never reached its
     * clear) must not make this call's program signals end it. */
    atomic_store_explicit(&up_tls.xfer_progress, 0, memory_order_relaxed);
    /* The interposer's frame: `c` is its local (its address escapes here,
     * so it lives on the stack), above every frame of the real call.  Not
     * __builtin_frame_address: when this function is not inlined that is
     * its own frame, below the interposer's, and a real call's frames can
     * lie above it (a false "jumped out": stacks dropped, off-CPU samples
     * counted on-CPU; seen in the 200-thread test on a clean clone). */
    atomic_store_explicit(&up_tls.call_sp, (uintptr_t)c, memory_order_relaxed);
    atomic_store_explicit(&up_tls.call_intr0, atomic_load_explicit(&up_tls.foreign_intr, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&up_tls.call, id, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    c->tracked = 1;
    /* A frozen region around the real call: the writer thread, the core's
     * proxy, may unwind this thread's stack above this frame and write the
     * STACK records of its samples while it stays blocked (up_writer.c). */
    c->frozen = du_frozen_enter() == 0;
    /* Relaxed: its partner is this thread's handler (up_idle.h). */
    atomic_store_explicit(&up_idle_tls.frozen, c->frozen, memory_order_relaxed);
    return 1;
}

static inline __attribute__((always_inline)) int up_call_begin(struct up_call *c, uint32_t id)
{
    return up_call_begin_ex(c, id, 1);
}

/* Whether the attempt that just returned was cut short by our signal
 * alone: our tick ran on this thread since the attempt began and no
 * program handler has since the call began.  A yes starts the next
 * attempt (the tick is consumed).  Relaxed: the handlers that bump the
 * counts ran on this thread before the interrupted call returned
 * (same-thread order; the real call is opaque to the compiler). */
static inline int up_call_cut_by_tick(struct up_call *c)
{
    uint32_t t = atomic_load_explicit(&up_tls.ticks, memory_order_relaxed);
    if (t == c->ticks0 || atomic_load_explicit(&up_tls.foreign, memory_order_relaxed) != c->foreign0)
        return 0;
    c->ticks0 = t;
    return 1;
}

/* Whether err (an EINTR) came from our signal alone (up_call_cut_by_tick). */
static inline int up_call_ours(struct up_call *c, int err)
{
    return err == EINTR && up_call_cut_by_tick(c);
}

/* Leave the mark, then the safe point; errno preserved.  Context: as begin. */
static inline void up_call_end(struct up_call *c)
{
    if (!c->tracked)
        return;
    int saved = errno;
    atomic_signal_fence(memory_order_seq_cst); /* after the real call */
    up_idle_leave(); /* a parked thread takes its periods back, re-arms (up_idle.c) */
    if (c->frozen)
        (void)du_frozen_leave(); /* waits while the writer serves this thread */
    atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed);
    atomic_store_explicit(&up_tls.call_sp, 0, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* before the safe point */
    up_safe_point();
    errno = saved;
}

/* After -1/EINTR from a socket-capable call on fd (read, recv*, send*,
 * accept...), which with our SA_RESTART handler happens only when the
 * socket has a timeout (SO_RCVTIMEO / SO_SNDTIMEO: `optname`) or a driver
 * returns EINTR itself.  Returns 1: ours, call again; 0: a program handler
 * ran, return -1/EINTR; -1: the socket timeout has passed since the call
 * began, return -1 with errno EAGAIN as the kernel would.  The kernel
 * restarts the socket's full timeout on each retry and does not say how
 * much was left, so the start is taken as the call's first sample
 * (up_tls; the call began at most one period before it) and each retry
 * runs until our next tick: a timed-out call returns up to two sampling
 * periods late (the kernel's own jiffy rounding adds a few ms anyway);
 * never early.  Context: as begin. */
int up_call_fd_retry(struct up_call *c, int fd, int optname);

#endif /* UP_CALL_H */
