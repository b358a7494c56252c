/*
 * deferred_unwind.h - deferred user-stack unwinding for user space (C API).
 *
 * A sampling point that may not unwind (a signal handler) calls du_request()
 * and gets a 64-bit cookie at once.  The thread unwinds later, at its next
 * du_safe_point(), once, and hands (stack, cookie) to every tracer that asked
 * in that entry context.  Post-processing joins sample and stack by cookie.
 *
 * Terms: an *entry context* is the span of one attached thread between two
 * safe points.  A *tracer* is a registered callback that owns one bit of every
 * thread's pending word.
 *
 * Errors: every function returns 0 or a positive value on success and a
 * negative errno on failure.  Nothing here prints.
 *
 * Context lines: "async-signal-safe" means callable from a signal handler,
 * nested at any depth, with errno preserved.  "May block" means it may sleep
 * (mutex or RCU grace period); never call such a function from a handler.
 *
 * Link (C): libdeferred_unwind.so, `pkg-config --cflags --libs deferred_unwind`
 * (Docs/CLibrary.md); Swift packages use the CDeferredUnwind target.  The
 * library uses liburcu-bp internally and calls its fork hooks itself.
 *
 * Process lifecycle (Docs/Lifecycle.md):
 *  - fork(): the child can use the library at once.  The forking thread
 *    stays attached with a fresh entry context (requests pending at fork are
 *    the parent's and are delivered there only), other threads' state is
 *    dropped, tracers stay registered.  Cookies are unique per process: key
 *    stacks by (pid, tid, cookie).  fork() inside a callback is fine, also
 *    while another thread cancels that callback's tracer.
 *    liburcu-bp limit: a fork landing while another thread registers with
 *    liburcu (attach) or exits can leave liburcu's init_lock held in the
 *    child (its first new attach or exit() then hangs).
 *  - exit()/return from main: the exiting thread's accepted requests are
 *    delivered (DU_TRACE_EXITING) unless it is inside a callback, from an
 *    atexit handler registered at the first attach; other threads' pending
 *    requests are not.
 *  - dlclose(): the library stays mapped (-z nodelete).
 *  - A handler that leaves du_request() with siglongjmp: supported; that
 *    thread's next du_safe_point() or detach repairs the request count, and
 *    until then cancels wait (on that thread: -EDEADLK).
 */
#ifndef DEFERRED_UNWIND_H
#define DEFERRED_UNWIND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Cookies --------------------------------------------------------------
 * Two 32-bit halves: the high half is the thread's serial, assigned at
 * attach (never 0; not reused until 2^32 attaches in the process); the low
 * half is that thread's context counter, always odd (never 0), advanced by
 * 2 per entry context.  Cookies are unique per process (key by pid, tid and
 * cookie across processes).  A cookie is 0 only when no cookie was given.
 * Text form: "t<thread half, decimal>:<context half, 8 hex digits>", as
 * printf("t%u:%08x", du_cookie_thread_half(c), du_cookie_context_half(c)). */
#define DU_COOKIE_NONE ((uint64_t)0)

/* Context: any, including signal handlers. */
static inline uint32_t du_cookie_thread_half(uint64_t cookie) { return (uint32_t)(cookie >> 32); }
/* Context: any, including signal handlers. */
static inline uint32_t du_cookie_context_half(uint64_t cookie) { return (uint32_t)cookie; }

/* ---- Traces ---------------------------------------------------------------*/
enum du_trace_flags {
    DU_TRACE_TRUNCATED = 1u << 0, /* the stack was deeper than the cache holds */
    DU_TRACE_EXITING   = 1u << 1, /* delivered by detach or thread exit: empty */
    DU_TRACE_NOMEM     = 1u << 2, /* the trace cache could not be allocated: empty */
    DU_TRACE_BACKTRACE = 1u << 3, /* frames from glibc backtrace(), the fallback for a
                                     frame the rule cache cannot express (else from it) */
    DU_TRACE_COMPLETE  = 1u << 4, /* the walk reached the outermost frame (_start,
                                     clone3): nothing above was dropped */
    DU_TRACE_PROXY     = 1u << 5, /* unwound by du_proxy_serve() from the thread's
                                     frozen region (the callback may run on another
                                     thread; the cookie's thread half says whose) */
};

/* The caller's stack above the du_safe_point() call, innermost first: ips[0]
 * is the return address into the function that called du_safe_point(). Valid
 * only during the callback. */
struct du_trace {
    const uintptr_t *ips;
    uint32_t nr;
    uint32_t flags; /* enum du_trace_flags */
};

