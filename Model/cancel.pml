/*
 * cancel.pml - du_tracer_cancel(X) and du_tracer_register(Z).
 *
 * The canceller runs the phases of cancel in the design's order, or in the
 * order a REORDER_* / SKIP_* switch names.  Each blocking statement below is
 * one poll of the C code's loop (cancel.wait-poll); the model waits on one
 * thread at a time, as the C code does.
 */

/* (0) under the registry lock: state CANCELLING, live = 0 */
inline phase_mark()
{
    skip;
cancel_marked:
    atomic { reglock == 0 -> live[0] = 0; marked = 1 }
}

/* (1) membarrier, then each thread's claim count reads 0 once */
inline phase_requests()
{
    i = 0;
cancel_requests_poll:
    do
    :: i < NT -> (claiming[i] == 0); i++
    :: else -> break
    od;
    i = 0
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

/* (3) callbacks of X only: each thread observed not running slot 0's */
inline phase_quiet()
{
    i = 0;
cancel_quiet_poll:
    do
    :: i < NT -> (calling[i] != 1); i++
    :: else -> break
    od;
    i = 0
}

/* (4) scrub X's bit from every attached thread, count the dropped contexts */
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
            sc = attached[i];
            if
            :: sc -> old = mask[i]; mask[i] = old & ~SB(0); sctx = gctx[i]
            :: else
            fi };
        atomic {
            if
            :: sc ->
                oldc = completed[i]; completed[i] = oldc & ~SB(0);
                if
                :: (old & SB(0)) != 0 && (oldc & SB(0)) == 0 ->
                    dropped++;
                    /* P9 the count never takes a delivered request */
                    assert((gctx[i] == sctx && (acc[i] & IB(TX)) != 0 &&
                            (cbd[i] & IB(TX)) == 0) ||
                           (gctx[i] != sctx && (lostctx[i] & (1 << sctx)) != 0));
                    if :: gctx[i] == sctx -> counted[i] = 1 :: else fi
                :: else
                fi
            :: else
            fi };
#else
        /* completed first, then mask: the count is decided at the mask */
cancel_scrub_completed:
        atomic {
            sc = attached[i];
            if
            :: sc -> oldc = completed[i]; completed[i] = oldc & ~SB(0)
            :: else
            fi };
cancel_scrubbed:
        atomic {
            if
            :: sc ->
                old = mask[i]; mask[i] = old & ~SB(0);
                if
                :: (old & SB(0)) != 0 && (oldc & SB(0)) == 0 ->
                    dropped++;
                    /* P9 the count never takes a delivered request */
                    assert((acc[i] & IB(TX)) != 0 && (cbd[i] & IB(TX)) == 0);
                    counted[i] = 1
                :: else
                fi
            :: else
            fi };
#endif
        old = 0; oldc = 0; sc = 0; sctx = 0;
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
