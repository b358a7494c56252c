/*
 * up_idle.h - parking: threads that stay blocked in an interposed call are
 * sampled on their behalf by the writer instead of being woken at every
 * tick (up_idle.c has the protocol and its races).
 *
 *   handler, 2nd tick in one blocked call   -> up_idle_park_maybe: disarm
 *                                              the timer, publish "parked"
 *   writer, every round                     -> up_idle_serve: SAMPLEs for
 *                                              the periods that passed
 *   thread, leaving the call (or exiting)   -> up_idle_leave: claim back,
 *                                              last periods, re-arm
 */
#ifndef UP_IDLE_H
#define UP_IDLE_H

#include <stdatomic.h>
#include <stdint.h>
#include "up_agent.h"
#include "up_records.h"
#include "up_ring.h"
#include "up_slot.h"

/* This thread's side.  Written and read by the thread and its handlers only
 * (relaxed atomics, signal fences where a handler must see an order). */
struct up_idle_tls {
    /* UP_IDLE_RUN, UP_IDLE_PARKED (timer disarmed, the writer accounts),
     * UP_IDLE_LEAVING (the thread is claiming its periods back). */
    _Atomic uint32_t state;
    /* 1 while the marked call is inside a frozen region (up_call.h): only
     * then does the proxy deliver the stack while the thread sleeps. */
    _Atomic uint32_t frozen;
    /* The slot and its index in up_slots (the writer's table is parallel). */
    struct up_slot *slot;
    uint32_t index;
    /* After a re-arm, a tick earlier than this (CLOCK_MONOTONIC ns) is one
     * generated before the disarm and delivered late: its periods were
     * accounted already.  0: no check. */
    _Atomic uint64_t early_ns;
};

enum { UP_IDLE_RUN = 0, UP_IDLE_PARKED, UP_IDLE_LEAVING };

extern UP_IE_TLS struct up_idle_tls up_idle_tls;

/* Whether this tick must record nothing: the thread is parked or leaving
 * (the writer or the leave accounts its periods), or the tick is a late
 * one from before a disarm.  Context: the SIGPROF handler, our tick. */
int up_idle_tick_skipped(void);

/* After the handler recorded `rec` (a sample inside a marked call; `again`:
 * not the call's first tick): park when the thread sleeps in a frozen
 * region, has a cookie and no program handler runs on it.
 * Context: the SIGPROF handler on s's thread; async-signal-safe. */
void up_idle_park_maybe(struct up_slot *s, const struct up_rec_sample *rec, int again);

/* The thread takes its slot back: accounts the periods the writer did not,
 * as one weighted SAMPLE in its ring, and re-arms its timer on the same
 * period grid.  Context: the parked thread, thread context (or its exit
 * teardown), or a program's handler on it (up_idle_wake);
 * async-signal-safe. */
void up_idle_unpark(void);

/* The call is left (up_call_end, a stale mark, the thread's exit).  One
 * relaxed load on the common path.  Context: thread. */
static inline void up_idle_leave(void)
{
    atomic_store_explicit(&up_idle_tls.frozen, 0, memory_order_relaxed);
    if (UP_UNLIKELY(atomic_load_explicit(&up_idle_tls.state, memory_order_relaxed) == UP_IDLE_PARKED))
        up_idle_unpark();
}

/* A program handler is about to run on this thread: a parked thread is
 * unparked (the handler runs on CPU, and may jump out of the call).
 * Context: the trampoline (a handler on this thread). */
static inline void up_idle_wake(void)
{
    if (UP_UNLIKELY(atomic_load_explicit(&up_idle_tls.state, memory_order_relaxed) == UP_IDLE_PARKED))
        up_idle_unpark();
}

/* The writer's round: for every parked thread, one SAMPLE per ~100 ms of
 * elapsed periods (all of them when `final`), weighted by the periods it
 * stands for, written with emit.  Returns the records written.
 * Context: the writer thread. */
uint64_t up_idle_serve(up_emit_fn *emit, int final);

/* The fork child forgets the parent's parked threads (only the forking
 * thread exists, and it was running).  Context: the atfork child handler. */
void up_idle_fork_child(void);

#endif /* UP_IDLE_H */
