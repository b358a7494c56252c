/*
 * request.pml - du_cookie_get and du_request, run by Requester(t, L): level
 * 0 serves the thread's own calls (before the safe point, and from inside
 * callbacks), levels 1 and 2 are signal handlers nested on thread t.
 * Each atomic { } is one atomic operation of the C code, plus the purely
 * local computation and branch after it; a handler may fire between any
 * two of them (AT(L) holds again only once it has returned).
 */

/* du_cookie_get(): out ck.  Owning thread or its handlers. */
inline cookie_get()
{
#if defined(NAIVE_PERCPU)
    /* the kernel's get_cookie() read literally: per-CPU counter read and
     * written back, CPU half written after the CAS; a migration (the
     * nondeterministic CPU) may come between any two steps */
    atomic { AT(L) -> c = hi[t] };
    if
    :: c == 0 ->
        atomic { AT(L) -> if :: cpu = 0 :: cpu = 1 fi; c = (pcnt[cpu] + 2) | 1 };
        atomic { AT(L) -> if :: cnt[t] == 0 -> cnt[t] = c; pcnt[cpu] = c :: else fi };
        atomic { AT(L) -> if :: hi[t] = 1 :: hi[t] = 2 fi }
    :: else
    fi;
    atomic { AT(L) -> ck = COOKIE(t, cnt[t]); c = 0; cpu = 0 }
#else
    skip;
cookie_load:
    atomic { AT(L) ->
        c = cnt[t];
        first = (c == 0);
        if
        :: c != 0 -> goto cookie_done
        :: else
        fi };
#ifdef COOKIE48
    /* v4: fetch-add on CPU 0's counter, 0 inside the value space */
    atomic { AT(L) -> c48 = (c48 + 2) % 4; c = c48 };
#else
cookie_seq_read:
    atomic { AT(L) -> s = seq[t]; c = (s + 2) | 1; s = 0 };
#endif
#if defined(SPEC_DRAW) && !defined(COOKIE48)
    /* the brief as written: store seq, then CAS */
cookie_drawn:
    atomic { AT(L) -> seq[t] = c };
#endif
cookie_claimed:
    atomic { AT(L) ->
#ifdef COOKIE_PLAIN_STORE
        cnt[t] = c
#else
        if
        :: cnt[t] == 0 -> cnt[t] = c
        :: else -> c = cnt[t]; goto cookie_done
        fi
#endif
    };
#if !defined(SPEC_DRAW) && !defined(COOKIE48)
    /* default: only the CAS winner advances seq */
cookie_seq_stored:
    atomic { AT(L) -> seq[t] = c };
#endif
cookie_done:
    ck = COOKIE(t, c);
#ifdef RETURN_LOCAL
    /* v4: the first call of a context returned the unassigned local */
    if :: first -> ck = 0 :: else fi;
#endif
    c = 0; first = 0
#endif
}

proctype Requester(byte t; byte L)
{
    byte h, sl, m, old, r, c, s, i, cpu;
    short ck;
    bit first;

end_idle:
    do
    :: if
       :: atomic { L == 0 && AT(0) && cmd[t] != 0 -> h = cmd[t]; sl = SLOT(h) }
       :: atomic { L > 0 && depth[t] + 1 == L && published[t] && fires[t * 3 + L] > 0 ->
               fires[t * 3 + L]--;
               depth[t] = L;
               if
               :: h = TX
               :: h = TY
               :: zpub -> h = TZ
               fi;
               sl = SLOT(h) }
       fi;
       /* ---- du_request(h) ---- */
#ifndef CLAIM_AFTER_LIVE
request_enter:
       atomic { AT(L) -> claiming[t]++ };
#endif
request_live:
       atomic { AT(L) ->
           if
           :: live[sl] != h -> r = ECANCELED
           :: else -> r = 0
           fi };
#ifdef CLAIM_AFTER_LIVE
       /* slip: the claim span opened after the handle was read */
       atomic { AT(L) -> claiming[t]++ };
#endif
       if
       :: r == ECANCELED -> goto request_exit
       :: else
       fi;
request_bit_read:
       atomic { AT(L) ->
           m = mask[t];
           if
           :: (m & EXITING) != 0 -> r = ESHUTDOWN; goto request_exit
           :: (m & EXITING) == 0 && (m & SB(sl)) != 0 ->
               /* repeat: the context's cookie, already in place */
               r = 1;
               if
               :: (m & CLOSING) != 0 -> ck = closing[t]
               :: else -> ck = COOKIE(t, cnt[t])
               fi;
               accept(h, ck, r);
               goto request_exit
           :: (m & EXITING) == 0 && (m & SB(sl)) == 0 && (m & CLOSING) != 0 ->
               ck = closing[t]; goto request_cookie_ready
           :: else
           fi };
       cookie_get();
       /* request.cookie-ready: here, or at the goto above (CLOSING) */
request_cookie_ready:
#ifdef NONATOMIC_CLAIM
       /* harness variant nonatomic-claim: load, then store */
       atomic { AT(L) -> old = mask[t] };
request_claimed:
       atomic { AT(L) ->
           mask[t] = old | PENDING | SB(sl);
           r = ((old & SB(sl)) != 0 -> 1 : 0);
           accept(h, ck, r) };
#else
       skip;
request_claimed:
       atomic { AT(L) ->
           old = mask[t];
           mask[t] = old | PENDING | SB(sl);
           r = ((old & SB(sl)) != 0 -> 1 : 0);
           accept(h, ck, r) };
#endif
request_exit:
       atomic { AT(L) ->
           claiming[t]--;
           if
           :: L == 0 -> cmd[t] = 0
           :: else -> depth[t] = L - 1
           fi;
           h = 0; sl = 0; m = 0; old = 0; r = 0; ck = 0 }
    od
}
