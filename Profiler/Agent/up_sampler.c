/*
 * up_sampler.c - per-thread wall-clock timers and the SIGPROF handler.
 *
 * Why per-thread POSIX timers (timer_create(CLOCK_MONOTONIC) with
 * SIGEV_THREAD_ID) rather than a sampler thread sending tgkill():
 *  - the kernel delivers each tick straight to its thread: no extra thread
 *    waking frequency x threads times a second (200 threads at 999 Hz would
 *    be 200k tgkill calls a second from one thread, on a 2-core machine a
 *    visible share of a CPU, and its own scheduling delays would skew the
 *    sample times);
 *  - no walk of a thread list under a lock per tick, and no tid-reuse race
 *    (a tgkill to a thread that just exited can hit an unrelated new thread
 *    that reused its tid); a timer belongs to its slot and is deleted at the
 *    thread's exit, exactly once (timer_live below);
 *  - a tick cannot pile up: while a timer's signal is still pending the
 *    kernel counts an overrun instead of queueing another, so a thread that
 *    blocks SIGPROF costs nothing and gets its samples when it unblocks.
 * Costs: one kernel timer per thread, accounted against RLIMIT_SIGPENDING
 * (each timer preallocates its signal; the default limit is in the tens of
 * thousands); timer_create fails beyond it and that thread goes unsampled,
 * which the agent reports once.
 *
 * The handler (SA_SIGINFO | SA_RESTART, empty mask) records one SAMPLE into
 * the thread's sample ring: tid, call (the mark, 0 = outside interposed
 * calls), time, cookie, interrupted pc, the thread's CPU time since its
 * previous sample and whether the tick woke it from a sleeping system call
 * (up_syscall.c; the report's on-/off-CPU split, Docs/Profiler.md), and
 * outside interposed calls a copy of the stack window that the writer
 * unwinds (up_copy.c).  Only when the thread is inside an interposed call does
 * it call du_request (the stack is unwound at the call's return, at its
 * safe point); samples in user code carry the pc alone.  No allocation,
 * lock or stdio; errno preserved.  A SIGPROF that is not one of our ticks
 * (si_code SI_TIMER with our tag in si_value) is the program's: up_signal.c
 * gives it to the program's SIGPROF action.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <deferred_unwind.h>
#include "up_call.h"
#include "up_calls.h"
#include "up_copy.h"
#include "up_idle.h"
#include "up_real.h"
#include "up_ring.h"
#include "up_sampler.h"
#include "up_signal.h"
#include "up_syscall.h"
#include "up_tls.h"

/* Its address marks our timers' signals (sigev_value). */
static const char up_timer_tag;

static uint64_t up_uc_sp(const void *ucv)
{
    const ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uint64_t)uc->uc_mcontext.sp;
#else
    (void)uc;
    return 0;
#endif
}

