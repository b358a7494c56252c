/*
 * up_aio.c - libaio's io_getevents.
 *
 * signal(7): io_getevents(2) is never restarted after a handler; it fails
 * with EINTR, or - when some events arrived before the signal - returns
 * fewer than min_nr.  libaio's io_getevents issues the syscall inline, so
 * the agent interposes libaio's exported function (programs call it through
 * their PLT; an unversioned definition here satisfies their
 * io_getevents@LIBAIO_0.4 reference).  When only our tick cut an attempt
 * (up_call_ours / up_call_cut_by_tick), it goes on for the rest: min_nr and
 * nr less the events already in the array, the array advanced, and the time
 * left of the relative timeout measured on CLOCK_MONOTONIC from the entry
 * (a passed deadline answers what the timeout would: the events so far).
 * A program handler's EINTR, or its short count, is returned as without the
 * agent.  libaio returns -errno rather than setting errno; so does this.
 *
 * libaio is the program's library, not ours: the real function is looked
 * up at the first call (dlsym(RTLD_NEXT): libaio may be dlopened late),
 * and -ENOSYS answers if there is none (only a caller that found this
 * symbol by dlsym could get here without libaio).
 * Context: thread (what libaio allows; the lookup takes the dynamic
 * linker's lock on the first call).
 */
#include <dlfcn.h>
#include "up_call.h"
#include "up_time.h"

/* struct io_event (libaio.h, linux/aio_abi.h): data, obj, res, res2. */
#define UP_IO_EVENT_SIZE 32

typedef int up_io_getevents_fn(void *ctx, long min_nr, long nr, void *events, struct timespec *timeout);

/* Relaxed: a pointer to a function that never moves; any thread's lookup
 * stores the same value. */
static up_io_getevents_fn *_Atomic up_real_io_getevents_ptr;

static up_io_getevents_fn *up_real_io_getevents(void)
{
    up_io_getevents_fn *f = atomic_load_explicit(&up_real_io_getevents_ptr, memory_order_relaxed);
    if (UP_LIKELY(f != NULL))
        return f;
    f = (up_io_getevents_fn *)dlsym(RTLD_NEXT, "io_getevents");
    if (f)
        atomic_store_explicit(&up_real_io_getevents_ptr, f, memory_order_relaxed);
    return f;
}

UP_EXPORT int io_getevents(void *ctx, long min_nr, long nr, void *events, struct timespec *timeout)
{
    up_io_getevents_fn *real = up_real_io_getevents();
    if (!real)
        return -ENOSYS;
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_IO_GETEVENTS))
        return real(ctx, min_nr, nr, events, timeout);
    struct up_timeout t = up_timeout_start(timeout);
    long done = 0;
    int r = real(ctx, min_nr, nr, events, timeout);
    for (;;) {
        if (r > 0)
            done += r;
        int cut = r == -EINTR ? up_call_ours(&c, EINTR)
                  : r >= 0 && done < min_nr ? up_call_cut_by_tick(&c)
                  : 0;
        if (!cut)
            break;
        struct timespec *left;
        if (!up_timeout_left(&t, &left)) {
            r = 0; /* the timeout's answer: the events so far */
            break;
        }
        r = real(ctx, min_nr - done, nr - done, (char *)events + done * UP_IO_EVENT_SIZE, left);
    }
    up_call_end(&c);
    return done > 0 ? (int)done : r;
}
