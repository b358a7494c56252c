/*
 * up_idle.c - parking: a thread that stays blocked in an interposed call is
 * sampled on its behalf by the writer instead of being woken at each tick.
 *
 * Why: one timer per thread (up_sampler.c) wakes every blocked thread at
 * every tick; the handler records a sample and the call is resumed.  With
 * 200 idle threads at 999 Hz that is 200k wake-ups a second, more CPU than
 * a core (Docs/ProfilerPerformance.md).  A thread asleep in a frozen region
 * has nothing new to say at each tick: same call, same stack (the proxy
 * delivers it once, by cookie), no CPU.  So:
 *
 *  1. Park (the SIGPROF handler).  A tick that finds the thread asleep in a
 *     system call (UP_SAMPLE_BLOCKED) inside a marked call in a frozen
 *     region, not its first tick in that call (a call that blocked for a
 *     whole period: short calls never pay the two extra syscalls), with a
 *     cookie and no program handler running: it records its sample as
 *     usual, disarms the thread's timer (timer_settime, async-signal-safe),
 *     writes what the writer needs (tid, call, cookie, pc, state bits) and
 *     publishes `due` = the next period boundary (this tick + period).
 *  2. Serve (the writer, every round).  For each parked slot whose due
 *     periods cover >= 100 ms (all of them in the final round): advance
 *     `due` past now with a compare-exchange, and only if it succeeded
 *     write one SAMPLE standing for those k periods (overrun bits k - 1),
 *     with the parked call's cookie (the proxy's STACK), cpu_us 0 (it
 *     slept) and the parking tick's state and pc.
 *  3. Unpark (the thread leaving the call: up_call_end, a stale mark,
 *     its exit teardown).  Exchange `due` with 0; the periods from the
 *     value taken up to now are the thread's: one SAMPLE in its own ring
 *     (with the CPU time it used while parked); then re-arm the timer at
 *     the next boundary, absolute (TIMER_ABSTIME), so the grid of period
 *     boundaries goes on and no fraction of a period is lost or doubled.
 *
 * `due` (one atomic word per slot) is the protocol: 0 = not parked,
 * otherwise the first boundary nobody accounted.  It is only ever moved by
 * read-modify-writes once published (the writer's CAS, the thread's
 * exchange), and each boundary is accounted by the RMW that moves `due`
 * past it: the writer's CAS fails if the thread took the word first, and
 * the thread starts from whatever the writer's last CAS left.  So no period
 * is counted twice or lost, however the writer's round and the leave
 * interleave.  No ABA: a later park stores a boundary after its own tick,
 * later than any `due` a writer could hold (it only acts on due <= its
 * now, read before its load).  The descriptive fields are relaxed atomics
 * written before the release store of `due` (partner: the writer's acquire
 * load); a writer whose CAS succeeds read them while `due` was unchanged,
 * and a thread rewrites them only after taking `due` to 0, so they belong
 * to the park it accounted.
 *
 * Races:
 *  - A tick generated before the disarm and delivered after it: SIGPROF is
 *    blocked while our handler runs, so it is delivered as the handler
 *    returns, the thread still parked: skipped (up_idle_tick_skipped; it
 *    still moves up_tls.ticks, so the call resumes as after any tick).  A
 *    late one after the re-arm (SIGPROF blocked by a program handler's
 *    mask meanwhile) arrives before the re-armed grid's first boundary:
 *    ticks earlier than half a period before it are skipped (early_ns).
 *  - A program handler on a parked thread: the trampoline unparks before
 *    it runs (up_idle_wake), so the handler and wherever it jumps to are
 *    sampled as usual; returning into the call, the call parks again at
 *    its next blocked tick.  The trampoline may interrupt the parking
 *    handler (it sees RUN until everything is published: nothing to do)
 *    or the thread's own unpark (it sees LEAVING: nothing to do; or it
 *    unparks first and the thread's exchange then finds 0).
 *  - Thread exit while parked (a cancellation point inside the call): the
 *    teardown deletes the timer, then unparks (no re-arm), before its slot
 *    is retired: a retired slot is never parked.
 *  - End of the recording: the writer's final round accounts every parked
 *    thread up to then; a thread that unparks after it pushes into a ring
 *    nobody drains.  No re-arm unless the phase is ACTIVE and the timer is
 *    live.
 *  - fork: the child has the forking thread only, which was running (in
 *    fork), not parked; up_idle_fork_child forgets every other slot's
 *    parking before the child's writer starts (up_init.c's child handler).
 *  - The timer id: disarm and re-arm use it only while timer_live reads 1
 *    (seq_cst, partner up_timer_stop's exchange); process exit may delete
 *    it between that load and the call (the call then fails with EINVAL,
 *    unless the program created a timer in that window that got the same
 *    id: the same window as any tick racing with exit).
 */
#include <errno.h>
#include <time.h>
#include "up_idle.h"
#include "up_syscall.h"
#include "up_tls.h"

UP_HIDDEN UP_IE_TLS struct up_idle_tls up_idle_tls;

