/*
 * internal.h - per-thread state, the pending word's layout, and the rules
 * that govern them.  Shared by every core source (cookie.c, request.c,
 * dispatch.c, lookup.c, registry.c, thread.c, thread_wait.c, fork.c, unwind.c).
 */
#ifndef DU_INTERNAL_H
#define DU_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

#include "include/deferred_unwind.h"
#include "include/deferred_unwind_debug.h"

/* Every atomic below must be lock-free, or a handler could deadlock on the
 * hidden lock of the code it interrupted. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "atomic 64-bit must be lock-free");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "atomic pointers must be lock-free");
_Static_assert(sizeof(uint64_t) * 8 == 64, "the pending word has 64 bits");

#define DU_IE_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#define DU_CACHELINE 64
/* Internal functions and data are not exported from the shared library. */
#define DU_HIDDEN __attribute__((visibility("hidden")))
/* Built with ThreadSanitizer (clang or gcc): lookup.c annotates the grace
 * period, and du_local_cas32 uses the C11 CAS TSan can see. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(DU_TSAN)
#define DU_TSAN 1
#endif
#define DU_LIKELY(x) __builtin_expect(!!(x), 1)
#define DU_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * The pending word (du_thread.mask).
 *
 * Bits 0..2 are reserved; bits 3..63 belong to registered tracers, one each.
 * A tracer bit set means "this tracer asked in this entry context"; it stays
 * set after the callback ran (du_thread.completed says that) until the reset
 * at the end of the safe point, so a repeat request is two plain loads and
 * returns 1 (the kernel's livelock fix: bits are cleared only at reset).
 *
 *  PENDING  a dispatch round is due.  Set together with a tracer bit by the
 *           single fetch-or that claims a request; cleared (bits kept) at the
 *           start of each dispatch round; the reset refuses to finish while
 *           it is set, so nothing requested before the reset is dropped.
 *  CLOSING  the safe point is ending the context: the cookie halves may be
 *           half-cleared, so a handler that sees CLOSING takes the cookie
 *           from du_thread.closing_cnt instead.
 *  EXITING  the thread is detaching or exiting: requests are refused.
 *
 * Writers: the owning thread (its requests, in thread context or nested
 * handlers, and its safe point) and du_tracer_cancel() on another thread,
 * which only clears the cancelled tracer's bit.  No other thread sets bits:
 * a request is always for the calling thread.
 */
#define DU_PENDING  ((uint64_t)1 << 0)
#define DU_CLOSING  ((uint64_t)1 << 1)
#define DU_EXITING  ((uint64_t)1 << 2)
#define DU_RESERVED_BITS 3
#define DU_FIRST_TRACER_BIT DU_RESERVED_BITS
#define DU_TRACER_MASK (~(uint64_t)0 << DU_RESERVED_BITS)

_Static_assert(DU_MAX_TRACERS == 64 - DU_RESERVED_BITS,
               "DU_MAX_TRACERS in the public header must match the reserved bits");
_Static_assert((DU_TRACER_MASK & (DU_PENDING | DU_CLOSING | DU_EXITING)) == 0,
               "reserved bits overlap tracer bits");

/*
 * Per-thread state: exactly one cache line, owned by the thread it describes.
 *
 * Rules:
 *  - mask: see above.  Cross-thread writer: cancel's scrub (fetch-and).
 *  - completed: tracer bits whose callback already ran in this context.
 *    Written by the owning thread in dispatch (fetch-or) and at reset
 *    (store 0); cancel's scrub clears the cancelled bit, so a tracer that
 *    reuses the bit in the same context is not taken for completed.
 *  - serial: the cookie's high half, this thread's serial (thread.c): set
 *    at attach before du_self is published, never changed after.
 *  - cookie_cnt: the cookie's low half in this context; 0 is unassigned.
 *    seq: the last low half this thread drew (cookie.c).  Only the owning
 *    thread and its handlers touch them, so they need atomicity against a
 *    nested handler, not cross-CPU order.
 *  - closing_cnt: the low half of the context being closed, valid while
 *    mask has CLOSING.  Owning thread only.
 *  - claiming: how many du_request() calls are running on this thread
 *    (thread context plus nested handlers).  Written only by the owning
 *    thread and its handlers (load + store: a nested handler restores it);
 *    read by cancel, which waits for it to be 0 after a membarrier (see
 *    request.c and registry.c: this is the request side's grace period).
 *  - calling: the slot of the tracer whose callback this thread runs now,
 *    0 for none (slots 0..2 are never issued).  Written by the owning
 *    thread in dispatch: set inside the RCU read-side section that found
 *    the tracer, cleared with release after the callback; read (acquire)
 *    by cancel after its grace period: cancel's per-tracer callback wait.
 *  - cache, in_dispatch, unwound, next/prev: owning thread only, except
 *    next/prev, which the thread-list mutex guards.
 */
