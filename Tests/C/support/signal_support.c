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
static _Atomic int du_test_sig1, du_test_sig2;
static _Atomic unsigned long du_test_counts[8];
static _Atomic unsigned long du_test_zero_cookie;
static _Atomic unsigned long du_test_errno_spoiled;
static _Atomic unsigned long du_test_nested;
static _Atomic unsigned long du_test_runs;
static _Atomic unsigned long du_test_sig1_runs;
/* Handler runs in progress; one receiving thread only (see the header). */
static _Atomic int du_test_depth;

static void du_test_handler(int sig)
{
    int saved = errno;
    if (atomic_fetch_add_explicit(&du_test_depth, 1, memory_order_relaxed) > 0)
        atomic_fetch_add_explicit(&du_test_nested, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&du_test_runs, 1, memory_order_relaxed);
    /* A sure nesting: raise() is async-signal-safe and delivers sig2 (not
     * blocked here: sa_mask is empty) before it returns. */
    int is_sig1 = sig == atomic_load_explicit(&du_test_sig1, memory_order_relaxed);
    unsigned long nth = is_sig1 ? atomic_fetch_add_explicit(&du_test_sig1_runs, 1, memory_order_relaxed) : 1;
    int nest_before = is_sig1 && nth % 4 == 0;
    int nest_after = is_sig1 && nth % 4 == 2;
    if (nest_before)
        raise(atomic_load_explicit(&du_test_sig2, memory_order_relaxed));
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
    if (nest_after)
        raise(atomic_load_explicit(&du_test_sig2, memory_order_relaxed));
    atomic_fetch_sub_explicit(&du_test_depth, 1, memory_order_relaxed);
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
    atomic_store(&du_test_sig1, sig1);
    atomic_store(&du_test_sig2, sig2);
    for (int i = 0; i < 8; i++)
        atomic_store(&du_test_counts[i], 0);
    atomic_store(&du_test_zero_cookie, 0);
    atomic_store(&du_test_errno_spoiled, 0);
    atomic_store(&du_test_nested, 0);
    atomic_store(&du_test_runs, 0);
    atomic_store(&du_test_sig1_runs, 0);
    atomic_store(&du_test_depth, 0);
    if (sigaction(sig1, &sa, NULL) || sigaction(sig2, &sa, NULL))
        return -errno;
    return 0;
}

unsigned long du_test_count(enum du_test_outcome outcome)
{
    switch (outcome) {
    case DU_TEST_ZERO_COOKIE: return atomic_load(&du_test_zero_cookie);
    case DU_TEST_ERRNO_SPOILED: return atomic_load(&du_test_errno_spoiled);
    case DU_TEST_NESTED: return atomic_load(&du_test_nested);
    case DU_TEST_RUNS: return atomic_load(&du_test_runs);
    default: return atomic_load(&du_test_counts[outcome]);
    }
}
