/*
 * up_sync.c - pthread_cond_wait/timedwait/clockwait, pthread_mutex_lock,
 * pthread_join, sem_wait/timedwait/clockwait.
 *
 * The pthread functions never fail with EINTR (glibc retries its futex
 * waits), so they are only marked.  pthread_mutex_lock tries the real
 * trylock first and marks and blocks only when the mutex is busy: an
 * uncontended lock costs one trylock and no mark.  trylock answers what
 * lock would have for every mutex kind (a recursive mutex the caller holds:
 * 0; an error-checking one: EBUSY, then lock says EDEADLK; a robust one
 * whose owner died: EOWNERDEAD with the lock taken), so only EBUSY goes on
 * to lock.
 *
 * sem_wait and sem_timedwait can fail with EINTR (a futex wait with a
 * timeout is never restarted after a handler): retried when only our
 * signal interrupted, with the same absolute deadline.
 * Context of each: thread.
 */
#include "up_call.h"
#include "up_real.h"

UP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (!up_is_active())
        return up_real_pthread_mutex_lock()(m);
    int r = up_real_pthread_mutex_trylock()(m);
    if (r != EBUSY)
        return r;
    struct up_call c;
    if (!up_call_begin_ex(&c, UP_CALL_MUTEX_LOCK, 0))
        return up_real_pthread_mutex_lock()(m);
    r = up_real_pthread_mutex_lock()(m);
    up_call_end(&c);
    return r;
}

UP_EXPORT int pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_COND_WAIT))
        return up_real_pthread_cond_wait()(cv, m);
    int r = up_real_pthread_cond_wait()(cv, m);
    up_call_end(&c);
    return r;
}

UP_EXPORT int pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *abstime)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_COND_TIMEDWAIT))
        return up_real_pthread_cond_timedwait()(cv, m, abstime);
    int r = up_real_pthread_cond_timedwait()(cv, m, abstime);
    up_call_end(&c);
    return r;
}

UP_EXPORT int pthread_cond_clockwait(pthread_cond_t *cv, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *abstime)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_COND_CLOCKWAIT))
        return up_real_pthread_cond_clockwait()(cv, m, clk, abstime);
    int r = up_real_pthread_cond_clockwait()(cv, m, clk, abstime);
    up_call_end(&c);
    return r;
}

UP_EXPORT int pthread_join(pthread_t t, void **ret)
{
    struct up_call c;
    if (!up_call_begin(&c, UP_CALL_JOIN))
        return up_real_pthread_join()(t, ret);
    int r = up_real_pthread_join()(t, ret);
    up_call_end(&c);
    return r;
}

#define UP_SEM_CALL(id, expr)                             \
    do {                                                  \
        struct up_call c_;                                \
        if (!up_call_begin(&c_, (id)))                    \
            return (expr);                                \
        int r_;                                           \
        do                                                \
            r_ = (expr);                                  \
        while (r_ < 0 && up_call_ours(&c_, errno));       \
        up_call_end(&c_);                                 \
        return r_;                                        \
    } while (0)

UP_EXPORT int sem_wait(sem_t *s) { UP_SEM_CALL(UP_CALL_SEM_WAIT, up_real_sem_wait()(s)); }

UP_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    UP_SEM_CALL(UP_CALL_SEM_TIMEDWAIT, up_real_sem_timedwait()(s, abstime));
}

UP_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
    UP_SEM_CALL(UP_CALL_SEM_CLOCKWAIT, up_real_sem_clockwait()(s, clk, abstime));
}