static uint64_t up_uc_pc(const void *ucv)
{
    const ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uint64_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

#ifdef UP_BASELINE_PER_SAMPLE
/*
 * ---- Benchmark-only: the per-sample unwinder baseline --------------------
 * Built only by `make agent-baseline` (libunwind_profile_agent_baseline.so,
 * for Scripts/bench/profiler.sh); the shipped agent has none of it (the script
 * checks with nm that no up_baseline symbol is in it).  Here the handler of
 * a sample inside an interposed call unwinds at once with backtrace(), as
 * gperftools-style per-sample unwinders do, and writes one STACK per sample
 * with a cookie of its own: what deferring saves is measured against it.
 *
 * NOT async-signal-safe in general, which is why it is never the default:
 * backtrace()'s first use dlopens libgcc_s (it is warmed up in the
 * constructor below, and the core warms it again at each attach), and
 * libgcc's FDE lookup may walk the loaded objects under the loader's lock,
 * so a handler that lands inside dlopen or another unwind on the same
 * thread can deadlock or read a half-updated list.  It unwinds only while
 * the thread is marked, i.e. blocked inside an interposed call.
 *
 * Ring: in this build the handler is the stack ring's only producer.  The
 * thread never writes it: du_request is never called outside the attach
 * warm-up (whose callback writes nothing, up_tls.warming), so the tracer
 * callback has nothing to deliver at safe points, thread exit or process
 * exit.  The SPSC protocol of up_ring.h holds with the handler as producer
 * (SIGPROF does not nest with itself; the thread's exit teardown clears
 * up_tls.slot before retiring the slot, as for the sample ring).  A full
 * ring drops the stack and counts it (k_lost, written only by the
 * producer): a handler cannot wait for the writer.
 */
#include <execinfo.h>

#define UP_BASELINE_FRAMES 128 /* 1 KiB of the handler's stack */

/* Cookies of the baseline's STACKs: one per sample, unique in the process.
 * Relaxed fetch_add: only uniqueness matters, nothing is published by it. */
static _Atomic uint64_t up_baseline_cookies;
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the cookie counter is lock-free in a handler");

static int up_baseline_in_agent(void *ip)
{
    return (uintptr_t)ip >= up_config.text_start && (uintptr_t)ip < up_config.text_end;
}

/* Context: the SIGPROF handler, the thread inside an interposed call. */
static void up_baseline_unwind(struct up_slot *s, struct up_rec_sample *rec)
{
    void *ips[UP_BASELINE_FRAMES];
    int n = backtrace(ips, UP_BASELINE_FRAMES);
    /* The trace is: this handler (agent), the signal return trampoline and
     * the interrupted libc call (absent when the pc was in the interposer),
     * the interposer (agent), then the program.  Cut up to the program's
     * call site, where the deferred trace starts too (up_stack.c). */
    int i = 0;
    while (i < n && up_baseline_in_agent(ips[i]))
        i++;
    int j = i;
    while (j < n && !up_baseline_in_agent(ips[j]))
        j++;
    if (j < n) {
        while (j < n && up_baseline_in_agent(ips[j]))
            j++;
        i = j;
    }
    uint32_t nr = (uint32_t)(n - i);
    uint64_t cookie = atomic_fetch_add_explicit(&up_baseline_cookies, 1, memory_order_relaxed) + 1;
    struct up_rec_stack st = {
        .h = {.type = UP_REC_STACK, .flags = 0, .size = up_rec_size(sizeof st, (size_t)nr * 8)},
        .tid = s->tid,
        .flags = UP_STACK_DWARF | (n == UP_BASELINE_FRAMES ? DU_TRACE_TRUNCATED : 0u),
        .cookie = cookie,
        .nr = nr,
        .reserved = 0,
    };
    _Static_assert(sizeof(void *) == sizeof(uint64_t), "backtrace() fills 64-bit addresses");
    if (up_stack_push(s, &st, nr ? (const uint64_t *)(const void *)(ips + i) : NULL) != 0) {
        uint64_t lost = atomic_load_explicit(&s->k_lost, memory_order_relaxed);
        atomic_store_explicit(&s->k_lost, lost + 1, memory_order_relaxed);
    }
    rec->h.flags = UP_SAMPLE_QUEUED;
    rec->cookie = cookie;
}

static void up_baseline_warm_up(void)
{
    void *ips[4];
    (void)backtrace(ips, 4);
}
#endif /* UP_BASELINE_PER_SAMPLE */

/* The thread's state at the tick and its CPU time since its previous
 * SAMPLE, then the push.  The clock is read last, so the CPU this handler
 * spent so far counts in this sample.  A dropped sample (ring full) leaves
 * cpu_us_last alone: the next one carries its CPU time.
 * The clock costs a system call (~0.45 us, Benchmarks/results/2026-12-08/
 * cpu-split-clock-cost.txt): a thread asleep in the same interposed call
 * as at its previous sample (`again`) ran nothing since, so its sample goes
 * without (cpu_state without UP_SAMPLE_CPU_MEASURED; the next read carries
 * whatever it did use): idle threads cost no more than before.
 * Context: the SIGPROF handler on the slot's thread. */
static void up_sample_state(struct up_slot *s, struct up_rec_sample *rec, const void *ucv, int again)
{
    int32_t nr = -1;
    int st = up_uc_syscall_state(ucv, &nr);
    if (st != UP_UC_UNKNOWN)
        rec->cpu_state |= UP_SAMPLE_STATE_KNOWN;
    if (st == UP_UC_BLOCKED || st == UP_UC_RETURN) {
        rec->cpu_state |= st == UP_UC_BLOCKED ? UP_SAMPLE_BLOCKED : UP_SAMPLE_AT_RETURN;
        if (nr >= 0 && nr <= UINT16_MAX) {
            rec->cpu_state |= UP_SAMPLE_SYSCALL;
            rec->syscall = (uint16_t)nr;
        }
    }
    uint64_t now = again && st == UP_UC_BLOCKED ? 0 : up_thread_cpu_us();
    uint64_t last = up_tls.cpu_us_last;
    if (now != 0) {
        /* Below the last value: a fork child's thread (its clock restarted
         * and the TLS is the parent's); it counts from its own start. */
        uint64_t d = now >= last ? now - last : now;
        rec->cpu_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        rec->cpu_state |= UP_SAMPLE_CPU_MEASURED;
    }
    if (up_sample_push(s, rec) == 0 && now != 0)
        up_tls.cpu_us_last = now;
}

/* Context: the SIGPROF handler on the slot's thread. */
static void up_sample(struct up_slot *s, const void *ucv, int overrun)
{
    if (up_idle_tick_skipped())
        return; /* parked: the writer or the leave accounts (up_idle.c) */
    struct up_rec_sample rec = {
        .h = {.type = UP_REC_SAMPLE, .flags = 0, .size = sizeof rec},
        .tid = s->tid,
        /* Relaxed: written by this thread (up_call.h), same-thread partner. */
        .call = atomic_load_explicit(&up_tls.call, memory_order_relaxed),
        .time_ns = up_monotonic_ns(),
        .cookie = 0,
        .pc = up_uc_pc(ucv),
    };
    /* Periods the tick waited through (a thread waiting for a CPU gets one
     * signal for many ticks): the report weights the sample by them. */
    if (overrun > 0)
        rec.h.flags |= (uint16_t)((overrun > (int)UP_SAMPLE_OVERRUN_MAX ? UP_SAMPLE_OVERRUN_MAX : (uint32_t)overrun)
                                  << UP_SAMPLE_OVERRUN_SHIFT);
    /* A mark whose interposer frame is gone (the interrupted stack pointer
     * is above it, and no program handler runs on us): a jump left the
     * call.  On-CPU from here; the next interposed call ends the stale
     * context (up_call.h).  Relaxed: this thread's own words. */
    uintptr_t call_sp = atomic_load_explicit(&up_tls.call_sp, memory_order_relaxed);
    int again = 0; /* an earlier sample was in the same interposed call */
    if (UP_UNLIKELY(rec.call != UP_CALL_ONCPU && call_sp != 0 && up_uc_sp(ucv) > call_sp &&
                    (atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed) == 0 ||
                     up_handler_repair_at(up_uc_sp(ucv))))) {
        atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed);
        atomic_store_explicit(&up_tls.call_sp, 0, memory_order_relaxed);
        atomic_store_explicit(&up_tls.stale, 1, memory_order_relaxed);
        atomic_store_explicit(&up_tls.xfer_progress, 0, memory_order_relaxed);
        rec.call = UP_CALL_ONCPU;
    }
    if (rec.call != UP_CALL_ONCPU) {
        /* The call's first sample (relaxed, same thread: up_call_fd_retry). */
        again = atomic_load_explicit(&up_tls.call_first_ns, memory_order_relaxed) != 0;
        if (!again)
            atomic_store_explicit(&up_tls.call_first_ns, rec.time_ns, memory_order_relaxed);
#ifdef UP_BASELINE_PER_SAMPLE
        up_baseline_unwind(s, &rec); /* benchmark-only, see above */
#else
        uint64_t cookie = 0;
        int r = du_request(up_tracer, &cookie);
        /* |=: bits 3.. already hold the overruns (an off-CPU thread woken
         * late stands for every tick it slept through). */
        rec.h.flags |= r == 0 ? UP_SAMPLE_QUEUED : r == 1 ? UP_SAMPLE_ALREADY : UP_SAMPLE_FAILED;
        rec.cookie = r >= 0 ? cookie : 0;
#endif
    }
    /* Outside interposed calls: a copy of the stack for the writer to
     * unwind (up_copy.h); 0 when the ring is full (the pc alone). */
    if (rec.call == UP_CALL_ONCPU)
        rec.cookie = up_copy_take(s, ucv);
    up_sample_state(s, &rec, ucv, again);