struct du_cache;

struct du_thread {
    _Atomic uint64_t mask;
    _Atomic uint64_t completed;
    _Atomic uint32_t serial;
    _Atomic uint32_t cookie_cnt;
    _Atomic uint32_t seq;
    _Atomic uint32_t closing_cnt;
    struct du_cache *cache;
    struct du_thread *next;
    struct du_thread *prev;
    _Atomic uint32_t claiming; /* du_request()s in progress on this thread (nesting depth) */
    _Atomic uint8_t calling;   /* slot whose callback runs now, 0 for none */
    uint8_t in_dispatch;
    uint8_t unwound; /* the cache holds this context's trace */
    /* ---- second line: the frozen region (proxy.c has its rules) ---- */
    _Atomic uint32_t frozen __attribute__((aligned(DU_CACHELINE))); /* DU_FROZEN_* */
    uintptr_t frozen_rip, frozen_rsp, frozen_rbp; /* the region's frame at entry */
    uintptr_t stack_hi;                           /* top of the thread's stack */
} __attribute__((aligned(DU_CACHELINE)));

/* Two lines: the first is every path's (requests, safe points); the second
 * only frozen regions' and proxies'. */
_Static_assert(sizeof(struct du_thread) == 2 * DU_CACHELINE,
               "per-thread state: two cache lines");
_Static_assert(offsetof(struct du_thread, frozen) == DU_CACHELINE,
               "the first line holds every field of the request and safe-point paths");

/* du_thread.frozen: outside a region; in a region (the frame fields are
 * valid); in a region and claimed by a proxy that is serving it. */
enum { DU_FROZEN_NO = 0, DU_FROZEN_YES = 1, DU_FROZEN_CLAIMED = 2 };

/* The calling thread's state, NULL when detached.  initial-exec TLS: a
 * handler's access is a plain %fs-relative load, never a lazy allocation.
 * Written only by the owning thread; read by its handlers. */
extern DU_HIDDEN DU_IE_TLS _Atomic(struct du_thread *) du_self;

/*
 * Trace cache: one 4 KiB page, allocated at the first unwind of a thread.
 */
#define DU_CACHE_BYTES 4096u
struct du_cache {
    uint32_t nr;
    uint32_t flags;
    uintptr_t ips[(DU_CACHE_BYTES - 2 * sizeof(uint32_t)) / sizeof(uintptr_t)];
};
_Static_assert(sizeof(struct du_cache) == DU_CACHE_BYTES, "trace cache must be one page");
#define DU_CACHE_CAPACITY ((uint32_t)(sizeof(((struct du_cache *)0)->ips) / sizeof(uintptr_t)))

/* ---- cookie.c ---- */
/* The cookie of this context, assigning it if needed, is du_cookie_get
 * (hooks.h): du_cookie_fast below in the shipped build. */
/* The next thread serial (thread context, attach): never 0. */
DU_HIDDEN uint32_t du_serial_next(void);
/* The cookie with low half `cnt` on this thread.  Relaxed: serial is
 * written before du_self is published (thread.c) and never again. */
static inline uint64_t du_cookie_make(struct du_thread *th, uint32_t cnt)
{
    return ((uint64_t)atomic_load_explicit(&th->serial, memory_order_relaxed) << 32) | cnt;
}

/* ---- registry.c ---- */
/*
 * Tracer handles.  A du_tracer * is not a pointer to memory: it encodes
 * (generation << DU_SLOT_SHIFT) | slot, where slot is the tracer's bit and
 * generation counts the tracers that ever held that slot (from 1, so a
 * handle is never NULL).  The slot table is static and never freed, so a
 * call with any handle ever returned - after cancel, after destroy, racing
 * with a destroy on another thread - reads valid memory and is answered
 * from the generation: an older one is a cancelled tracer (-EALREADY /
 * -ECANCELED), a newer one was never issued (-EINVAL).  No use-after-free
 * or double free is possible, so destroy needs no exclusivity.
 */