/* The writer's view of one slot (parallel to up_slots, same index). */
struct up_idle_slot {
    _Atomic uint64_t due; /* 0, or the first period boundary nobody accounted (ns) */
    _Atomic uint64_t cookie, pc;
    _Atomic uint32_t tid, call;
    _Atomic uint32_t state; /* syscall << 16 | cpu_state of the parking tick */
};

static struct up_idle_slot up_idle_slots[UP_MAX_SLOTS];

void up_idle_fork_child(void)
{
    /* One thread in the child, the writer not started: relaxed stores. */
    for (uint32_t i = 0; i < UP_MAX_SLOTS; i++)
        atomic_store_explicit(&up_idle_slots[i].due, 0, memory_order_relaxed);
    atomic_store_explicit(&up_idle_tls.state, UP_IDLE_RUN, memory_order_relaxed);
    atomic_store_explicit(&up_idle_tls.frozen, 0, memory_order_relaxed);
    atomic_store_explicit(&up_idle_tls.early_ns, 0, memory_order_relaxed);
}

/* One writer record per parked thread per this much elapsed time.  It also
 * keeps a thread's records in time order in the file: the parking tick's
 * own SAMPLE, pushed before `due` is published, is drained (every 10-50 ms)
 * long before the writer writes the first batch after it.  (The final
 * round takes every period, but no thread parks once the phase left
 * ACTIVE, before that round.) */
#define UP_IDLE_BATCH_NS 100000000ull

static uint64_t up_idle_period(void) { return (uint64_t)up_config.period_ns; }

/* Context: the handler or thread of s; lock-free (the table only grows and
 * its entries never move, up_slot.h). */
static int up_idle_index(struct up_slot *s)
{
    if (up_idle_tls.slot == s)
        return 0;
    uint32_t n = up_slot_count(); /* acquire: entries below n are set */
    for (uint32_t i = 0; i < n; i++)
        if (up_slots[i] == s) {
            up_idle_tls.slot = s;
            up_idle_tls.index = i;
            return 0;
        }
    return -ESRCH;
}

int up_idle_tick_skipped(void)
{
    /* Relaxed: this thread's words (same-thread partners). */
    if (atomic_load_explicit(&up_idle_tls.state, memory_order_relaxed) != UP_IDLE_RUN)
        return 1;
    uint64_t early = atomic_load_explicit(&up_idle_tls.early_ns, memory_order_relaxed);
    if (UP_UNLIKELY(early != 0)) {
        if (up_monotonic_ns() < early)
            return 1;
        atomic_store_explicit(&up_idle_tls.early_ns, 0, memory_order_relaxed);
    }
    return 0;
}

void up_idle_park_maybe(struct up_slot *s, const struct up_rec_sample *rec, int again)
{
    /* Relaxed: this thread's words (the interposer and trampolines). */
    if (!again || rec->cookie == 0 || !(rec->cpu_state & UP_SAMPLE_BLOCKED) ||
        atomic_load_explicit(&up_idle_tls.frozen, memory_order_relaxed) == 0 ||
        atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&up_phase, memory_order_relaxed) != UP_ACTIVE)
        return;
    if (up_idle_index(s) != 0)
        return;
    /* seq_cst: partner up_timer_stop's exchange (the id is still ours). */
    if (!atomic_load_explicit(&s->timer_live, memory_order_seq_cst))
        return;
    struct itimerspec off = {{0, 0}, {0, 0}};
    if (timer_settime(s->timer, 0, &off, NULL) != 0)
        return; /* errno: the handler restores it */
    struct up_idle_slot *p = &up_idle_slots[up_idle_tls.index];
    /* Relaxed: published by the release store of `due` below. */
    atomic_store_explicit(&p->tid, rec->tid, memory_order_relaxed);
    atomic_store_explicit(&p->call, rec->call, memory_order_relaxed);
    atomic_store_explicit(&p->cookie, rec->cookie, memory_order_relaxed);
    atomic_store_explicit(&p->pc, rec->pc, memory_order_relaxed);
    atomic_store_explicit(&p->state, (uint32_t)rec->syscall << 16 | rec->cpu_state, memory_order_relaxed);
    /* Release: partner the writer's acquire load of `due`. */
    atomic_store_explicit(&p->due, rec->time_ns + up_idle_period(), memory_order_release);
    /* Then parked for this thread: a program handler nested before this
     * store finds the thread running and leaves it alone (no unpark of a
     * half-published park); a late tick of ours cannot come before it
     * (SIGPROF is blocked while this handler runs). */
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&up_idle_tls.state, UP_IDLE_PARKED, memory_order_relaxed);
}

