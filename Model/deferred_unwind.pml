/*
 * deferred_unwind.pml - Promela model of DeferredUnwind's cross-thread
 * protocol: cookie assignment, du_request (thread context and nested signal
 * handlers), the safe point (dispatch rounds, completed set, reset R1..R3),
 * detach delivery, du_tracer_register and du_tracer_cancel (mark, request
 * wait, synchronize_rcu, callbacks-quiet wait, scrub, free).
 *
 * Checked exhaustively by Scripts/model-check.sh; Docs/Model.md explains the
 * abstractions, maps every labelled step to the C step point, and lists the
 * compile-time switches (-D to spin), each of which must be caught.
 *
 * Cast: threads T0 and T1 (attached at start), each with a requester per
 * interrupt level (level 0 = the thread's own du_request calls, levels 1 and
 * 2 = signal handlers nested on it); tracers X (slot 0), Y (slot 1) and Z
 * (registered by the Registrant, gets slot 0 once X's cancel frees it); the
 * Canceller cancels X.  Y's and Z's callbacks may block until cancel(X) has
 * returned: a cancel that waits for another tracer's callback deadlocks.
 * With NSERVE > 0 (the proxy sets) T0's safe points follow a frozen region
 * (du_frozen_enter, blocked, du_frozen_leave) and T1 is the Proxy
 * (proxy.pml): NSERVE calls of du_proxy_serve, nothing else.
 */

/* ---- bounds (override with -D; Scripts/model-check.sh names the sets) ----
 * "nest" (the defaults): T0 runs 2 safe points and its exit, with one
 * level-1 and one level-2 handler firing; T1 only exits.  "cross": T0 runs
 * 1 safe point, T1 only its exit, each with one level-1 firing; T0 at the
 * list head.  "trio": both only exit, T0 with one level-1 and one level-2
 * firing, T1 with one level-1 firing (two requesting threads and the
 * canceller in one wait).  "pair": both run 1 safe point and their exit,
 * no handler.  "proxy": T0 runs 1 frozen region + safe point and its exit,
 * one level-1 and one level-2 firing, the proxy serves twice; "proxy2": 2
 * regions, two level-1 firings, two serves. */
#define NT 2            /* threads */
#define NS 2            /* tracer slots */
#define NC 3            /* contexts per thread: safe points + the exit context */
#ifndef NCTX0
#define NCTX0 2         /* safe points of T0 before it detaches */
#endif
#ifndef NCTX1
#define NCTX1 0         /* safe points of T1 */
#endif
#ifndef FIRE01
#define FIRE01 1        /* level-1 handler firings on T0 (whole run) */
#endif
#ifndef FIRE02
#define FIRE02 1        /* level-2 handler firings on T0 (nested on level 1) */
#endif
#ifndef FIRE11
#define FIRE11 0        /* level-1 handler firings on T1 */
#endif
#ifndef FIRE12
#define FIRE12 0        /* level-2 handler firings on T1 */
#endif
#ifndef NSERVE
#define NSERVE 0        /* the proxy set: serves by the proxy (thread 1), and
                         * thread 0's safe points run in a frozen region;
                         * 0: no region, no proxy (every other set) */
#endif
#ifndef LIST_HEAD
#define LIST_HEAD 1     /* the thread at the head of the thread list (new
                         * threads are inserted at the head: T1 attached last) */
#endif

/* ---- the pending word (du_thread.mask) and tracer ids ------------------- */
#define PENDING 1
#define CLOSING 2
#define EXITING 4
#define SB(s)   (8 << (s))              /* slot s's bit in mask and completed */
#define TRACERS (SB(0) | SB(1))
#define TX 1                            /* tracer instances = handles (gen, slot) */
#define TY 2
#define TZ 3
#define IB(i)   (1 << (i))              /* instance bit in the ghost sets */
#define SLOT(h) ((h) == TY -> 1 : 0)

/* return values */
#define ECANCELED 10
#define ESHUTDOWN 11
#define CLAIM 12                        /* internal: take the claim path */

/* A step of interrupt level lv on thread t runs only while nothing is
 * nested on it: a handler runs to completion on top of the interrupted step. */
#define AT(lv) (depth[t] == (lv))