#define DU_SLOT_SHIFT 6
_Static_assert((1u << DU_SLOT_SHIFT) == 64, "a slot index is a bit of the 64-bit pending word");

enum { DU_SLOT_FREE, DU_SLOT_REGISTERED, DU_SLOT_CANCELLING };

/*
 * Rules for a slot (one per bit; bits 0..2 are never issued):
 *  - live: the handle while registered, 0 from the moment cancel began.
 *    Written under du_registry_lock with release (register: partner, the
 *    acquire loads in du_tracer_live_bit and du_registry_call, which then
 *    see the fields below and the scrub that freed the bit) or relaxed
 *    (cancel: requests are ordered by the claim span, dispatch by the grace
 *    period).
 *  - gen: the generation of the slot's latest handle.  Written under the
 *    lock (register); read under it, or relaxed for a name lookup.
 *  - state, callback, arg, name: written under the lock; callback, arg and
 *    name only by register, which reuses a slot only after the previous
 *    owner's cancel waited for every reader (both grace periods).
 */
struct du_tracer_slot {
    _Atomic uint64_t live;
    _Atomic uint64_t gen;
    int state;
    du_callback callback;
    void *arg;
    char name[32];
};

extern DU_HIDDEN struct du_tracer_slot du_tracer_slots[64];

static inline uint64_t du_handle_value(const du_tracer *t) { return (uint64_t)(uintptr_t)t; }
static inline unsigned du_handle_slot(uint64_t h) { return (unsigned)(h & 63u); }
static inline uint64_t du_handle_gen(uint64_t h) { return h >> DU_SLOT_SHIFT; }

/* The bit of `t` if it is a registered tracer's handle, else -1.
 * Context: async-signal-safe, lock-free; inline for du_request's repeat path. */
static inline int du_tracer_live_bit(const du_tracer *t)
{
    uint64_t h = du_handle_value(t);
    unsigned slot = du_handle_slot(h);
    /* Acquire, partner: the release store of live in register, which comes
     * after the scrub that freed this bit (registry lock chain): a request
     * that sees the handle never sees the previous owner's stale bit or
     * completed mark.  Cancel's 0 is covered by the claim span, not by
     * this load's order. */
    if (DU_UNLIKELY(slot < DU_FIRST_TRACER_BIT) ||
        atomic_load_explicit(&du_tracer_slots[slot].live, memory_order_acquire) != h)
        return -1;
    return (int)slot;
}
/* Whether `t` was never issued by du_tracer_register (a reserved slot, a
 * zero generation, or a generation newer than the slot's latest): -EINVAL
 * in every call, where a cancelled handle gets -ECANCELED / -EALREADY.
 * Relaxed: gen only grows, and a handle the caller holds was issued before
 * it got it.  Context: async-signal-safe, lock-free (the error path of
 * du_request). */
static inline int du_handle_never_issued(const du_tracer *t)
{
    uint64_t h = du_handle_value(t);
    unsigned slot = du_handle_slot(h);
    return slot < DU_FIRST_TRACER_BIT || du_handle_gen(h) == 0 ||
           du_handle_gen(h) > atomic_load_explicit(&du_tracer_slots[slot].gen, memory_order_relaxed);
}
/* lookup.c: call every tracer whose bit is in `todo` and not completed. Thread context. */
DU_HIDDEN int du_registry_call(struct du_thread *th, uint64_t todo, const struct du_trace *trace,
                     uint64_t cookie);
/* lookup.c: the grace period over dispatch lookups, with the TSan
 * annotation liburcu 0.13 lacks (cancel's step 3). */
DU_HIDDEN void du_rcu_synchronize(void);
/* fork.c's atfork steps for the registry (see registry.c). */
DU_HIDDEN void du_registry_fork_prepare(void);
DU_HIDDEN void du_registry_fork_parent(void);
DU_HIDDEN void du_registry_fork_child(void);

/* ---- dispatch.c ---- */
DU_HIDDEN int du_dispatch(struct du_thread *th, uintptr_t caller, int exiting);

/* ---- thread.c, thread_wait.c ---- */
#include <pthread.h>
/* Every attached thread, linked through next/prev; guarded by the lock
 * (rules in thread.c). */