#ifndef UP_BASELINE_PER_SAMPLE
    if (again)
        up_idle_park_maybe(s, &rec, again);
#endif
}

/*
 * A program signal that lands together with our tick on a thread blocked
 * in a restartable call (read, recv, futex, waitpid...) - both pending at
 * one return to user space, or the program's arriving while this handler
 * runs - has its handler run while the kernel restarts the call for our
 * SA_RESTART: a program handler without SA_RESTART (or any program
 * handler while a transfer goes on after partial progress: up_tls.h,
 * xfer_progress) then does not interrupt the call as it does without the
 * agent (the matrix test saw it at 10 kHz).  So when such a handler ran
 * since the marked call began (the trampoline bumps foreign_intr), make
 * the restart an EINTR, as the kernel would have (up_uc_restarting,
 * up_uc_make_eintr in up_signal.h); the interposer passes the EINTR on (a
 * program handler ran).  Only inside a marked call.  The same registers
 * also describe a thread stopped just before a syscall instruction: it
 * then gets the EINTR of a signal that landed as the call began.  x86-64
 * only.
 */
static void up_on_sigprof(int sig, siginfo_t *info, void *ucv)
{
    int saved_errno = errno;
    if (info && info->si_code == SI_TIMER && info->si_value.sival_ptr == (void *)&up_timer_tag) {
        /* Every tick, sampled or not: interposed calls resume only when
         * one moved this (up_call_ours).  Relaxed: same-thread partner. */
        atomic_fetch_add_explicit(&up_tls.ticks, 1, memory_order_relaxed);
        struct up_slot *s = atomic_load_explicit(&up_tls.slot, memory_order_relaxed);
        atomic_signal_fence(memory_order_acquire); /* partner: attach's release fence */
        /* Relaxed: a tick racing with process exit may be recorded or not.
         * up_tracer and up_config need no ordering here: this thread
         * acquire-loaded ACTIVE before it attached (same-thread order). */
        if (s && atomic_load_explicit(&up_phase, memory_order_relaxed) == UP_ACTIVE)
            up_sample(s, ucv, info->si_overrun);
    } else {
        up_signal_forward_sigprof(sig, info, ucv);
    }
    /* Relaxed: this thread's own words (trampolines nested on it or run
     * before it bump the count; the interposer stored call_intr0). */
    atomic_signal_fence(memory_order_seq_cst);
    if (UP_UNLIKELY(atomic_load_explicit(&up_tls.foreign_intr, memory_order_relaxed) !=
                    atomic_load_explicit(&up_tls.call_intr0, memory_order_relaxed)) &&
        atomic_load_explicit(&up_tls.call, memory_order_relaxed) != UP_CALL_ONCPU &&
        up_uc_restarting(ucv))
        up_uc_make_eintr(ucv);
    errno = saved_errno;
}

