/*
 * up_sleep.c - nanosleep, clock_nanosleep, usleep, sleep.
 *
 * After a handler these return EINTR whatever SA_RESTART says (signal(7)).
 * When only our signal interrupted one, the sleep goes on to the deadline
 * taken at entry: relative sleeps resume as clock_nanosleep(TIMER_ABSTIME)
 * on CLOCK_MONOTONIC (relative CLOCK_REALTIME/TAI sleeps are immune to clock
 * steps, so their deadline is kept on CLOCK_MONOTONIC too; other clocks keep
 * their own), absolute sleeps resume as they were.  So the program sees no
 * extra EINTR and no shortened sleep.  When a program handler interrupts,
 * the call returns as it would have, with the remaining time where the call
 * reports it (rem, sleep's return value).
 *
 * Window: a program signal that lands between the real call's return and
 * its resumption runs its handler without cutting the sleep at once; the
 * sleep ends at our next tick instead (at most one sampling period later),
 * or at its deadline.
 * Context of each: whatever the program calls it from.
 */
#include "up_call.h"
#include "up_real.h"
#include "up_time.h"

/* Sleep until `deadline` (ns on clk, absolute) while only our signal
 * interrupts.  0, or an error number (EINTR when a program handler ran). */
static int up_sleep_until(struct up_call *c, clockid_t clk, int64_t deadline)
{
    struct timespec dl = up_ns_to_ts(deadline);
    int e;
    do
        e = up_real_clock_nanosleep()(clk, TIMER_ABSTIME, &dl, NULL);
    while (up_call_ours(c, e));
    return e;
}

UP_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_NANOSLEEP))
        return up_real_nanosleep()(req, rem);
    int64_t t0 = up_clock_ns(CLOCK_MONOTONIC);
    int r = up_real_nanosleep()(req, rem);
    if (r < 0 && up_call_ours(&c, errno)) {
        /* *req is read only now that the kernel accepted it. */
        int64_t deadline = up_deadline(t0, up_ts_to_ns(req));
        int e = up_sleep_until(&c, CLOCK_MONOTONIC, deadline);
        if (e == 0) {
            r = 0;
        } else {
            if (e == EINTR && rem)
                *rem = up_ns_to_ts(up_left_ns(CLOCK_MONOTONIC, deadline));
            errno = e;
        }
    }
    up_call_end(&c);
    return r;
}

UP_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_CLOCK_NANOSLEEP))
        return up_real_clock_nanosleep()(clk, flags, req, rem);
    clockid_t dclk = clk == CLOCK_REALTIME || clk == CLOCK_TAI ? CLOCK_MONOTONIC : clk;
    int64_t t0 = (flags & TIMER_ABSTIME) ? 0 : up_clock_ns(dclk);
    int e = up_real_clock_nanosleep()(clk, flags, req, rem);
    if (up_call_ours(&c, e)) {
        if (flags & TIMER_ABSTIME) {
            do
                e = up_real_clock_nanosleep()(clk, flags, req, NULL);
            while (up_call_ours(&c, e));
        } else {
            int64_t deadline = up_deadline(t0, up_ts_to_ns(req));
            e = up_sleep_until(&c, dclk, deadline);
            if (e == EINTR && rem)
                *rem = up_ns_to_ts(up_left_ns(dclk, deadline));
        }
    }
    up_call_end(&c);
    return e;
}

UP_EXPORT int usleep(useconds_t us)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_USLEEP))
        return up_real_usleep()(us);
    int64_t deadline = up_deadline(up_clock_ns(CLOCK_MONOTONIC), (int64_t)us * 1000);
    int e = up_sleep_until(&c, CLOCK_MONOTONIC, deadline);
    up_call_end(&c);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}

/* Returns the seconds left when a program handler interrupted it, whole
 * seconds truncated, as glibc's sleep() does. */
UP_EXPORT unsigned int sleep(unsigned int s)
{
    struct up_call c;
    if (s == 0 || !up_call_begin(&c, UP_CALL_SLEEP))
        return up_real_sleep()(s);
    int saved = errno;
    int64_t deadline = up_deadline(up_clock_ns(CLOCK_MONOTONIC), (int64_t)s * UP_NS_PER_S);
    int e = up_sleep_until(&c, CLOCK_MONOTONIC, deadline);
    unsigned int left = e == EINTR ? (unsigned int)(up_left_ns(CLOCK_MONOTONIC, deadline) / UP_NS_PER_S) : 0;
    up_call_end(&c);
    errno = e == EINTR ? EINTR : saved; /* as glibc's sleep() leaves it */
    return left;
}
