/*
 * urcu_flavors.h - liburcu memb against bp, side by side in one process.
 *
 * The registry is moving from liburcu's memb flavor to bp (the only flavor
 * with fork hooks).  These kernels call each flavor's exported functions
 * (urcu_memb_* / urcu_bp_*, never the _LGPL_SOURCE inlines), as the library
 * does, so the driver can interleave them in one run and report bp/memb.
 * Both flavors live in one binary: their symbols have distinct prefixes and
 * each keeps its own registry, grace-period counter and locks
 * (fl_coexistence_check() verifies the last point).
 */
#ifndef URCU_FLAVORS_H
#define URCU_FLAVORS_H
#include <stddef.h>
#include <stdint.h>

enum { FL_MEMB = 0, FL_BP = 1 };

const char *fl_name(int flavor);
/* liburcu's own flag: 1 when the flavor's grace period uses
 * membarrier(PRIVATE_EXPEDITED) and its read side a compiler barrier only;
 * 0 would mean full fences on the read side. */
int fl_has_sys_membarrier(int flavor);

/* Register the calling thread with both flavors (bp explicitly, so no
 * kernel below pays bp's lazy registration). */
void fl_register_self(void);

/* (1) n rcu_read_lock + rcu_read_unlock pairs, empty section; the calling
 * thread must be registered. */
uint64_t k_memb_read(uint64_t n);
uint64_t k_bp_read(uint64_t n);

/* (2) n synchronize_rcu() calls; the calling thread registered, outside any
 * read-side section. */
uint64_t k_memb_sync(uint64_t n);
uint64_t k_bp_sync(uint64_t n);

/* (3) n times: pthread_create, the thread registers and goes away,
 * pthread_join.  memb: register + unregister; bp: register, then its
 * pthread-key destructor unregisters at thread exit (urcu_bp_unregister_thread
 * is a no-op in 0.13).  k_bare_thread: the same thread without liburcu. */
uint64_t k_memb_thread(uint64_t n);
uint64_t k_bp_thread(uint64_t n);
uint64_t k_bare_thread(uint64_t n);
/* One such thread of kind FL_MEMB, FL_BP or FL_BARE.  Returns the ns inside
 * the thread from just before registering to just after bp's exit-time
 * unregistration (flavor_kernels.c says how), -1 if bp's unregistration had
 * not run by then, or -errno. */
enum { FL_BARE = 2 };
int64_t fl_thread_once(int kind);

/* The other thread of (2b) and (2c).  It registers with both flavors, then
 * either blocks (FL_PEER_IDLE) or loops lock/unlock of the flavor last set
 * by fl_peer_read_flavor() (FL_PEER_READER, pinned apart from the caller
 * when there are two CPUs).  Returns 0 or -errno. */
enum { FL_PEER_IDLE = 0, FL_PEER_READER = 1 };
int fl_peer_start(int mode);
/* FL_PEER_READER: switch the loop to `flavor`; returns once the peer has run
 * at least one section of it. */
void fl_peer_read_flavor(int flavor);
void fl_peer_stop(void);
/* FL_PEER_READER: 1 if the caller runs on CPU 0 and the peer on CPU 1. */
int fl_peer_pinned(void);
/* FL_PEER_READER: sections finished so far (to see whether it ran). */
uint64_t fl_peer_iterations(void);

/* A read-side section of one flavor must delay that flavor's grace period
 * and not the other's.  Writes what failed into msg; 0 when both hold. */
int fl_coexistence_check(char *msg, size_t len);

uint64_t fl_now_ns(void);
#endif
