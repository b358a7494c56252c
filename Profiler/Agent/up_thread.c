/*
 * up_thread.c - attaching threads, their exit, pthread_create and
 * pthread_setname_np.
 *
 * A thread attaches at creation (pthread_create's wrapped start routine),
 * in the constructor (the main thread) or lazily at its first interposed
 * call (threads created before the agent started, or by libc internally).
 * Attaching claims a slot (rings), attaches to the core (du_thread_attach),
 * records the thread's name, registers the exit destructor, publishes the
 * slot to the SIGPROF handler and arms the thread's timer.
 *
 * Exit (our pthread key destructor; TLS is still valid there): stop the
 * timer, drop a mark a cancellation left behind, detach from the core (it
 * delivers the thread's pending requests now, with empty traces flagged
 * DU_TRACE_EXITING, while the slot is still the thread's), unpublish the
 * slot, retire it to the writer.  Detaching explicitly makes the order of
 * our key's and the core's key's destructors irrelevant: the core's finds
 * nothing left to do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <deferred_unwind.h>
#include "up_call.h"
#include "up_real.h"
#include "up_sampler.h"
#include "up_slot.h"
#include "up_thread.h"

UP_HIDDEN UP_IE_TLS struct up_tls up_tls;

static pthread_key_t up_exit_key;

static void up_thread_exit(void *arg)
{
    struct up_slot *s = arg;
    if (!s)
        return;
    up_tls.guard++;
    up_timer_stop(s);
    up_idle_leave(); /* exit while parked: its last periods, no re-arm */
    atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed); /* same-thread handler */
    (void)du_thread_detach(); /* callbacks write STACKs into s */
    /* From here the handler does nothing on this thread (same thread: a
     * signal fence orders the store before the retire). */
    atomic_store_explicit(&up_tls.slot, NULL, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    up_tls.state = UP_T_DEAD;
    up_slot_retire(s);
    up_tls.guard--;
}

/* Context: the constructor.  0 or -errno. */
int up_thread_init(void) { return -pthread_key_create(&up_exit_key, up_thread_exit); }

static void up_warn_once(_Atomic int *said, const char *what, int err)
{
    /* Relaxed: only "said once" is at stake. */
    if (!atomic_exchange_explicit(said, 1, memory_order_relaxed))
        up_log("thread %u not profiled: %s (%s); further such threads are not reported",
               up_tls.tid, what, strerror(err));
}

static _Atomic int up_said_slots, up_said_attach, up_said_timer;

/* One request and safe point now, in thread context: the core allocates a
 * thread's trace cache (one page) at its first unwind, and that must not
 * happen at a later safe point, which can follow a pthread_mutex_lock an
 * allocator made while holding its own lock.  The callback writes nothing
 * for it (up_tls.warming). */
static void up_warm_unwinder(struct up_slot *s)
{
    uint64_t cookie;
    up_tls.warming = 1;
    if (du_request(up_tracer, &cookie) >= 0) {
        /* The cookie's thread half names this thread in a proxy's
         * callback (up_stack.c).  Relaxed: read by the writer after the
         * claim of a region this thread enters later (the core orders it). */
        atomic_store_explicit(&s->du_serial, du_cookie_thread_half(cookie), memory_order_relaxed);
        (void)du_safe_point();
    }
    up_tls.warming = 0;
}

/* Context: thread; the phase was ACTIVE; up_tls.state NONE. */
static void up_thread_attach(void)
{
    up_tls.guard++;
    int cancel;
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    up_tls.state = UP_T_DEAD; /* until attached: no retry, no recursion */
    up_tls.tid = (uint32_t)gettid();

    struct up_slot *s = up_slot_claim(up_tls.tid, pthread_self());
    if (!s) {
        up_warn_once(&up_said_slots, "no ring slot (thread limit or memory)", ENOMEM);
        goto out;
    }
    int r = du_thread_attach();
    if (r < 0 && r != -EEXIST) {
        up_slot_retire(s);
        up_warn_once(&up_said_attach, "du_thread_attach failed", -r);
        goto out;
    }
    /* The name: comm, as /proc/self/task/<tid>/comm shows it, without a file. */
    char name[UP_NAME_MAX] = {0};
    if (prctl(PR_GET_NAME, name) == 0)
        up_slot_set_name(s, name, strnlen(name, UP_NAME_MAX - 1));
    r = pthread_setspecific(up_exit_key, s);
    if (r != 0) {
        (void)du_thread_detach();
        up_slot_retire(s);
        up_warn_once(&up_said_attach, "pthread_setspecific failed", r);
        goto out;
    }
    up_warm_unwinder(s);
    /* Publish to the handler: everything above first (same thread). */
    atomic_signal_fence(memory_order_release);
    atomic_store_explicit(&up_tls.slot, s, memory_order_relaxed);
    up_tls.state = UP_T_ATTACHED;
    r = up_timer_start(s);
    if (r < 0)
        up_warn_once(&up_said_timer, "timer_create failed, no samples", -r);
out:
    (void)pthread_setcancelstate(cancel, NULL);
    up_tls.guard--;
}

