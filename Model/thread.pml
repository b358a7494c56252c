/*
 * thread.pml - an attached thread: contexts of (optional thread-context
 * request, safe point), then detach.  The safe point is du_dispatch: rounds
 * (dispatch.c du_round, registry.c du_registry_call) until no PENDING, then
 * the reset R1..R3.  Detach sets EXITING and dispatches with exiting = 1
 * (no reset).  Every shared step is gated by AT(0): it runs only while no
 * handler is nested on the thread.
 */

/* Where the read-side section (or v13's callback lock) is held. */
#if defined(GLOBAL_GP)
/* the old design: callbacks inside one section per round */
#define ROUND_LOCK    atomic { AT(0) -> in_section[t] = 1 }
#define ROUND_UNLOCK  atomic { AT(0) -> in_section[t] = 0; gpwait[t] = 0 }
#define SLOT_LOCK     skip
#define SLOT_UNLOCK   skip
#elif defined(MUTEX_DISPATCH)
/* v13: every thread's callbacks under one mutex */
#define ROUND_LOCK    atomic { AT(0) && cblock == 0 -> cblock = 1 }
#define ROUND_UNLOCK  atomic { AT(0) -> cblock = 0 }
#define SLOT_LOCK     skip
#define SLOT_UNLOCK   skip
#else
/* the design: a section around each slot's lookup only */
#define ROUND_LOCK    skip
#define ROUND_UNLOCK  skip
#define SLOT_LOCK     atomic { AT(0) -> in_section[t] = 1 }
#define SLOT_UNLOCK   atomic { AT(0) -> in_section[t] = 0; gpwait[t] = 0 }
#endif

/* The thread's own du_request (served by Requester(t, 0)), any tracer. */
#define OWN_REQUEST \
    if \
    :: skip \
    :: atomic { AT(0) -> cmd[t] = TX }; (cmd[t] == 0) \
    :: atomic { AT(0) -> cmd[t] = TY }; (cmd[t] == 0) \
    :: atomic { AT(0) && zpub -> cmd[t] = TZ }; (cmd[t] == 0) \
    fi

