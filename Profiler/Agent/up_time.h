/*
 * up_time.h - timespec/timeval arithmetic for deadlines.  All inline, no
 * state; clock_gettime is async-signal-safe (vDSO).
 */
#ifndef UP_TIME_H
#define UP_TIME_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#define UP_NS_PER_S 1000000000LL

static inline int up_ts_valid(const struct timespec *t)
{
    return t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < UP_NS_PER_S;
}

/* Saturating: a timeout too large for int64 ns (292 years) is "forever". */
static inline int64_t up_ts_to_ns(const struct timespec *t)
{
    if (t->tv_sec > (INT64_MAX - t->tv_nsec) / UP_NS_PER_S)
        return INT64_MAX;
    return (int64_t)t->tv_sec * UP_NS_PER_S + t->tv_nsec;
}

static inline struct timespec up_ns_to_ts(int64_t ns)
{
    if (ns < 0)
        ns = 0;
    return (struct timespec){.tv_sec = ns / UP_NS_PER_S, .tv_nsec = ns % UP_NS_PER_S};
}

static inline int64_t up_clock_ns(clockid_t clk)
{
    struct timespec t;
    if (clock_gettime(clk, &t) != 0)
        return 0;
    return up_ts_to_ns(&t);
}

/* deadline = now + rel, saturating at "forever". */
static inline int64_t up_deadline(int64_t now, int64_t rel)
{
    return rel > INT64_MAX - now ? INT64_MAX : now + rel;
}

/* Time left until deadline on clk, >= 0. */
static inline int64_t up_left_ns(clockid_t clk, int64_t deadline)
{
    if (deadline == INT64_MAX)
        return INT64_MAX;
    int64_t left = deadline - up_clock_ns(clk);
    return left > 0 ? left : 0;
}

/*
 * A call's relative timeout, resumed after our tick with what is left of
 * it on CLOCK_MONOTONIC since the call's entry:
 *
 *   struct up_timeout t = up_timeout_start(tmo);    at entry
 *   r = real(..., tmo);
 *   while (<cut by our tick alone>) {
 *       struct timespec *left;
 *       if (!up_timeout_left(&t, &left))
 *           <answer as the timeout does>;           the deadline has passed
 *       r = real(..., left);                        NULL when tmo is NULL
 *   }
 *
 * *tmo is read only by up_timeout_left, after the kernel accepted it (a bad
 * pointer fails with EFAULT, never with our EINTR).  No allocation, no
 * lock, errno as clock_gettime leaves it (untouched through the vDSO):
 * usable in threads and handlers alike.
 */
struct up_timeout {
    const struct timespec *tmo; /* the caller's; NULL: none */
    int64_t t0;                 /* CLOCK_MONOTONIC at entry (with tmo only) */
    struct timespec left;       /* the next attempt's timeout */
};

static inline struct up_timeout up_timeout_start(const struct timespec *tmo)
{
    return (struct up_timeout){.tmo = tmo, .t0 = tmo ? up_clock_ns(CLOCK_MONOTONIC) : 0};
}

/* 0: the deadline has passed.  1: resume with *left (NULL: no timeout). */
static inline int up_timeout_left(struct up_timeout *t, struct timespec **left)
{
    *left = NULL;
    if (!t->tmo)
        return 1;
    int64_t ns = up_left_ns(CLOCK_MONOTONIC, up_deadline(t->t0, up_ts_to_ns(t->tmo)));
    if (ns == 0)
        return 0;
    t->left = up_ns_to_ts(ns);
    *left = &t->left;
    return 1;
}

/* Rounded up, so a resumed call never ends before the deadline. */
static inline struct timeval up_ns_to_tv_up(int64_t ns)
{
    int64_t us = ns / 1000 + (ns % 1000 != 0);
    return (struct timeval){.tv_sec = us / 1000000, .tv_usec = us % 1000000};
}

static inline int up_ns_to_ms_up(int64_t ns)
{
    int64_t ms = ns / 1000000 + (ns % 1000000 != 0);
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

#endif /* UP_TIME_H */
