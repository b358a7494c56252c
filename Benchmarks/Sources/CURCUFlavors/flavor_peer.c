/*
 * flavor_peer.c - the second thread of the grace-period rows, and the check
 * that memb and bp really are independent in one process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-bp.h>
#include "include/urcu_flavors.h"

static void read_section(int f)
{
    if (f == FL_BP) {
        urcu_bp_read_lock();
        __asm__ volatile("" ::: "memory");
        urcu_bp_read_unlock();
    } else {
        urcu_memb_read_lock();
        __asm__ volatile("" ::: "memory");
        urcu_memb_read_unlock();
    }
}

static void wait_until(atomic_int *flag, int value)
{
    /* Yield, not spin: two cores, and the peer needs one of them. */
    while (atomic_load_explicit(flag, memory_order_acquire) != value)
        sched_yield();
}

/* ---- (2b) idle and (2c) reading peer ---- */

static pthread_t peer;
static int peer_mode;
static atomic_int peer_ready, peer_stop;
/* fl_peer_read_flavor() bumps peer_gen after setting peer_flavor; the peer
 * echoes the generation into peer_seen after its first section of it, so the
 * measurement never starts while the peer still reads the other flavor. */
static atomic_int peer_flavor, peer_gen, peer_seen;
/* Sections the reading peer has finished: tells whether it ran during a
 * grace period (on a shared machine it may have been descheduled). */
static _Atomic uint64_t peer_iters;
/* FL_PEER_READER pins the caller to CPU 0 and the peer to CPU 1, so the two
 * never take turns on one CPU; the caller's mask is restored on stop. */
static cpu_set_t caller_mask;
static int pinned;
static pthread_mutex_t peer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t peer_cv = PTHREAD_COND_INITIALIZER;

static void *peer_main(void *arg)
{
    fl_register_self();
    atomic_store_explicit(&peer_ready, 1, memory_order_release);
    if (peer_mode == FL_PEER_IDLE) {
        /* Registered with both flavors, outside any section, asleep. */
        pthread_mutex_lock(&peer_mu);
        while (!atomic_load_explicit(&peer_stop, memory_order_relaxed))
            pthread_cond_wait(&peer_cv, &peer_mu);
        pthread_mutex_unlock(&peer_mu);
    } else {
        int last = -1, f = FL_MEMB;
        uint64_t iters = 0;
        while (!atomic_load_explicit(&peer_stop, memory_order_relaxed)) {
            int g = atomic_load_explicit(&peer_gen, memory_order_acquire);
            if (g != last)
                f = atomic_load_explicit(&peer_flavor, memory_order_relaxed);
            read_section(f);
            atomic_store_explicit(&peer_iters, ++iters, memory_order_relaxed);
            if (g != last) {
                atomic_store_explicit(&peer_seen, g, memory_order_release);
                last = g;
            }
        }
    }
    /* memb keeps a pointer to this thread's TLS until unregistered. */
    urcu_memb_unregister_thread();
    return arg;
}

int fl_peer_start(int mode)
{
    peer_mode = mode;
    atomic_store(&peer_ready, 0);
    atomic_store(&peer_stop, 0);
    atomic_store(&peer_flavor, FL_MEMB);
    atomic_store(&peer_gen, 0);
    atomic_store(&peer_seen, -1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pinned = 0;
    if (mode == FL_PEER_READER && sysconf(_SC_NPROCESSORS_ONLN) >= 2 &&
        pthread_getaffinity_np(pthread_self(), sizeof caller_mask, &caller_mask) == 0) {
        cpu_set_t c0, c1;
        CPU_ZERO(&c0);
        CPU_ZERO(&c1);
        CPU_SET(0, &c0);
        CPU_SET(1, &c1);
        pinned = pthread_setaffinity_np(pthread_self(), sizeof c0, &c0) == 0 &&
                 pthread_attr_setaffinity_np(&attr, sizeof c1, &c1) == 0;
    }
    int r = pthread_create(&peer, &attr, peer_main, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0)
        return -r;
    wait_until(&peer_ready, 1);
    if (mode == FL_PEER_READER)
        wait_until(&peer_seen, 0);
    return 0;
}

int fl_peer_pinned(void) { return pinned; }

uint64_t fl_peer_iterations(void)
{
    return atomic_load_explicit(&peer_iters, memory_order_relaxed);
}

void fl_peer_read_flavor(int f)
{
    atomic_store_explicit(&peer_flavor, f, memory_order_relaxed);
    int g = atomic_fetch_add_explicit(&peer_gen, 1, memory_order_release) + 1;
    wait_until(&peer_seen, g);
}

void fl_peer_stop(void)
{
    pthread_mutex_lock(&peer_mu);
    atomic_store(&peer_stop, 1);
    pthread_cond_broadcast(&peer_cv);
    pthread_mutex_unlock(&peer_mu);
    pthread_join(peer, NULL);
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof caller_mask, &caller_mask);
}

