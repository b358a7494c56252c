/*
 * cancel.pml - du_tracer_cancel(X) and du_tracer_register(Z).
 *
 * The canceller runs the phases of cancel in the design's order, or in the
 * order a REORDER_* / SKIP_* switch names.  The request wait is
 * du_wait_idle as the C code runs it: under the thread-list lock ONE look at
 * every thread on the list, in list order, one read per thread and step
 * (cancel.wait-looked after each), recording the threads seen busy; then
 * polls of the recorded threads only, each poll one read (off the list, or
 * idle: dropped from the record; cancel.wait-poll starts each round of
 * them), until none is left.  CAPPED_LOOK is the earlier version: a first
 * look counts the busy threads, a second look records at most that many.
 * The callbacks wait (the same du_wait_idle) waits for each thread in turn:
 * its "idle" is stable after the grace period (phase_quiet).
 */

/* Whether thread x is busy for wait S: S = 0 the request wait (claim
 * count), S = slot + 1 the callbacks wait (calling). */
#define BUSY(S, x) ((S) == 0 -> claiming[x] != 0 : calling[x] == (S))
/* The thread at list position p (0 = the head). */
#define LIST_AT(p) ((p) == 0 -> LIST_HEAD : 1 - LIST_HEAD)

/* The look (fixed code): in list order, one acquire load per thread; the
 * first read takes the list lock, the last releases it (nothing of ours
 * happens between the lock and the reads; the lock only keeps unlinks out
 * of the look).  A thread off the list is not on it to look at. */
inline wait_look(S)
{
    do
    :: j < NT ->
        atomic {
            (j > 0 || listlock == 0) ->
            listlock = 1;
            th = LIST_AT(j);
            if
            :: attached[th] && BUSY(S, th) -> rec = rec | (1 << th)
            :: else
            fi;
            j++;
            if :: j == NT -> listlock = 0 :: else fi;
            th = 0 }
    :: else -> break
    od;
    j = 0
}

/* CAPPED_LOOK, the first look: count the busy threads (each read its own
 * moment), list lock held from here to the end of wait_look_capped. */
inline wait_count(S)
{
    do
    :: j < NT ->
        atomic {
            (j > 0 || listlock == 0) ->
            listlock = 1;
            th = LIST_AT(j);
            if
            :: attached[th] && BUSY(S, th) -> cap++
            :: else
            fi;
            j++;
            th = 0 }
    :: else -> break
    od;
    j = 0
}

/* CAPPED_LOOK, the second look: in list order, record busy threads until
 * `cap` are recorded; the threads after that are never read. */
inline wait_look_capped(S)
{
    do
    :: j < NT && n < cap ->
        atomic {
            th = LIST_AT(j);
            if
            :: attached[th] && BUSY(S, th) -> rec = rec | (1 << th); n++
            :: else
            fi;
            j++;
            th = 0 }
    :: else -> atomic { listlock = 0; j = 0; n = 0; cap = 0 }; break
    od
}

/* The polls: each read of a recorded thread (under the list lock, so the
 * on-list check and the load are one moment) drops it once it is off the
 * list or idle; reads that find it busy change nothing and are left out.
 * Any order: the C code's rounds read the record in order, but a thread
 * dropped in one round is never read again, so the threads are seen idle
 * in any order. */
inline wait_poll(S)
{
    do
    :: atomic { (rec & 1) != 0 && (!attached[0] || !BUSY(S, 0)) -> rec = rec & ~1 }
    :: atomic { (rec & 2) != 0 && (!attached[1] || !BUSY(S, 1)) -> rec = rec & ~2 }
    :: rec == 0 -> break
    od
}

/* (0) under the registry lock: state CANCELLING, live = 0 */
inline phase_mark()
{
    skip;
cancel_marked:
    atomic { reglock == 0 -> live[0] = 0; marked = 1 }
}

/* (1) membarrier, then du_wait_idle on the claim counts: after the mark,
 * one idle read per thread suffices (a request that starts later reads
 * live == 0).  Sequential consistency stands in for the membarrier. */
inline phase_requests()
{
    skip;
#ifdef CAPPED_LOOK
cancel_requests_count:
    wait_count(0);
#endif
cancel_requests_look:
#ifdef CAPPED_LOOK
    wait_look_capped(0);
#else
    wait_look(0);
#endif
cancel_requests_poll:
    wait_poll(0)
}

/* (2) synchronize_rcu: the grace period starts at one instant (liburcu's
 * counter flip); it waits for exactly the sections open at that instant,
 * each of which clears its gpwait bit when it ends */
inline phase_sync()
{
    skip;
cancel_sync_start:
    atomic {
        i = 0;
        do
        :: i < NT -> gpwait[i] = in_section[i]; i++
        :: else -> break
        od;
        i = 0 };
cancel_sync_poll:
    do
    :: i < NT -> (gpwait[i] == 0); i++
    :: else -> break
    od;
    i = 0
}

/* (3) du_wait_idle on X's callbacks (calling == slot 0 + 1).  After the
 * grace period no callback of X can start (live is 0 and the slot is not
 * free), so "not calling X" is stable: the look and the polls, capped or
 * not, end in exactly the states that waiting for each thread in turn, in
 * list order, until it reads idle ends in - which is what is modelled. */
inline phase_quiet()
{
    j = 0;
cancel_quiet_poll:
    do
    :: j < NT -> (calling[LIST_AT(j)] != 1); j++
    :: else -> break
    od;
    j = 0
}

/* (4) scrub X's bit from every attached thread (the list, in list order,
 * under its lock), count the dropped contexts */
