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
 * calls with SO_RCVTIMEO/SO_SNDTIMEO, sigtimedwait, pause...) return EINTR.
 * up_call_ours() says whether that EINTR can only have come from our
 * signal: no handler of the program ran on this thread since the call
 * began (the trampolines count them, up_signal.c).  Then the interposer
 * resumes the call with what is left of its timeout; otherwise the program
 * gets its EINTR as without the agent.  This applies also to calls that are
 * not marked (inside a program's handler, agent threads, STOPPING): our
 * signal must be invisible everywhere while timers may exist.
 */
#ifndef UP_CALL_H
#define UP_CALL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include "up_agent.h"
#include "up_calls.h"
#include "up_tls.h"

struct up_call {
    uint32_t foreign0; /* up_tls.foreign at entry */
    uint32_t tracked;  /* the mark was set: clear it and run the safe point */
    uint64_t t0;       /* socket timeouts: when the call began (up_call_fd_retry) */
};

/* Attach the calling thread (first interposed call).  Sets up_tls.state to
 * ATTACHED or DEAD.  Context: thread, not in a handler, phase ACTIVE. */
void up_thread_attach_lazy(void);
/* du_safe_point() under the guard.  Context: thread, not in a handler. */
void up_safe_point(void);

/* Context: thread or a program's handler; async-signal-safe.  Returns 0 when
 * the call must go straight through (agent inert, child, before init).
 * may_attach: a thread seen for the first time attaches here.  Not from
 * pthread_mutex_lock and futex waits: those are what allocators and
 * runtimes call while holding their own locks, and attaching allocates
 * (malloc inside a malloc lock would deadlock). */
static inline int up_call_begin_ex(struct up_call *c, uint32_t id, int may_attach)
{
    int phase = up_phase_get(); /* acquire: partner the constructor's release */
    if (UP_LIKELY(phase != UP_ACTIVE && phase != UP_STOPPING))
        return 0;
    c->tracked = 0;
    c->t0 = 0;
    /* Relaxed: written by this thread's trampolines only (same thread). */
    c->foreign0 = atomic_load_explicit(&up_tls.foreign, memory_order_relaxed);
    if (phase != UP_ACTIVE || up_tls.guard != 0 ||
        atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) != 0)
        return 1;
    if (UP_UNLIKELY(up_tls.state != UP_T_ATTACHED)) {
        if (up_tls.state != UP_T_NONE || !may_attach)
            return 1;
        up_thread_attach_lazy();
        if (up_tls.state != UP_T_ATTACHED)
            return 1;
    }
    /* Relaxed stores; the fence keeps them before the real call for this
     * thread's handler (its partner: the handler's loads, same thread). */
    atomic_store_explicit(&up_tls.call_first_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&up_tls.call, id, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    c->tracked = 1;
    return 1;
}

static inline int up_call_begin(struct up_call *c, uint32_t id) { return up_call_begin_ex(c, id, 1); }

/* Whether err (an EINTR) came from our signal alone: no program handler ran
 * on this thread since up_call_begin.  Relaxed: the trampoline that would
 * have bumped the count ran on this thread before the interrupted call
 * returned (same-thread order; the real call is opaque to the compiler). */
static inline int up_call_ours(const struct up_call *c, int err)
{
    return err == EINTR &&
           atomic_load_explicit(&up_tls.foreign, memory_order_relaxed) == c->foreign0;
}

/* Leave the mark, then the safe point; errno preserved.  Context: as begin. */
static inline void up_call_end(struct up_call *c)
{
    if (!c->tracked)
        return;
    int saved = errno;
    atomic_signal_fence(memory_order_seq_cst); /* after the real call */
    atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed);
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
