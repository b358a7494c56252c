/*
 * up_agent.h - the unwind-profile agent's process-wide state and limits.
 *
 * The agent is a preloaded shared object (LD_PRELOAD) that interposes the
 * blocking libc calls, samples every attached thread with a per-thread timer
 * signal, and writes the record file of Docs/ProfileFormat.md.  The core
 * (Sources/CDeferredUnwind) is linked in with hidden visibility; the only
 * exported symbols are the interposed libc names (agent.map).
 *
 * Files (each holds one thing):
 *   up_agent.h   this: phases, limits, logging, export macros
 *   up_tls.h     the per-thread word the handlers read (initial-exec TLS)
 *   up_real.h/.c the real libc functions (dlsym(RTLD_NEXT), lazily)
 *   up_calls.h   the call ids of SAMPLE/CALL records
 *   up_call.h    the interposer protocol: mark, resume after our signal, safe point
 *   up_ring.h    the two per-thread SPSC rings (sample ring, stack ring)
 *   up_slot.h/.c the pool of per-thread ring slots, reused after exit
 *   up_thread.c  attach/detach, pthread_create, pthread_setname_np
 *   up_name.c    prctl(PR_SET_NAME): renames seen as pthread_setname_np's
 *   up_sampler.c per-thread timers and the SIGPROF handler
 *   up_stack.c   the tracer callback (STACK records)
 *   up_signal.c  sigaction emulation: the table, trampolines, foreign-signal count
 *   up_signal_compat.c  signal, bsd_signal, sysv_signal, sigset on it
 *   up_signal_fatal.c   SIGINT/SIGTERM/SIGHUP at their default: finish, then die
 *   up_handler_depth.c  program-handler depth and its repair after a jump
 *   up_sigwait.c signalfd, sigwait*, pause, sigsuspend
 *   up_exec.c    exec*, _exit, _Exit: finish the record first
 *   up_writer.c  the writer thread and the file
 *   up_maps.c    MAP records (dl_iterate_phdr)
 *   up_init.c    constructor, process exit, fork, a fatal signal's finish
 *   up_inherit.c every process: fork children restart, exec'd images inherit
 *   up_io.c, up_net.c, up_poll.c, up_sleep.c, up_sync.c, up_proc.c,
 *   up_ipc.c (SysV IPC), up_aio.c (libaio): interposers
 */
#ifndef UP_AGENT_H
#define UP_AGENT_H

#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

/* The interposed libc names: the only symbols the agent exports (agent.map
 * lists the same names; Scripts/check-agent.sh compares). */
#define UP_EXPORT __attribute__((visibility("default")))
/* Everything else is hidden (-fvisibility=hidden); said again for clarity. */
#define UP_HIDDEN __attribute__((visibility("hidden")))
/* Thread-locals a handler reads: one %fs-relative load, never
 * __tls_get_addr (which may allocate). */
#define UP_IE_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#define UP_LIKELY(x) __builtin_expect(!!(x), 1)
#define UP_UNLIKELY(x) __builtin_expect(!!(x), 0)

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free (handlers)");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "atomic 64-bit must be lock-free (handlers)");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "atomic pointers must be lock-free (handlers)");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the record file is little-endian and rings hold records as written");

/*
 * Process phase.
 *   UNINIT    before the constructor: interposers pass straight through.
 *   INERT     no UNWIND_PROFILE_OUTPUT, or init failed: pass through, always.
 *   ACTIVE    profiling: threads attach, calls are marked, timers run.
 *   STOPPING  process exit began: nothing new is marked or attached, but
 *             timers may still have signals pending, so interposers still
 *             resume calls our signal interrupted.
 *   CHILD     a fork() child: no timers exist (they do not survive fork) and
 *             nothing is written; interposers pass through.  The signal
 *             emulation stays (the kernel still holds our trampolines).
 * Written by the constructor (release, after everything it publishes), by
 * process exit (seq_cst, see up_init.c) and by the fork child handler (one
 * thread).  Read with acquire where the reader then uses what init set up
 * (the tracer, the config); the partner is the constructor's release store.
 */