void up_thread_attach_lazy(void) { up_thread_attach(); }

/* Called from main's constructor: attach the thread running it. */
void up_thread_attach_self(void)
{
    if (up_tls.state == UP_T_NONE && up_is_active())
        up_thread_attach();
}

/* Mark the calling thread as the agent's (the writer). */
void up_thread_mark_internal(void)
{
    up_tls.state = UP_T_INTERNAL;
    up_tls.guard = 1;
}

/* Out of line so the trace's first frame is ours and is cut with the rest
 * of the agent's frames (up_stack.c). */
__attribute__((noinline)) void up_safe_point(void)
{
    up_tls.guard++;
    (void)du_safe_point();
    up_tls.guard--;
    __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
}

/* The context a jump abandoned holds requests of samples taken inside the
 * call it left: ending it here with this call's stack would misattribute
 * them, so the callback writes nothing (they count as stack lost).  Then
 * the new call starts a fresh context.  Relaxed: this thread's own words
 * (its handler sets `stale`; same-thread order). */
void up_call_discard_stale(void)
{
    /* The jump popped the region's frame: end the region first (-EINVAL
     * when the abandoned call was not in one). */
    up_idle_leave(); /* parked when the jump left the call */
    (void)du_frozen_leave();
    atomic_store_explicit(&up_tls.call, 0, memory_order_relaxed);
    atomic_store_explicit(&up_tls.call_sp, 0, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* no request for the old call past here */
    up_tls.discarding = 1;
    up_safe_point();
    up_tls.discarding = 0;
    atomic_store_explicit(&up_tls.stale, 0, memory_order_relaxed);
}

/* ---- pthread_create: attach new threads before their start routine ---- */

struct up_start {
    void *(*fn)(void *);
    void *arg;
};

static void *up_thread_start(void *p)
{
    struct up_start st = *(struct up_start *)p;
    free(p);
    if (up_tls.state == UP_T_NONE && up_is_active())
        up_thread_attach();
    return st.fn(st.arg);
}

/* Context: thread.  The program's attr, thread handle and result are
 * passed through; only the start routine is wrapped (a small heap block,
 * freed by the new thread; without memory the thread attaches lazily). */
UP_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    up_pthread_create_fn *real = up_real_pthread_create();
    if (!up_is_active() || up_tls.guard != 0)
        return real(thread, attr, fn, arg);
    struct up_start *st = malloc(sizeof *st);
    if (!st)
        return real(thread, attr, fn, arg);
    st->fn = fn;
    st->arg = arg;
    int r = real(thread, attr, up_thread_start, st);
    if (r != 0)
        free(st);
    return r;
}

/* Context: thread.  A successful rename re-emits the thread's THREAD
 * record (the writer picks the new name up from the slot).  Names set with
 * prctl(PR_SET_NAME) or by writing comm are not seen. */
UP_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
    int r = up_real_pthread_setname_np()(thread, name);
    if (r != 0 || !up_is_active() || up_tls.guard != 0)
        return r;
    up_tls.guard++;
    if (pthread_equal(thread, pthread_self())) {
        struct up_slot *s = atomic_load_explicit(&up_tls.slot, memory_order_relaxed);
        if (s)
            up_slot_set_name(s, name, strnlen(name, UP_NAME_MAX - 1));
    } else {
        up_slot_set_name_of(thread, name);
    }
    up_tls.guard--;
    return r;
}
