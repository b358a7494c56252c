/*
 * ghost.pml - the properties.  Ghost variables record, per thread, what
 * happened in the current entry context; the C code has none of them.
 *
 * A request is in the context current when it runs: the context changes
 * only at the reset's R3 (or at detach), in thread context, and a request
 * runs either in thread context or in a handler that runs to completion on
 * top of it, so no request straddles a context boundary.
 */

/* An accepted request (return 0 or 1) of instance `inst` on thread t with
 * cookie ck.  Called inside the atomic step that decides the return value
 * (the fetch-or, or the mask read of the repeat path). */
inline accept(inst, ck, r)
{
    /* P1 nonzero cookie */
    assert(ck != 0);
    if
    :: gck[t] == 0 ->
        /* P4 distinct contexts (any thread) have distinct cookies */
        i = 0;
        do
        :: i < NT * NC ->
            assert(ckh[i] != ck || i == t * NC + gctx[t]);
            i++
        :: else -> break
        od;
        i = 0;
        gck[t] = ck;
        ckh[t * NC + gctx[t]] = ck
    :: else ->
        /* P3 every requester of a context gets the same cookie */
        assert(ck == gck[t])
    fi;
    if
    :: r == 0 ->
        /* P6 at most one request per (context, tracer) answers 0 */
        assert((zero[t] & IB(inst)) == 0);
        zero[t] = zero[t] | IB(inst)
    :: else ->
        /* P6 an answer 1 means this tracer's work was queued in this context */
        assert((zero[t] & IB(inst)) != 0)
    fi;
    acc[t] = acc[t] | IB(inst)
}

/* The context of thread t ends (R3 succeeded, or detach delivered). */
inline ghost_end()
{
    /* P2 exactly once: every accepted request got its callback, unless its
     * tracer's cancel had begun (then the dispatch found live == 0 or the
     * scrub took the bit).  Y and Z are never cancelled. */
    assert((acc[t] & ~cbd[t] & (IB(TY) | IB(TZ))) == 0);
    assert((acc[t] & ~cbd[t] & IB(TX)) == 0 || marked);
#ifdef DROPPED_EXACT
    /* P9' cancel's dropped count covers every such context */
    assert((acc[t] & ~cbd[t] & IB(TX)) == 0 || counted[t]);
#endif
    if
    :: (acc[t] & ~cbd[t] & IB(TX)) != 0 -> lostctx[t] = lostctx[t] | (1 << gctx[t])
    :: else
    fi;
    acc[t] = 0; cbd[t] = 0; zero[t] = 0; rounds[t] = 0; gck[t] = 0;
    counted[t] = 0;
    gctx[t]++
}

/* Start of a callback of `inst` with cookie ck on thread t. */
inline callback_start(inst, ck)
{
    /* P5 no callback for a tracer that did not request in this context */
    assert((acc[t] & IB(inst)) != 0);
    /* P2 never twice */
    assert((cbd[t] & IB(inst)) == 0);
    /* P3 the callback gets the requesters' cookie */
    assert(ck == gck[t]);
    /* P7 no callback of X starts after cancel(X) returned */
    assert(!(inst == TX && cret));
    cbd[t] = cbd[t] | IB(inst)
}

#define NZERO(t) (((zero[t] >> TX) & 1) + ((zero[t] >> TY) & 1) + ((zero[t] >> TZ) & 1))