/* ---- per-thread state (struct du_thread) -------------------------------- */
byte mask[NT];
byte completed[NT];
byte cnt[NT];           /* cookie_cnt, the low half; 0 = unassigned */
byte seq[NT];           /* per-thread context counter (no wrap within the bounds) */
short closing[NT];      /* cookie of the context being closed (valid while CLOSING) */
byte claiming[NT];
byte calling[NT];       /* slot + 1 of the callback running now; 0 = none */
bit in_section[NT];     /* RCU read-side section open (abstract liburcu-bp reader) */
bit gpwait[NT];         /* a grace period in progress waits for this section */
bit attached[NT];       /* on the thread list (scrub and waits look at it) */
bit published[NT];      /* du_self set: handlers may request */
byte depth[NT];         /* interrupt level running now: 0 thread, 1..2 handlers */
byte cmd[NT];           /* handle of the thread's own du_request in progress */
byte fires[NT * 3];     /* handler firing budget per (thread, level) */
byte nctx[NT];

#ifdef NAIVE_PERCPU
byte hi[NT];            /* cookie_cpu half, written after the CAS */
byte pcnt[2];           /* per-CPU counters, plain read + write back */
#define HI(t) hi[t]
#elif defined(COOKIE48)
byte c48;               /* CPU 0's counter, 2 bits wide here, not kept odd */
#define HI(t) 0
#else
#define HI(t) ((t) + 1) /* serial: never 0, distinct per thread */
#endif
#define COOKIE(t, c) (HI(t) * 256 + (c))

/* ---- registry ----------------------------------------------------------- */
byte live[NS];          /* handle while registered, 0 once cancel marked it */
byte cbinst[NS];        /* whose callback/arg the slot holds (written by register) */
byte used;              /* du_used, slot bits */
bit reglock;            /* du_registry_lock */
bit listlock;           /* du_threads_lock (scrub vs unlink) */
bit zpub;               /* Z's handle returned by register */
bit marked;             /* cancel(X) has marked the slot (live = 0) */
bit cret;               /* cancel(X) has returned */
byte dropped;           /* cancel(X)'s count */
byte gone0;             /* du_dropped_gone[slot 0]: counted at unlink, under the list lock */
#ifdef MUTEX_DISPATCH
bit cblock;             /* v13: one lock around every thread's callbacks */
#endif

/* ---- frozen regions (proxy.c; only with NSERVE > 0) --------------------- */
#define FNO 0
#define FYES 1
#define FCLAIMED 2
byte frozen[NT];        /* du_thread.frozen: DU_FROZEN_NO, YES, CLAIMED */
bit pserving[NT];       /* ghost: a proxy is between its claim of the thread
                         * and its release (the end of its round) */
#if NSERVE > 0 && !defined(NO_CLAIM_ASSERTS)
/* P11 the leave never returns while a proxy serves the thread */
#define LEAVE_CHECK assert(pserving[t] == 0)
/* P12 the thread's own dispatch never runs while a proxy serves it
 * (a statement and its separator: nothing at all without the proxy, so
 * the other sets' steps and trails stay as they were) */
#define NOT_CLAIMED assert(!pserving[t]);
#else
#define LEAVE_CHECK skip
#define NOT_CLAIMED
#endif

/* ---- ghost state: what the C code does not have, used by the asserts --- */
byte gctx[NT];          /* context number of the thread */
byte acc[NT];           /* instances with an accepted request (0 or 1) in it */
byte cbd[NT];           /* instances called back in it */
byte zero[NT];          /* instances whose request returned 0 in it */
byte rounds[NT];        /* dispatch rounds in it */
short gck[NT];          /* its cookie, from the first accepted request */
short ckh[NT * NC];     /* cookie of every context so far, per (thread, context) */
bit counted[NT];        /* cancel(X)'s scrub counted this context as dropped */
byte lostctx[NT];       /* contexts (bit per number) that ended with X dropped */

#include "ghost.pml"
#include "request.pml"
#include "thread.pml"
#include "cancel.pml"
#include "proxy.pml"

init {
    atomic {
        live[0] = TX; cbinst[0] = TX;
        live[1] = TY; cbinst[1] = TY;
        used = 3;
        attached[0] = 1; attached[1] = 1;
        published[0] = 1; published[1] = 1;
        nctx[0] = NCTX0; nctx[1] = NCTX1;
        fires[1] = FIRE01; fires[2] = FIRE02;
        fires[4] = FIRE11; fires[5] = FIRE12;
        run Thread(0);
#if NSERVE > 0
        run Proxy(1);           /* thread 1 serves; it never detaches */
        run Requester(0, 0);
#else
        run Thread(1);
        run Requester(0, 0);
        run Requester(1, 0);
#endif
        if :: FIRE01 > 0 -> run Requester(0, 1) :: else fi;
        if :: FIRE02 > 0 -> run Requester(0, 2) :: else fi;
        if :: FIRE11 > 0 -> run Requester(1, 1) :: else fi;
        if :: FIRE12 > 0 -> run Requester(1, 2) :: else fi;
        run Canceller();
        run Registrant()
    }
}