/* Tracer callback.  Runs on the requesting thread, inside du_safe_point(),
 * du_thread_detach() or the thread-exit destructor, or on a proxy thread
 * inside du_proxy_serve() (flagged DU_TRACE_PROXY); never in a handler.  It
 * may allocate, sleep, call du_request() (served before the safe point
 * returns; -ESHUTDOWN in callbacks run by detach or thread exit) and
 * du_tracer_register(); du_tracer_cancel(), du_thread_detach() and
 * du_safe_point() return -EDEADLK there.  It must not exit the thread
 * (pthread_exit, cancellation): the dispatch could not finish. */
typedef void (*du_callback)(const struct du_trace *trace, uint64_t cookie, void *arg);

/* An opaque handle (slot and generation), not a pointer to memory: it is
 * never freed, so any call with any handle ever returned is safe, and a
 * stale one is answered as "cancelled" (Docs/Design.md, "Registry"). */
typedef struct du_tracer du_tracer;

/* Maximum number of tracers registered at once (one bit each). */
#define DU_MAX_TRACERS 61

/* ---- Threads -------------------------------------------------------------- */

/* Attach the calling thread: allocate its state (du_thread_footprint() bytes)
 * and register it with liburcu-bp.  Returns 0, -EEXIST if already attached,
 * -ENOMEM, -EAGAIN (library initialisation failed: no pthread key or atfork
 * handler could be created).
 * Context: thread; may block (registry mutexes); not from a handler. */
int du_thread_attach(void);

/* Detach the calling thread: refuse new requests (-ESHUTDOWN), deliver every
 * pending request with an empty trace flagged DU_TRACE_EXITING, then free the
 * state.  A signal arriving during or after detach sees -ESHUTDOWN or
 * -ESRCH, never freed memory.  Thread exit without detach does the same.
 * Returns 0, -ESRCH if not attached, -EDEADLK from inside a callback,
 * -EBUSY inside a frozen region (leave it first).
 * Context: thread; may block (callbacks, mutex); not from a handler. */
int du_thread_detach(void);

/* Whether the calling thread is attached: 1 or 0.
 * Context: async-signal-safe, lock-free. */
int du_thread_is_attached(void);

/* Bytes of per-thread state: the fixed part, one cache line.  The trace cache
 * (du_trace_cache_bytes()) is allocated at the first unwind.
 * Context: any. */
uint32_t du_thread_footprint(void);
uint32_t du_trace_cache_bytes(void);
/* Number of return addresses the trace cache holds. Context: any. */
uint32_t du_trace_capacity(void);

/* ---- Tracers -------------------------------------------------------------- */

/* Register a tracer; *out receives its handle.  name is copied (at most 31
 * bytes kept).  Returns 0, -EINVAL (null callback or out), -EBUSY when
 * DU_MAX_TRACERS are registered.  Allocates nothing.
 * Context: thread; may block (registry mutex); may be called from a callback. */
int du_tracer_register(du_callback callback, void *arg, const char *name, du_tracer **out);

/* Cancel a tracer.  When it returns (>= 0 or -EALREADY): no callback of this
 * tracer is running or will start, on any thread (it waits for running
 * ones, even sleeping ones), no du_request() of it is still running (it
 * waits for those too), and the tracer's bit is clear in every attached
 * thread, so a tracer that later gets the same bit never sees a stale
 * request.  It waits for this tracer only: another tracer's callback,
 * however long it sleeps, does not delay it.  Requests that start after
 * cancel began fail with -ECANCELED; a request racing with it may still
 * answer 0 or 1, and its callback is then dropped (accepted requests are
 * delivered unless the tracer's cancel began before the dispatch).
 * Returns the number of entry contexts whose accepted requests of this
 * tracer were dropped - requests answered 0 or 1 whose callback never ran
 * and never will (pending when cancel began, or racing with it; on threads
 * still attached or detached since).  A lower bound: a context that a
 * thread's safe point ended while the cancel ran (skipping the tracer) is
 * not counted; a delivered request never is.  -EALREADY when cancelled before or
 * concurrently (after waiting for a cancel still in progress on another
 * thread to finish); -EDEADLK inside a callback or any RCU read-side
 * section, from a handler that interrupted du_request(), or on a thread
 * whose handler left du_request() with siglongjmp and that has not reached
 * a safe point since (waiting would hang); -EINVAL (NULL or a handle never
 * issued).  Any number of concurrent cancels and destroys of one tracer are
 * safe; exactly one of them returns >= 0 from cancel or performs the cancel
 * inside destroy.
 * Context: thread; blocks (running requests, one RCU grace period over
 * short lookups, this tracer's running callbacks; holding no lock while it
 * waits); never from a handler. */
int du_tracer_cancel(du_tracer *tracer);