proctype Thread(byte t)
{
    byte k, m, todo, sl, h, m2, inst, rm, c;
    short ck, cl;
    bit exiting, ok;
#ifdef REGION_SAFE_POINT
    bit insp;       /* the dispatch is a safe point inside the region */
#endif

top:
    if
    :: k < nctx[t] ->
own_request:
        OWN_REQUEST;
#if NSERVE > 0
        /* ---- the frozen region (proxy.c), thread 0 only ---- */
        if
        :: t == 0 ->
frozen_entered:
            /* du_frozen_enter: the frame, then frozen = YES (release) */
            atomic { AT(0) -> frozen[t] = FYES };
            /* blocked in the call: only handlers run on the thread.  A
             * handler's du_safe_point here answers -EBUSY (or 0 when nothing
             * is pending) and writes nothing: left out, except in the
             * variant that dispatches (REGION_SAFE_POINT) */
#ifdef REGION_SAFE_POINT
            if
            :: skip
            :: atomic { AT(0) ->
                   if
                   :: mask[t] == 0 && cnt[t] == 0 -> skip
                   :: else -> insp = 1; goto dloop
                   fi }
            fi;
region_back:
#endif
frozen_waiting:
            /* leave: CAS(frozen, YES -> NO) acquire; while CLAIMED it fails
             * and the thread yields (frozen.waiting): a failed CAS writes
             * nothing, so the leave is the one step enabled at YES */
#ifdef LEAVE_NO_WAIT
frozen_left:
            atomic { AT(0) -> frozen[t] = FNO; LEAVE_CHECK }
#else
frozen_left:
            atomic { AT(0) && frozen[t] == FYES -> frozen[t] = FNO; LEAVE_CHECK }
#endif
        :: else
        fi
#endif
    :: else ->
detach_exiting:
        atomic { AT(0) -> mask[t] = mask[t] | EXITING; exiting = 1 };
#ifdef EXIT_DROPS_PENDING
        goto detach
#else
        skip
#endif
    fi;

    /* ---- du_dispatch ---- */
dloop:
dispatch_load:
    atomic { AT(0) ->
        m = mask[t];
        if
        :: (m & PENDING) != 0 -> goto round
        :: (m & PENDING) == 0 && exiting -> m = 0; goto ddone
        :: else -> m = 0; goto reset
        fi };

    /* ---- du_round ---- */
round:
#ifdef PENDING_LATE
    atomic { AT(0) -> m = mask[t]; rounds[t]++ };
#else
dispatch_pending_cleared:
    atomic { AT(0) ->
        m = mask[t];
        NOT_CLAIMED
        mask[t] = m & ~PENDING;
        rounds[t]++;
        /* P8 bounded rounds: each round is paid for by a request that
         * answered 0 (a new bit), so <= tracers + 1 in all */
        assert(rounds[t] <= NZERO(t)) };
#endif
round_todo:
    atomic { AT(0) ->
        NOT_CLAIMED
#ifdef NO_COMPLETED
        todo = m & TRACERS;
#else
        todo = m & TRACERS & ~completed[t];
#endif
        m = 0;
        if
        :: todo == 0 -> goto round_tail
        :: else
        fi };
    /* (dispatch.unwound: the unwind touches no shared word) */
round_cookie:
    /* du_cookie_get(th) for the callbacks: assigned, since a request of this
     * context succeeded (only broken variants reach the draw) */
    atomic { AT(0) ->
        c = cnt[t];
        if
        :: c == 0 -> c = (seq[t] + 2) | 1; seq[t] = c; cnt[t] = c
        :: else
        fi;
        ck = COOKIE(t, c);
        c = 0 };
    ROUND_LOCK;
    sl = 0;
slot_loop:
    if
    :: sl == NS -> goto round_end
    :: sl < NS && (todo & SB(sl)) == 0 -> sl++; goto slot_loop
    :: sl < NS && (todo & SB(sl)) != 0 -> skip
    fi;
slot_lock:
    SLOT_LOCK;
dispatch_live:
    atomic { AT(0) ->
        h = live[sl];
        if
        :: h == 0 -> goto slot_skip
        :: else
        fi };
#ifndef DISPATCH_NO_RECHECK
dispatch_mask_reread:
    atomic { AT(0) ->
        m2 = mask[t];
        if
        :: (m2 & SB(sl)) == 0 -> m2 = 0; goto slot_skip
        :: else -> m2 = 0
        fi };
dispatch_found:
    atomic { AT(0) ->
#ifndef NO_COMPLETED
        if
        :: (completed[t] & SB(sl)) != 0 -> goto slot_skip
        :: else
        fi
#else
        skip
#endif
    };
#endif
dispatch_completed_set:
    atomic { AT(0) -> NOT_CLAIMED completed[t] = completed[t] | SB(sl) };
#ifdef CALLING_AFTER_UNLOCK
    /* slip: calling published outside the section */
    atomic { AT(0) -> inst = cbinst[sl] };
    SLOT_UNLOCK;
    atomic { AT(0) -> calling[t] = sl + 1 };
#else
dispatch_marked:
    atomic { AT(0) -> NOT_CLAIMED calling[t] = sl + 1; inst = cbinst[sl] };
dispatch_callback:
    SLOT_UNLOCK;
#endif
    /* ---- the callback: thread context, outside any section ---- */
callback_begin:
    atomic { AT(0) -> callback_start(inst, ck) };
callback_request:
    OWN_REQUEST;
#ifndef NO_SLEEP
callback_sleep:
    if
    :: inst != TX ->
        /* Y's and Z's callbacks may sleep until cancel(X) has returned */
        if
        :: skip
        :: true -> (cret)
        fi
    :: else
    fi;
#endif
dispatch_returned:
    atomic { AT(0) ->
        /* P7 no callback of X is still running when cancel(X) has returned */
        assert(!(inst == TX && cret));
        NOT_CLAIMED
        calling[t] = 0;
        inst = 0 };
    goto next_slot;
slot_skip:
    SLOT_UNLOCK;
next_slot:
    atomic { sl++; h = 0; goto slot_loop };
round_end:
    ROUND_UNLOCK;
round_tail:
#ifdef PENDING_LATE
    /* harness variant pending-late: PENDING cleared after the callbacks */
    atomic { AT(0) -> mask[t] = mask[t] & ~PENDING };
#endif
    atomic { todo = 0; sl = 0; ck = 0; m = 0 };
    goto dloop;

    /* ---- du_reset ---- */
reset:
#ifdef PLAIN_RESET
    /* harness variant plain-reset: CAS loop to 0, then clear the cookie */
    atomic { AT(0) -> rm = mask[t] };
plain_cas:
    if
    :: (rm & PENDING) != 0 -> rm = 0; goto dloop
    :: else
    fi;
    atomic { AT(0) ->
        if
        :: mask[t] == rm -> mask[t] = 0; ok = 1; ghost_end()
        :: else -> rm = mask[t]; ok = 0
        fi };
    if
    :: !ok -> goto plain_cas
    :: else
    fi;
    atomic { AT(0) -> cnt[t] = 0 };
    atomic { AT(0) -> completed[t] = 0; ok = 0; rm = 0 };
    goto ddone;
#else
reset_load:
    atomic { AT(0) ->
        rm = mask[t];
        if
        :: (rm & PENDING) != 0 -> rm = 0; goto dloop
        :: else
        fi };
    if
    :: rm == 0 ->
reset_cookie_check:
        atomic { AT(0) ->
            if
            :: cnt[t] == 0 -> goto ddone
            :: else
            fi }
    :: else
    fi;
reset_begin:
    atomic { AT(0) -> cl = COOKIE(t, cnt[t]); closing[t] = cl };
reset_closing:
    /* R1 */
    atomic { AT(0) ->
        NOT_CLAIMED
#ifdef R1_PLAIN
        mask[t] = rm | CLOSING; ok = 1
#else
        if
        :: mask[t] == rm -> mask[t] = rm | CLOSING; ok = 1
        :: else -> ok = 0
        fi
#endif
    };
    if
    :: !ok -> atomic { rm = 0; cl = 0; goto dloop }
    :: else
    fi;
#ifndef SKIP_R2
reset_cookie_cleared:
    /* R2 */
    atomic { AT(0) ->
        NOT_CLAIMED
        cnt[t] = 0;
#ifdef NAIVE_PERCPU
        hi[t] = 0
#else
        skip
#endif
    };
#endif
reset_r3:
    /* R3 */
    atomic { AT(0) ->
#ifdef R3_PLAIN
        mask[t] = 0; ok = 1; ghost_end()
#else
        if
        :: mask[t] == (rm | CLOSING) -> mask[t] = 0; ok = 1; ghost_end()
        :: else -> ok = 0
        fi
#endif
    };
    if
    :: ok ->
reset_done:
        atomic { AT(0) -> completed[t] = 0; ok = 0; rm = 0; cl = 0 };
        goto ddone
    :: else ->
reset_restore:
        atomic { AT(0) ->
            cnt[t] = cl % 256;
#ifdef NAIVE_PERCPU
            hi[t] = cl / 256
#else
            skip
#endif
        };
reset_reopened:
        atomic { AT(0) -> mask[t] = mask[t] & ~CLOSING; rm = 0; cl = 0 };
        goto dloop
    fi;
#endif

ddone:
#ifdef REGION_SAFE_POINT
    if
    :: insp -> insp = 0; goto region_back
    :: else
    fi;
#endif
    if
    :: exiting -> goto detach
    :: else -> atomic { k++; goto top }
    fi;

    /* ---- detach: deliver (above, exiting = 1), unpublish, unlink ---- */
detach:
detach_unpublish:
    /* (detach.drained was reached at the exit dispatch's last dispatch_load) */
    atomic { AT(0) -> published[t] = 0 };
detach_unlinked:
    /* the exit context ends here: its bits stay in the word until the
     * unlink (under the thread-list lock), and cancel's scrub may count them */
    atomic { AT(0) && listlock == 0 ->
        /* du_threads_count_gone: an X bit the exit delivery skipped (its
         * cancel began) and no scrub cleared is counted for that cancel */
        if
        :: (mask[t] & SB(0)) != 0 && (completed[t] & SB(0)) == 0 ->
            gone0++;
            /* P9 the count never takes a delivered request */
            assert((acc[t] & IB(TX)) != 0 && (cbd[t] & IB(TX)) == 0);
            counted[t] = 1
        :: else
        fi;
        ghost_end();
        attached[t] = 0 }
}
