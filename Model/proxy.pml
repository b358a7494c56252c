/*
 * proxy.pml - du_proxy_serve (proxy.c) run by thread p for the frozen
 * thread t = 0 (the only other thread on the list), NSERVE times.  Only in
 * the bound set "proxy" (NSERVE > 0); thread.pml holds T's region (enter,
 * leave) and the in-region safe point of the variant REGION_SAFE_POINT.
 *
 * One serve: under the thread-list lock, CAS(frozen, YES -> CLAIMED) if T
 * has tracer bits (the peeks, the CAS and the lock are one step: nothing
 * that runs in between under the lock can change the outcome, see
 * Docs/Model.md); du_proxy_round: relaxed loads of T's mask and cookie,
 * todo = tracer bits & ~completed, the unwind into T's cache, then
 * du_registry_call(T, todo) - the same steps as the thread's own round
 * (thread.pml), with the proxy's read-side section and T's completed and
 * calling; then under the list lock CAS(frozen, CLAIMED -> YES).
 * The proxy's callbacks make no request (a request there would be on the
 * proxy's own thread).  Y's and Z's callbacks may sleep until cancel(X)
 * has returned, as on the thread.
 *
 * Ghost: pserving[t] is set from the claim to the end of the proxy's round
 * (the release; with PROXY_RELEASE_EARLY the end of the callbacks).
 */

/* P13: the proxy touches T's state only while T is on the list (an
 * unlinked thread is freed). */
#ifndef NO_CLAIM_ASSERTS
#define ON_LIST assert(attached[t])
#else
#define ON_LIST skip
#endif

proctype Proxy(byte p)
{
    byte t, n, m, todo, sl, h, m2, inst, c;
    short ck;
    bit rel;    /* PROXY_RELEASE_EARLY: the claim is already released */

serve:
    if
    :: n == NSERVE -> goto pdone
    :: else
    fi;
    /* proxy.peeked and proxy.claimed: one step of the model (the peeks and
     * the claim are one hold of the list lock); two with the slip. */
#ifdef PROXY_CLAIM_UNLOCKED
proxy_peeked:
    atomic { listlock == 0 ->
        /* slip: only the peek under the lock; the CAS after it is dropped */
        if
        :: attached[t] && frozen[t] == FYES && (mask[t] & TRACERS) != 0 -> skip
        :: else -> n++; goto serve
        fi };
proxy_claimed:
    atomic {
        ON_LIST;
        if
        :: frozen[t] == FYES -> frozen[t] = FCLAIMED; pserving[t] = 1
        :: else -> n++; goto serve
        fi };
#else
proxy_peeked:
proxy_claimed:
    atomic { listlock == 0 ->
        if
        :: attached[t] && frozen[t] == FYES && (mask[t] & TRACERS) != 0 ->
            frozen[t] = FCLAIMED; pserving[t] = 1
        :: else -> n++; goto serve
        fi };
#endif
    /* ---- du_proxy_round ---- */
proxy_mask:
    atomic { ON_LIST; m = mask[t];
        if
        :: (m & (CLOSING | EXITING)) != 0 -> m = 0; goto proxy_released
        :: else
        fi };
proxy_cookie:
    atomic { ON_LIST; c = cnt[t];
        if
        :: c == 0 -> m = 0; goto proxy_released
        :: else -> ck = COOKIE(t, c); c = 0
        fi };
proxy_unwound:
    /* todo (relaxed load of completed), then the unwind into T's cache
     * (proxy.unwound when todo is not empty) */
    atomic { ON_LIST;
        todo = m & TRACERS & ~completed[t];
        m = 0;
        if
        :: todo == 0 -> goto proxy_released
        :: else
        fi };
#ifdef PROXY_RELEASE_EARLY
    /* slip: the claim released before du_registry_call */
    atomic { listlock == 0 -> ON_LIST;
        if :: frozen[t] == FCLAIMED -> frozen[t] = FYES :: else fi;
        rel = 1 };
#endif
    /* ---- du_registry_call(T, todo): the thread's own steps ---- */
    sl = 0;
pslot_loop:
    if
    :: sl == NS -> goto proxy_released
    :: sl < NS && (todo & SB(sl)) == 0 -> sl++; goto pslot_loop
    :: sl < NS && (todo & SB(sl)) != 0 -> skip
    fi;
slot_lock:
    atomic { in_section[p] = 1 };
dispatch_live:
    atomic {
        h = live[sl];
        if
        :: h == 0 -> goto slot_skip
        :: else
        fi };
#ifndef PROXY_NO_RECHECK
dispatch_mask_reread:
    atomic { ON_LIST;
        m2 = mask[t];
        if
        :: (m2 & SB(sl)) == 0 -> m2 = 0; goto slot_skip
        :: else -> m2 = 0
        fi };
dispatch_found:
    atomic { ON_LIST;
        if
        :: (completed[t] & SB(sl)) != 0 -> goto slot_skip
        :: else
        fi };
#endif
dispatch_completed_set:
    atomic { ON_LIST; completed[t] = completed[t] | SB(sl) };
dispatch_marked:
    atomic { ON_LIST; calling[t] = sl + 1; inst = cbinst[sl] };
dispatch_callback:
    atomic { in_section[p] = 0; gpwait[p] = 0 };
callback_begin:
    atomic { callback_start(inst, ck) };
#ifndef NO_SLEEP
callback_sleep:
    if
    :: inst != TX ->
        if
        :: skip
        :: true -> (cret)
        fi
    :: else
    fi;
#endif
dispatch_returned:
    atomic { ON_LIST;
        /* P7 no callback of X is still running when cancel(X) has returned */
        assert(!(inst == TX && cret));
        calling[t] = 0;
        inst = 0 };
    goto next_slot;
slot_skip:
    atomic { in_section[p] = 0; gpwait[p] = 0 };
next_slot:
    atomic { sl++; h = 0; goto pslot_loop };

proxy_released:
    /* under the list lock: CAS(frozen, CLAIMED -> YES), release (with
     * PROXY_RELEASE_EARLY only on the paths that served nothing) */
    atomic { listlock == 0 ->
        if
        :: !rel -> ON_LIST; if :: frozen[t] == FCLAIMED -> frozen[t] = FYES :: else fi
        :: else
        fi;
        pserving[t] = 0; rel = 0; todo = 0; sl = 0; ck = 0; n++; goto serve };
pdone:
    skip
}
