/*
 * signal_support.c - real signal handlers for the tests.  Handlers must be
 * C (no Swift runtime in a handler): they call du_request and count what it
 * answered in lock-free atomics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include "deferred_unwind.h"
#include "test_support.h"

static du_tracer *_Atomic du_test_tracer;
static _Atomic unsigned long du_test_counts[8];
static _Atomic unsigned long du_test_zero_cookie;
static _Atomic unsigned long du_test_errno_spoiled;

static void du_test_handler(int sig)
{
    (void)sig;
    int saved = errno;
    errno = 12345;
    uint64_t cookie = 1;
    int rc = du_request(atomic_load_explicit(&du_test_tracer, memory_order_acquire), &cookie);
    if (errno != 12345)
        atomic_fetch_add_explicit(&du_test_errno_spoiled, 1, memory_order_relaxed);
    if (rc >= 0 && cookie == 0)
        atomic_fetch_add_explicit(&du_test_zero_cookie, 1, memory_order_relaxed);
    int slot;
    switch (rc) {
    case 0: slot = DU_TEST_QUEUED; break;
    case 1: slot = DU_TEST_ALREADY; break;
    case -ESRCH: slot = DU_TEST_NOT_ATTACHED; break;
    case -ESHUTDOWN: slot = DU_TEST_EXITING; break;
    case -ECANCELED: slot = DU_TEST_CANCELLED; break;
    default: slot = DU_TEST_OTHER; break;
    }
    atomic_fetch_add_explicit(&du_test_counts[slot], 1, memory_order_relaxed);
    errno = saved;
}

int du_test_install_request_handlers(int sig1, int sig2, du_tracer *tracer)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = du_test_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask); /* neither blocks the other: they nest */
    atomic_store_explicit(&du_test_tracer, tracer, memory_order_release);
    for (int i = 0; i < 8; i++)
        atomic_store(&du_test_counts[i], 0);
    atomic_store(&du_test_zero_cookie, 0);
    atomic_store(&du_test_errno_spoiled, 0);
    if (sigaction(sig1, &sa, NULL) || sigaction(sig2, &sa, NULL))
        return -errno;
    return 0;
}

unsigned long du_test_count(enum du_test_outcome outcome)
{
    if (outcome == DU_TEST_ZERO_COOKIE)
        return atomic_load(&du_test_zero_cookie);
    if (outcome == DU_TEST_ERRNO_SPOILED)
        return atomic_load(&du_test_errno_spoiled);
    return atomic_load(&du_test_counts[outcome]);
}