extern DU_HIDDEN pthread_mutex_t du_threads_lock;
extern DU_HIDDEN struct du_thread *du_threads;
/* Clear `bit` in every attached thread; returns how many threads held an
 * accepted request for it whose callback never started (dropped). */
DU_HIDDEN int du_threads_scrub(uint64_t bit);
/* A thread leaving the list (du_threads_lock held): count its undelivered
 * requests of tracers being cancelled for their cancels' scrub. */
DU_HIDDEN void du_threads_count_gone(struct du_thread *th);
DU_HIDDEN void du_threads_forget_gone(void);
/* Wait until no thread runs a callback of the tracer in `slot` (polling,
 * holding no lock while it waits).  After synchronize_rcu: see lookup.c. */
DU_HIDDEN void du_threads_wait_callbacks(unsigned slot);
/* Wait until every du_request() that may have read a tracer's handle as
 * live before cancel marked it has returned (membarrier, then each thread's
 * claiming), holding no lock while it waits. */
DU_HIDDEN void du_threads_wait_requests(void);
/* 1 when membarrier(PRIVATE_EXPEDITED) is registered for the process; 0 makes
 * requests use a full fence instead.  Written by du_library_init (ordered
 * before every attach and cancel by pthread_once) and in a fork child. */
extern DU_HIDDEN int du_have_membarrier;
DU_HIDDEN void du_membarrier_register(void);
/* Once per process (constructor, then pthread_once): 0 or -errno. */
DU_HIDDEN int du_library_init(void);
DU_HIDDEN void du_threads_fork_prepare(void);
DU_HIDDEN void du_threads_fork_parent(void);
DU_HIDDEN void du_threads_fork_child(void);

/*
 * Thread context only (safe point, detach, exit): no request of this thread
 * can be running, so a nonzero claim count was leaked by a handler that left
 * du_request() with siglongjmp.  Reset it.  Release, partner: the acquire
 * loads in du_threads_wait_requests (whatever the abandoned request read of
 * a tracer is done; it will never run again).
 */
static inline void du_claim_repair(struct du_thread *th)
{
    if (DU_UNLIKELY(atomic_load_explicit(&th->claiming, memory_order_relaxed) != 0))
        atomic_store_explicit(&th->claiming, 0, memory_order_release);
}

/* ---- fork.c ---- */
DU_HIDDEN int du_fork_init(void);
/* Bumped in every fork child; a dispatch that sees it change stops calling
 * the parent's tracers for the parent's context. */
extern DU_HIDDEN _Atomic unsigned du_fork_epoch;

/* ---- proxy.c ---- */
/* The calling thread's state for a call that may dispatch, wait or enter a
 * region: 0 and *out, or -ESRCH (not attached), -EDEADLK (inside one of its
 * callbacks or dispatches), -EBUSY (inside its frozen region).  Relaxed:
 * the thread's own words.  Context: thread, or a handler on it. */
static inline int du_self_free(struct du_thread **out)
{
    struct du_thread *th = atomic_load_explicit(&du_self, memory_order_relaxed);
    if (!th)
        return -ESRCH;
    if (th->in_dispatch)
        return -EDEADLK;
    if (atomic_load_explicit(&th->frozen, memory_order_relaxed) != DU_FROZEN_NO)
        return -EBUSY;
    *out = th;
    return 0;
}
/* Leave the frozen region if in one, waiting for a proxy serving it.
 * Thread context (leave, detach, thread exit). */
DU_HIDDEN void du_frozen_end(struct du_thread *th);

/* ---- unwind.c ---- */
DU_HIDDEN void du_unwind(struct du_thread *th, uintptr_t caller, struct du_trace *out);
DU_HIDDEN void du_cache_free(struct du_thread *th);
DU_HIDDEN void du_unwind_warm_up(void);
DU_HIDDEN void du_unwind_frozen(struct du_thread *th, struct du_trace *out);
DU_HIDDEN void du_cache_trace(struct du_thread *th, struct du_trace *out);

/* ---- step points ---- */
#ifdef DU_STEP_POINTS
DU_HIDDEN void du_step_reached(enum du_step step);
DU_HIDDEN int du_debug_take_alloc_failure(void);
#define DU_STEP(s) du_step_reached(s)
#else
#define DU_STEP(s) ((void)0)
#endif


/* The cookie's inline fast path (du_local_cas32, du_cookie_fast). */
#include "cookie.h"

#endif /* DU_INTERNAL_H */
