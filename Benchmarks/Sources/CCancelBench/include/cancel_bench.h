/*
 * cancel_bench.h - (7a) and (7b): du_tracer_cancel() on the shipped library,
 * public API only, so the same source builds against an older core
 * (Scripts/bench/cancel-ab.sh runs the two builds interleaved).
 */
#ifndef CANCEL_BENCH_H
#define CANCEL_BENCH_H
#include <stdint.h>
#include "deferred_unwind.h"

/* (7a) `others` helper threads attach and sleep; then `samples` rounds of
 * register + cancel + destroy of a tracer no thread has requested (no
 * callback can be running).  Per round: reg_cancel_ns[i] = register +
 * cancel, cancel_ns[i] = cancel alone.  The calling thread must be attached
 * or not as the caller wants (the driver's is attached).  0 or -errno. */
int cancel_idle_run(int others, int samples, uint64_t *reg_cancel_ns, uint64_t *cancel_ns);

/* The two calls (7a) times, out of line (callgrind toggles on them). */
int cb_register_one(du_tracer **t);
int cb_cancel_one(du_tracer *t);

/* (7b) one round: a new thread attaches, requests tracer S and calls
 * du_safe_point(), whose callback of S sleeps `sleep_ms`; once that callback
 * has started, the calling thread registers tracer X (never requested) and
 * cancels it, timing the cancel alone (*cancel_ns) and register + cancel
 * (*reg_cancel_ns).  *still_sleeping = 1 when S's callback had not returned
 * yet when the cancel of X returned (X did not wait for S).  Then it joins
 * the thread and destroys S.  0 or -errno. */
int cancel_sleep_round(unsigned sleep_ms, uint64_t *cancel_ns, uint64_t *reg_cancel_ns,
                       int *still_sleeping);

/* The round in steps (package-benchmark times only cancel_x):
 * begin = register S, start the thread, wait until S's callback sleeps;
 * register_x; cancel_x; still_sleeping (1: S's callback has not returned);
 * end = destroy X, join the thread, destroy S.  0 / 1 or -errno. */
int cancel_sleep_begin(unsigned sleep_ms);
int cancel_sleep_register_x(void);
int cancel_sleep_cancel_x(void);
int cancel_sleep_still_sleeping(void);
int cancel_sleep_end(void);

/* Both modes with their table, for du-bench-driver and du-cancel-bench.
 *   cancel_idle_main(samples, others)  prints p50 / p90 / max (us)
 *   cancel_sleep_main(reps, sleep_ms)  prints p50 / max (us), still-sleeping count
 * Return a process exit status. */
int cancel_idle_main(int samples, int others);
int cancel_sleep_main(int reps, unsigned sleep_ms);
#endif