int up_sampler_install(void)
{
#ifdef UP_BASELINE_PER_SAMPLE
    up_baseline_warm_up();
#endif
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = up_on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    /* Empty mask: the program's signals are delivered to this thread as
     * without the agent, even while a tick is being recorded (blocking
     * them would send process-directed ones to another thread).  A
     * program handler nested here that leaves with siglongjmp abandons the
     * tick: an unpublished ring slot, a claim the core repairs. */
    sigemptyset(&sa.sa_mask);
    if (up_real_sigaction()(UP_SIGNAL, &sa, &old) != 0)
        return -errno;
    up_signal_adopt_sigprof(&old);
    return 0;
}

int up_timer_start(struct up_slot *s)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = UP_SIGNAL;
    ev.sigev_value.sival_ptr = (void *)&up_timer_tag;
    ev._sigev_un._tid = (pid_t)s->tid;
    timer_t id;
    if (timer_create(CLOCK_MONOTONIC, &ev, &id) != 0)
        return -errno;
    struct timespec period = {.tv_sec = up_config.period_ns / 1000000000LL,
                              .tv_nsec = up_config.period_ns % 1000000000LL};
    struct itimerspec its = {.it_interval = period, .it_value = period};
    if (timer_settime(id, 0, &its, NULL) != 0) {
        int err = errno;
        (void)timer_delete(id);
        return -err;
    }
    /* Armed before it is published: after the store below only the
     * exchange in up_timer_stop touches the id.  Dekker with process exit
     * (up_init.c stores STOPPING, seq_cst, then stops every slot's timer):
     * we store live = 1 then load the phase, both seq_cst, so either exit's
     * exchange sees 1 and deletes the timer, or we see STOPPING and do. */
    s->timer = id;
    atomic_store_explicit(&s->timer_live, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&up_phase, memory_order_seq_cst) != UP_ACTIVE)
        up_timer_stop(s);
    return 0;
}

void up_timer_stop(struct up_slot *s)
{
    /* seq_cst: the Dekker above; the exchange also makes `timer` (written
     * before the store of 1) visible to whoever takes 1 -> 0, and only
     * one caller ever does, so an id is deleted once and never after it
     * may have been reused. */
    if (atomic_exchange_explicit(&s->timer_live, 0, memory_order_seq_cst))
        (void)timer_delete(s->timer);
}

void up_timer_stop_all(void)
{
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n; i++)
        up_timer_stop(up_slots[i]);
}
