/*
 * flavor_kernels.c - measured loops for memb vs bp (see urcu_flavors.h).
 *
 * No _LGPL_SOURCE: every rcu_read_lock/unlock is a call through the PLT
 * into liburcu-memb.so or liburcu-bp.so, the path libCDeferredUnwind takes.
 * The two headers can share a translation unit: each ends with
 * <urcu/map/clear.h>, and we only use the prefixed names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-bp.h>
#include "include/urcu_flavors.h"

/* Exported by both .so files but declared only under _LGPL_SOURCE. */
extern int urcu_memb_has_sys_membarrier;
extern int urcu_bp_has_sys_membarrier;

const char *fl_name(int f) { return f == FL_BP ? "bp" : "memb"; }

int fl_has_sys_membarrier(int f)
{
    return f == FL_BP ? urcu_bp_has_sys_membarrier : urcu_memb_has_sys_membarrier;
}

uint64_t fl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void fl_register_self(void)
{
    urcu_memb_register_thread();
    urcu_bp_register_thread();
}

/* The empty asm keeps the compiler from merging or hoisting iterations; the
 * calls themselves are opaque, so nothing else is needed. */
__attribute__((noinline)) uint64_t k_memb_read(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        urcu_memb_read_lock();
        __asm__ volatile("" ::: "memory");
        urcu_memb_read_unlock();
    }
    return n;
}

__attribute__((noinline)) uint64_t k_bp_read(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        urcu_bp_read_lock();
        __asm__ volatile("" ::: "memory");
        urcu_bp_read_unlock();
    }
    return n;
}

__attribute__((noinline)) uint64_t k_memb_sync(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        urcu_memb_synchronize_rcu();
    return n;
}

__attribute__((noinline)) uint64_t k_bp_sync(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        urcu_bp_synchronize_rcu();
    return n;
}

/* ---- (3) registration: one short-lived thread per operation ----
 *
 * bp has no unregistration call (urcu_bp_unregister_thread is a no-op in
 * 0.13): its pthread-key destructor unregisters after the thread function
 * returns.  To time that inside the thread, the clock starts just before
 * registering and stops in a destructor of our own.  glibc runs key
 * destructors in key order, and bp creates its key at its first
 * registration at the latest, which stamp_key_create() forces before
 * creating ours; so ours runs after bp's, and stamp_done() checks it (bp's
 * reader pointer must already be NULL).  Every kind, bare included, sets our
 * key, as du_thread_attach() sets its exit key: glibc's exit-time walk of
 * the keys is then in the baseline, as it is for an attached thread.
 * Thread creation and join (tens of us, noisy) stay outside the interval. */

/* Exported TLS of liburcu-bp.so, declared only under _LGPL_SOURCE. */
extern _Thread_local struct urcu_bp_reader *urcu_bp_reader;

static pthread_key_t stamp_key;
static pthread_once_t stamp_once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t stamp_t0;

struct stamp { int kind; int64_t ns; };

static void stamp_done(void *arg)
{
    struct stamp *st = arg;
    uint64_t t1 = fl_now_ns();
    st->ns = urcu_bp_reader ? -1 : (int64_t)(t1 - stamp_t0);
}

static void stamp_key_create(void)
{
    urcu_bp_register_thread(); /* bp's key exists from here on */
    if (pthread_key_create(&stamp_key, stamp_done) != 0)
        abort();
}

static void *reg_thread(void *arg)
{
    struct stamp *st = arg;
    pthread_setspecific(stamp_key, st);
    stamp_t0 = fl_now_ns();
    if (st->kind == FL_MEMB) {
        urcu_memb_register_thread();
        urcu_memb_unregister_thread();
    } else if (st->kind == FL_BP) {
        urcu_bp_register_thread();
    }
    return NULL;
}

int64_t fl_thread_once(int kind)
{
    struct stamp st = {kind, 0};
    pthread_t t;
    pthread_once(&stamp_once, stamp_key_create);
    int r = pthread_create(&t, NULL, reg_thread, &st);
    if (r != 0)
        return -r;
    pthread_join(t, NULL);
    return st.ns;
}

static uint64_t spawn_loop(uint64_t n, int kind)
{
    uint64_t done = 0;
    for (uint64_t i = 0; i < n; i++)
        done += fl_thread_once(kind) >= 0;
    return done;
}

__attribute__((noinline)) uint64_t k_memb_thread(uint64_t n) { return spawn_loop(n, FL_MEMB); }
__attribute__((noinline)) uint64_t k_bp_thread(uint64_t n) { return spawn_loop(n, FL_BP); }
__attribute__((noinline)) uint64_t k_bare_thread(uint64_t n) { return spawn_loop(n, FL_BARE); }