/* Cancel a tracer if needed: du_tracer_cancel() with -EALREADY reported as 0
 * (handles own no memory; kept so "register ... destroy" code reads
 * naturally).  Returns the dropped count (>= 0; 0 when it was cancelled
 * before), -EDEADLK or -EINVAL as cancel.  Safe to call
 * concurrently with cancels and destroys of the same tracer, and again.
 * Context: thread; may block; never from a handler. */
int du_tracer_destroy(du_tracer *tracer);

/* The tracer's bit (3..63) while registered, -1 once cancel began (or for a
 * stale or invalid handle).  Context: async-signal-safe, lock-free. */
int du_tracer_bit(const du_tracer *tracer);
/* The name given at registration; NULL for an invalid handle or once the
 * tracer's slot was reused by a later tracer (the string is rewritten then).
 * Context: any. */
const char *du_tracer_name(const du_tracer *tracer);

/* ---- Requests ------------------------------------------------------------- */

/* Ask for the calling thread's user stack at its next safe point.
 * *cookie receives this entry context's cookie (0 on error).
 * Returns 0: this call queued the work (a callback with *cookie will run);
 *         1: already queued or already delivered in this context (the callback
 *            with *cookie was or will be delivered);
 *         -EINVAL: null argument, or a handle never issued by
 *                  du_tracer_register (as cancel and destroy answer);
 *         -ECANCELED: tracer cancelled (its cancel began);
 *         -ESRCH: thread not attached;  -ESHUTDOWN: thread detaching/exiting.
 * Context: async-signal-safe, lock-free, allocation-free, errno preserved;
 * thread context and signal handlers nested at any depth. */
int du_request(du_tracer *tracer, uint64_t *cookie);

/* The calling thread's safe point ("return to user space"): if any request
 * is pending, unwind once (first time in this context), call each requesting
 * tracer exactly once, serve requests made meanwhile, then end the entry
 * context (bits and cookie cleared).  Returns the number of callbacks run
 * (>= 0), -ESRCH if not attached, -EDEADLK from inside a callback of this
 * thread (always, pending requests or not, in a fork child too), -EBUSY
 * inside a frozen region when something is pending (served by a proxy or
 * by the safe point after the region).
 * Context: thread; runs callbacks (which may block); never from a handler. */
int du_safe_point(void);

/* The calling thread's current cookie, 0 if none assigned in this context.
 * Context: async-signal-safe, lock-free. */
uint64_t du_current_cookie(void);

/* ---- Frozen regions and proxy safe points --------------------------------- */

/* A thread that blocks for long (a system call, a condition variable) never
 * reaches its safe point, so its pending requests wait.  Around such a
 * call it can declare a frozen region: its stack above the caller of
 * du_frozen_enter() does not change until du_frozen_leave(), so another
 * attached thread may unwind it and run the callbacks meanwhile
 * (du_proxy_serve()).  Every request is still delivered exactly once, with
 * its cookie: by a proxy (trace flagged DU_TRACE_PROXY, starting at the
 * return address into the caller of du_frozen_enter()) or by the thread's
 * own safe point after the region.  Docs/Design.md, "Proxy safe points".
 *
 * The contract: between enter and leave the caller runs code only in its
 * own frame and below it (calls), never returns from its frame, and calls
 * leave from the same frame.  Regions do not nest.  x86-64 only.
 * Returns 0, -ESRCH if not attached, -EBUSY already in a region or the
 * thread is exiting, -EDEADLK inside a callback or a dispatch of this
 * thread (a handler that interrupted one).
 * Context: thread, or a handler that interrupted the thread outside the
 * library; lock-free, no allocation. */
int du_frozen_enter(void);

/* Leave the region: waits while a proxy serves this thread (its unwind and
 * its callbacks of this thread's context); then the thread's next safe
 * point delivers whatever no proxy served.  Returns 1 if it waited, 0 if
 * not, -ESRCH not attached, -EINVAL not in a region.
 * Context: the frame that called du_frozen_enter(); may wait (no lock). */
int du_frozen_leave(void);

/* Serve every other attached thread that is in a frozen region and has
 * requests whose callbacks have not run: unwind its frozen stack once per
 * context into its trace cache, run those callbacks here (flagged
 * DU_TRACE_PROXY, with that thread's cookie) and mark them delivered, so
 * that the thread's own safe point does not run them again.  Returns the
 * number of callbacks run, -ESRCH if the caller is not attached, -EBUSY if
 * it is in a frozen region itself, -EDEADLK inside a callback.
 * Context: thread; runs callbacks; takes the thread-list mutex (never while
 * a callback runs). */
int du_proxy_serve(void);

#ifdef __cplusplus
}
#endif
#endif /* DEFERRED_UNWIND_H */