inline phase_scrub()
{
    skip;
cancel_scrub_lock:
    atomic { listlock == 0 -> listlock = 1; i = 0; dropped = dropped + gone0; gone0 = 0 };
cancel_scrub_loop:
    do
    :: i < NT ->
#ifdef SPEC_SCRUB_ORDER
        /* the brief as written: mask first, then completed */
        atomic {
            th = LIST_AT(i); sc = attached[th];
            if
            :: sc -> old = mask[th]; mask[th] = old & ~SB(0); sctx = gctx[th]
            :: else
            fi };
        atomic {
            if
            :: sc ->
                oldc = completed[th]; completed[th] = oldc & ~SB(0);
                if
                :: (old & SB(0)) != 0 && (oldc & SB(0)) == 0 ->
                    dropped++;
                    /* P9 the count never takes a delivered request */
                    assert((gctx[th] == sctx && (acc[th] & IB(TX)) != 0 &&
                            (cbd[th] & IB(TX)) == 0) ||
                           (gctx[th] != sctx && (lostctx[th] & (1 << sctx)) != 0));
                    if :: gctx[th] == sctx -> counted[th] = 1 :: else fi
                :: else
                fi
            :: else
            fi };
#else
        /* completed first, then mask: the count is decided at the mask */
cancel_scrub_completed:
        atomic {
            th = LIST_AT(i); sc = attached[th];
            if
            :: sc -> oldc = completed[th]; completed[th] = oldc & ~SB(0)
            :: else
            fi };
cancel_scrubbed:
        atomic {
            if
            :: sc ->
                old = mask[th]; mask[th] = old & ~SB(0);
                if
                :: (old & SB(0)) != 0 && (oldc & SB(0)) == 0 ->
                    dropped++;
                    /* P9 the count never takes a delivered request */
                    assert((acc[th] & IB(TX)) != 0 && (cbd[th] & IB(TX)) == 0);
                    counted[th] = 1
                :: else
                fi
            :: else
            fi };
#endif
        old = 0; oldc = 0; sc = 0; sctx = 0; th = 0;
        i++
    :: else -> break
    od;
cancel_scrub_unlock:
    atomic { listlock = 0; i = 0 }
}

/* (5) under the registry lock: the bit back to the free set */
inline phase_free()
{
    skip;
cancel_freed:
    atomic { reglock == 0 -> used = used & ~1 }
}

/* (5) as the last phase: free, then return (one step: nothing in between) */
inline phase_free_return()
{
    skip;
cancel_freed:
    atomic { reglock == 0 -> used = used & ~1; cret = 1 }
}

#ifdef MUTEX_DISPATCH
#define PHASE_MUTEX (cblock == 0)   /* v13: lock + unlock the callback lock */
#else
#define PHASE_MUTEX skip
#endif

#ifdef CANCEL_NO_WAIT
/* harness variant cancel-no-wait: no grace period of either kind */
#define CANCEL_STEPS phase_mark(); phase_scrub(); phase_free_return()
#elif defined(CANCEL_NO_SCRUB)
#define CANCEL_STEPS phase_mark(); phase_requests(); PHASE_MUTEX; phase_sync(); phase_quiet(); phase_free_return()
#elif defined(REORDER_SCRUB_BEFORE_SYNC)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_scrub(); phase_sync(); phase_quiet(); phase_free_return()
#elif defined(REORDER_SCRUB_BEFORE_REQWAIT)
#define CANCEL_STEPS phase_mark(); phase_scrub(); phase_requests(); phase_sync(); phase_quiet(); phase_free_return()
#elif defined(REORDER_FREE_BEFORE_SCRUB)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_sync(); phase_quiet(); phase_free(); phase_scrub(); atomic { cret = 1 }
#elif defined(REORDER_FREE_BEFORE_QUIET)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_sync(); phase_scrub(); phase_free(); phase_quiet(); atomic { cret = 1 }
#elif defined(REORDER_QUIET_BEFORE_SYNC)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_quiet(); phase_sync(); phase_scrub(); phase_free_return()
#elif defined(REORDER_MARK_AFTER_WAITS)
#define CANCEL_STEPS phase_requests(); phase_sync(); phase_quiet(); phase_mark(); phase_scrub(); phase_free_return()
#elif defined(REORDER_REQWAIT_AFTER_SYNC)
#define CANCEL_STEPS phase_mark(); phase_sync(); phase_requests(); phase_quiet(); phase_scrub(); phase_free_return()
#elif defined(REORDER_REQWAIT_AFTER_QUIET)
#define CANCEL_STEPS phase_mark(); phase_sync(); phase_quiet(); phase_requests(); phase_scrub(); phase_free_return()
#elif defined(SKIP_REQUEST_WAIT)
#define CANCEL_STEPS phase_mark(); phase_sync(); phase_quiet(); phase_scrub(); phase_free_return()
#elif defined(SKIP_SYNC)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_quiet(); phase_scrub(); phase_free_return()
#elif defined(SKIP_QUIET)
#define CANCEL_STEPS phase_mark(); phase_requests(); phase_sync(); phase_scrub(); phase_free_return()
#else
/* the design */
#define CANCEL_STEPS phase_mark(); phase_requests(); PHASE_MUTEX; phase_sync(); phase_quiet(); phase_scrub(); phase_free_return()
#endif

proctype Canceller()
{
    byte i, old, oldc, sctx;
    byte j, th, rec, cap, n;   /* du_wait_idle: list position, thread, record, first count */
    bit sc;

    CANCEL_STEPS
}

/* du_tracer_register(Z): lowest free bit (slot 0 once X's cancel freed it;
 * slot 1 is Y's for the whole run), then publish the handle with release. */
proctype Registrant()
{
register_begin:
    atomic { reglock == 0 && (used & 1) == 0 -> reglock = 1; used = used | 1; cbinst[0] = TZ };
register_published:
    atomic { live[0] = TZ; zpub = 1; reglock = 0 }
}
