/*
 * duv_variant_list.h - the one list of the historical variants.
 *
 * X(ID, name, description, scenario, scenario): one line per variant, "none"
 * first.  It generates enum duv_variant (prefix.h), the names duv_select()
 * accepts (variant.c), and the harness's descriptions and default scenarios
 * (Stress/CUnwindStress/hs_scenarios.c), hence `unwind-stress --list`, which
 * the scripts read (Scripts/detect-variants.sh).  A scenario is a
 * harness scenario name or NULL.  Adding a variant: one line here, its hooks
 * (variant_*.c), and Tests/Fixtures/unwind-stress-list.txt.
 */
#ifndef DUV_VARIANT_LIST_H
#define DUV_VARIANT_LIST_H

#define DUV_VARIANT_LIST(X)                                                                        \
    X(NONE, "none", "the shipped design, through the duv_ library", NULL, NULL)                    \
    X(COOKIE48, "cookie48", "48-bit counter | CPU << 48, 0 = none: zero cookie on wrap (race 1)",  \
      "wrap", NULL)                                                                                \
    X(RETURN_LOCAL, "return-local", "first call of a context returns the unassigned local 0 (race 2)", \
      "first-cookie", NULL)                                                                        \
    X(NAIVE_PERCPU, "naive-percpu",                                                                \
      "kernel get_cookie with a plain per-CPU counter and CPU write (races 3, 4)",                 \
      "signal-in-cookie", "migration")                                                             \
    X(PENDING_LATE, "pending-late",                                                                \
      "PENDING cleared after the callbacks: requests during dispatch lost (race 5)",               \
      "dispatch-requests", NULL)                                                                   \
    X(NONATOMIC_CLAIM, "nonatomic-claim", "test PENDING, then set it: work queued twice (race 6)", \
      "claim-race", NULL)                                                                          \
    X(PLAIN_RESET, "plain-reset", "reset clears word then cookie with plain stores (race 7)",      \
      "reset-race", NULL)                                                                          \
    X(NO_COMPLETED, "no-completed", "no completed bits: a second round calls tracers again (race 8)", \
      "second-tracer", NULL)                                                                       \
    X(CANCEL_NO_WAIT, "cancel-no-wait", "cancel does not wait for the grace period (race 10)",     \
      "cancel-callback", NULL)                                                                     \
    X(CANCEL_NO_SCRUB, "cancel-no-scrub",                                                          \
      "cancel does not clear the bit in attached threads (race 11)", "bit-reuse", NULL)            \
    X(EXIT_DROPS_PENDING, "exit-drops-pending",                                                    \
      "detach/exit frees without delivering pending requests (race 13)", "thread-exit", NULL)      \
    X(MUTEX_DISPATCH, "mutex-dispatch",                                                            \
      "v13: callbacks under one global mutex (correct, slow; race 16)", "mutex-vs-rcu", NULL)      \
    X(LEAVE_NO_WAIT, "leave-no-wait",                                                              \
      "frozen region: leave does not wait for a proxy serving it (safe point beside the proxy)",  \
      "proxy", NULL)                                                                               \
    X(REGION_SAFE_POINT, "region-safe-point",                                                      \
      "frozen region: a handler's safe point dispatches beside a proxy serving the thread",       \
      "proxy", NULL)

#endif