/* One SAMPLE standing for k >= 1 periods, the last ending at `last`. */
static void up_idle_record(struct up_rec_sample *r, const struct up_idle_slot *p, uint64_t k, uint64_t last)
{
    uint32_t st = atomic_load_explicit(&p->state, memory_order_relaxed);
    *r = (struct up_rec_sample){
        .h = {.type = UP_REC_SAMPLE,
              .flags = (uint16_t)(UP_SAMPLE_ALREADY | (uint32_t)(k - 1) << UP_SAMPLE_OVERRUN_SHIFT),
              .size = sizeof *r},
        .tid = atomic_load_explicit(&p->tid, memory_order_relaxed),
        .call = atomic_load_explicit(&p->call, memory_order_relaxed),
        .time_ns = last,
        .cookie = atomic_load_explicit(&p->cookie, memory_order_relaxed),
        .pc = atomic_load_explicit(&p->pc, memory_order_relaxed),
        .cpu_us = 0,
        .syscall = (uint16_t)(st >> 16),
        .cpu_state = (uint16_t)((st & 0xffffu) | UP_SAMPLE_CPU_MEASURED),
    };
}

#define UP_IDLE_MAX_K (UP_SAMPLE_OVERRUN_MAX + 1ull)

void up_idle_unpark(void)
{
    /* The caller saw PARKED: the parking handler's slot, index and fields
     * are read after it (partner: that handler's fence before PARKED). */
    atomic_signal_fence(memory_order_acquire);
    struct up_slot *s = up_idle_tls.slot;
    atomic_store_explicit(&up_idle_tls.state, UP_IDLE_LEAVING, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* late ticks skip from here */
    struct up_idle_slot *p = &up_idle_slots[up_idle_tls.index];
    /* acq_rel RMW: partner the writer's CAS; `due` is where it stopped. */
    uint64_t due = atomic_exchange_explicit(&p->due, 0, memory_order_acq_rel);
    if (due == 0) { /* a program handler nested before our LEAVING unparked */
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store_explicit(&up_idle_tls.state, UP_IDLE_RUN, memory_order_relaxed);
        return;
    }
    uint64_t period = up_idle_period();
    uint64_t now = up_monotonic_ns();
    uint64_t next = due;
    if (now >= due) {
        uint64_t k = (now - due) / period + 1;
        next = due + k * period;
        /* The CPU time since the last sample (the parking tick's): the
         * handler is off (no timer, ticks skipped), so this thread may
         * use its word and its ring's producer side here. */
        uint64_t cpu = up_thread_cpu_us();
        uint64_t last_cpu = up_tls.cpu_us_last;
        for (uint64_t done = 0; done < k;) {
            uint64_t n = k - done < UP_IDLE_MAX_K ? k - done : UP_IDLE_MAX_K;
            done += n;
            struct up_rec_sample r;
            up_idle_record(&r, p, n, due + (done - 1) * period);
            if (done == k && cpu != 0) {
                uint64_t d = cpu >= last_cpu ? cpu - last_cpu : cpu;
                r.cpu_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
            }
            if (up_sample_push(s, &r) == 0 && done == k && cpu != 0)
                up_tls.cpu_us_last = cpu;
        }
    }
    /* Running again before the re-arm, so no tick of the new grid is
     * skipped; a late one of the old grid in between meets early_ns. */
    atomic_store_explicit(&up_idle_tls.early_ns, next - period / 2, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&up_idle_tls.state, UP_IDLE_RUN, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    /* The same grid: the next tick at the first boundary after now. */
    if (atomic_load_explicit(&up_phase, memory_order_relaxed) == UP_ACTIVE &&
        atomic_load_explicit(&s->timer_live, memory_order_seq_cst)) {
        struct itimerspec its = {
            .it_interval = {.tv_sec = (time_t)(period / 1000000000ull), .tv_nsec = (long)(period % 1000000000ull)},
            .it_value = {.tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull)},
        };
        (void)timer_settime(s->timer, TIMER_ABSTIME, &its, NULL);
    }
}

uint64_t up_idle_serve(up_emit_fn *emit, int final)
{
    uint64_t period = up_idle_period();
    uint64_t batch = final ? 1 : UP_IDLE_BATCH_NS / period;
    if (batch == 0)
        batch = 1;
    uint64_t now = up_monotonic_ns();
    uint64_t written = 0;
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n; i++) {
        struct up_idle_slot *p = &up_idle_slots[i];
        /* Acquire: partner the parking handler's release (the fields). */
        uint64_t due = atomic_load_explicit(&p->due, memory_order_acquire);
        if (due == 0 || now < due)
            continue;
        uint64_t k = (now - due) / period + 1;
        if (k < batch)
            continue;
        struct up_rec_sample recs[4];
        uint32_t nrec = 0;
        uint64_t done = 0;
        while (done < k && nrec < 4) {
            uint64_t m = k - done < UP_IDLE_MAX_K ? k - done : UP_IDLE_MAX_K;
            done += m;
            up_idle_record(&recs[nrec++], p, m, due + (done - 1) * period);
        }
        /* acq_rel: the thread's exchange is the partner; only the RMW that
         * moves `due` past a boundary accounts it. */
        if (!atomic_compare_exchange_strong_explicit(&p->due, &due, due + done * period, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue; /* the thread left the call: its leave accounts */
        for (uint32_t j = 0; j < nrec; j++)
            emit(&recs[j], sizeof recs[j]);
        written += nrec;
    }
    return written;
}