enum up_phase { UP_UNINIT = 0, UP_INERT, UP_ACTIVE, UP_STOPPING, UP_CHILD };
extern _Atomic int up_phase;

static inline int up_phase_get(void) { return atomic_load_explicit(&up_phase, memory_order_acquire); }
/* Calls are marked and threads attach only while ACTIVE. */
static inline int up_is_active(void) { return up_phase_get() == UP_ACTIVE; }
/* Our timers may exist (or have signals pending): resume what they interrupt. */
static inline int up_is_armed(void)
{
    int p = up_phase_get();
    return p == UP_ACTIVE || p == UP_STOPPING;
}

/* The sampling signal (META.signal). */
#define UP_SIGNAL SIGPROF

/* Limits.  Per thread: one slot of UP_SLOT_BYTES (mapped, touched as used).
 *  - sample ring: 256 SAMPLE records of 48 bytes = 12 KiB, 2.5x what
 *    10 ms (the writer's shortest period) holds at the highest frequency,
 *    10 kHz, 6x what 40 ms hold at 99 Hz;
 *  - stack ring: 32 KiB, 7 stacks of the deepest trace (511 frames) or
 *    ~120 of 30 frames.
 * UP_MAX_SLOTS threads can be attached at once (slots of exited threads are
 * reused); beyond that threads run unprofiled and the agent says so once. */
#define UP_SAMPLE_ENTRIES 256u
#define UP_STACK_RING_BYTES 32768u
#define UP_MAX_SLOTS 4096u
#define UP_FREQ_DEFAULT 99u
#define UP_FREQ_MAX 10000u
/* The writer drains every UP_WRITER_TICKS sampling periods, at least every
 * 50 ms and at most every 10 ms (99 Hz: 40 ms, 250 Hz and up: 10 ms): the
 * rings hold more than that (the copy ring, the smallest in samples, ~15
 * windows of 8 KiB), and at 99 Hz the rounds cost a quarter of what they
 * did at a fixed 10 ms (200 idle threads: ~12 instead of ~58 ms of the
 * writer's CPU in 5 s).  The proxy serves blocked threads at each round.
 * A callback facing a full stack ring wakes the writer (up_writer_kick)
 * and waits at most UP_STACK_WAIT_MS for it, then counts the stack lost. */
#define UP_WRITER_TICKS 4u
#define UP_WRITER_PERIOD_MIN_NS 10000000L
#define UP_WRITER_PERIOD_MAX_NS 50000000L
#define UP_STACK_WAIT_MS 20

/* Configuration, written by the constructor before up_phase = ACTIVE
 * (release), read-only afterwards. */
struct up_config {
    uint32_t frequency_hz;
    int64_t period_ns;
    uint64_t start_ns;          /* CLOCK_MONOTONIC at start */
    uint64_t start_realtime_ns; /* CLOCK_REALTIME at start */
    uintptr_t text_start, text_end; /* the agent's executable segment */
    int pid;
};
extern struct up_config up_config;

/* The tracer (written by the constructor before ACTIVE). */
struct du_tracer;
extern struct du_tracer *up_tracer;

/* One line "unwind-profile agent: <message>" on stderr, with the real
 * write().  Context: thread (snprintf); not from a handler. */
void up_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Finish the record as process exit does (STOPPING, timers stopped, the
 * writer drains and writes END), once.  Context: thread, not a handler. */
void up_finish_recording(void);

/* A fatal default-action signal arrived (up_signal.c): finish the record
 * (ACTIVE -> STOPPING, the writer's last round with the proxy's delivery
 * of blocked threads' stacks, MAPs, END), waiting at most
 * UP_FATAL_FINISH_MS for the writer.  Only in the profiled process.
 * Context: signal handler; async-signal-safe. */
void up_finish_on_signal(void);
#define UP_FATAL_FINISH_MS 2000

/* CLOCK_MONOTONIC in ns.  Context: async-signal-safe (vDSO). */
uint64_t up_monotonic_ns(void);

#endif /* UP_AGENT_H */