/* ---- coexistence: a section of one flavor delays only that flavor ---- */

struct holder { int flavor; atomic_int inside, release; };
struct syncer { int flavor; atomic_int done; };

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    fl_register_self();
    if (h->flavor == FL_BP)
        urcu_bp_read_lock();
    else
        urcu_memb_read_lock();
    atomic_store_explicit(&h->inside, 1, memory_order_release);
    wait_until(&h->release, 1);
    if (h->flavor == FL_BP)
        urcu_bp_read_unlock();
    else
        urcu_memb_read_unlock();
    urcu_memb_unregister_thread();
    return NULL;
}

static void *syncer_main(void *arg)
{
    struct syncer *s = arg;
    if (s->flavor == FL_BP)
        urcu_bp_synchronize_rcu();
    else
        urcu_memb_synchronize_rcu();
    atomic_store_explicit(&s->done, 1, memory_order_release);
    return NULL;
}

/* 1 if s completes within ms milliseconds. */
static int done_within(struct syncer *s, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (atomic_load_explicit(&s->done, memory_order_acquire))
            return 1;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return atomic_load_explicit(&s->done, memory_order_acquire);
}

/* Holder inside a section of `held`: the other flavor's grace period must
 * end (within 5 s: generous for a loaded machine), the held flavor's must
 * still be waiting after 50 ms and end once the holder leaves. */
static int check_one(int held, char *msg, size_t len)
{
    int other = held == FL_BP ? FL_MEMB : FL_BP;
    struct holder h = {.flavor = held};
    struct syncer so = {.flavor = other}, sh = {.flavor = held};
    pthread_t th, t1, t2;
    const char *fail = NULL;
    if (pthread_create(&th, NULL, holder_main, &h) != 0)
        return snprintf(msg, len, "pthread_create"), -1;
    wait_until(&h.inside, 1);
    if (pthread_create(&t1, NULL, syncer_main, &so) != 0 ||
        pthread_create(&t2, NULL, syncer_main, &sh) != 0)
        return snprintf(msg, len, "pthread_create"), -1;
    if (!done_within(&so, 5000))
        fail = "other flavor's synchronize_rcu waited for this section";
    if (!fail && done_within(&sh, 50))
        fail = "synchronize_rcu did not wait for its own flavor's section";
    atomic_store_explicit(&h.release, 1, memory_order_release);
    if (!fail && !done_within(&sh, 5000))
        fail = "synchronize_rcu did not end after the section";
    if (fail) {
        snprintf(msg, len, "%s section held: %s", fl_name(held), fail);
        return -1; /* a syncer may be stuck: the caller exits */
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(th, NULL);
    return 0;
}

int fl_coexistence_check(char *msg, size_t len)
{
    if (check_one(FL_BP, msg, len) || check_one(FL_MEMB, msg, len))
        return -1;
    snprintf(msg, len, "ok (a bp section delays only urcu_bp_synchronize_rcu, "
                       "a memb section only urcu_memb_synchronize_rcu)");
    return 0;
}
