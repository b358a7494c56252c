/* model_slip_support.h - an interruption at every instruction of one
 * du_request() (Tests/C/slips/ms_single_step.c; the model-slip tests,
 * Tests/DeferredUnwindTests/ModelSlipTests.swift).
 *
 * The step points (deferred_unwind_debug.h) let a test interrupt the core
 * between its named atomic steps.  Some windows of the design have no step
 * point inside: between the claim count's increment and the read of the
 * tracer's handle, between the two loads of the cookie draw, between the
 * load and the store of a claim written as two.  The Spin model interrupts
 * there (Docs/Model.md); these helpers do too: the x86 trap flag makes the
 * CPU raise SIGTRAP after every instruction of the traced call, and the
 * SIGTRAP handler runs the injection (a nested request, or a cancel on
 * another thread) after instruction number `target`, exactly as a signal
 * landing there would.  Deterministic: the same build runs the same
 * instructions.  x86-64 without ThreadSanitizer only (ms_single_step_supported). */
#ifndef DU_MODEL_SLIP_SUPPORT_H
#define DU_MODEL_SLIP_SUPPORT_H
#include <stdint.h>

typedef struct du_tracer du_tracer;

/* 1 when instruction stepping is available in this build. */
int ms_single_step_supported(void);

/* What the injection did. */
struct ms_injection {
    /* nested request */
    du_tracer *tracer;      /* in: the tracer the nested request asks for */
    int status;             /* out: its du_request status */
    uint64_t cookie;        /* out: its cookie */
    /* cancel on another thread */
    int cancel_state;       /* out: 0 not run, 1 cancel returned (and a tracer was
                             * registered) before the handler returned, 2 cancel
                             * was waiting (polling) for this thread, -1 timed out */
    int fired;              /* out: the injection ran */
};

/* Step the calling thread from here on: after instruction number `target`
 * (1-based; 0: never) the SIGTRAP handler runs inject(inj) once, and the
 * stepping ends there.  Stop returns how many instructions were stepped
 * (with target 0: the length of the region).  One at a time per process. */
int ms_trace_start(long target, void (*inject)(struct ms_injection *), struct ms_injection *inj);
long ms_trace_stop(void);

/* The calling thread must be attached.  Runs du_request(outer, cookie)
 * with the trap flag set; at trap number `target` (1-based; 0: never) runs
 * a nested du_request(inj->tracer) from the SIGTRAP handler.  Returns the
 * number of traps (instructions stepped, a few of them outside
 * du_request), or -1 when stepping is not supported; *status gets
 * du_request's return value. */
long ms_traced_request_nested(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              struct ms_injection *inj);

/* The same, but the injection cancels `victim` on a helper thread and,
 * once the cancel returned, registers a new tracer there (its callback
 * counts into ms_fresh_calls): the handler waits until the cancel returned
 * or is waiting for this thread (it then returns, and the helper finishes
 * on its own).  Call ms_cancel_finish afterwards: it waits (bounded, 30 s)
 * for the helper, stores the new tracer in *fresh (NULL if none) and
 * returns the cancel's result (-ETIMEDOUT when it did not finish). */
long ms_traced_request_cancel(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              du_tracer *victim, struct ms_injection *inj);
int ms_cancel_finish(du_tracer **fresh);
/* The same injection during the calling thread's safe point: a request of
 * `victim` must be pending; the dispatch is stepped from its unwind (done)
 * to the return of its first callback.  The cancel also returns when it
 * waits for this thread's read-side section (cancel_state 3).  Register
 * the victim with ms_register_victim (its callback counts calls, and calls
 * that began after its cancel returned: ms_victim_calls). */
long ms_traced_dispatch_cancel(du_tracer *victim, long target, struct ms_injection *inj);
int ms_register_victim(du_tracer **out);
void ms_victim_calls(unsigned long *calls, unsigned long *late);
/* Callbacks of the tracers ms_cancel_finish returned, since the last call
 * (which resets the count). */
unsigned long ms_fresh_calls(void);

#endif

/* The scrub against the thread's reset (the model's SPEC_SCRUB_ORDER): a
 * worker thread requests tracer X, runs X's callback at its safe point and
 * parks right after it, before its reset; the calling thread (not
 * attached) cancels X, stepping through the scrub instruction by
 * instruction; after instruction `target` (0: never) the SIGTRAP handler
 * lets the worker run its reset to the end, which clears the word and
 * `completed`, and waits for it.  The callback ran, so the cancel must
 * count nothing.  Returns the cancel's result (the dropped count), or
 * -ETIMEDOUT / -1; *traps: instructions stepped in the scrub; *calls: X's
 * callbacks; *fired: the reset ran inside the scrub. */
int ms_scrub_race(long target, long *traps, unsigned long *calls, int *fired);

/* Free against the scrub (the model's REORDER_FREE_BEFORE_SCRUB): the
 * calling thread (not attached) cancels tracer X, stepping from the end of
 * its callback wait to the end of its scrub; after instruction `target`
 * (0: never) the SIGTRAP handler has a worker thread register a tracer Z
 * and request it, and waits until that is done or the worker blocks on the
 * registry lock (then it finishes after the cancel).  Then the worker's
 * safe point.  Z's request must be called back once; nothing is dropped
 * (X had no request).  Returns the cancel's result (-ETIMEDOUT / -1 on a
 * harness failure); *z_status: Z's request; *z_calls: Z's callbacks;
 * *same_bit: Z got X's bit; *traps: instructions stepped. */
int ms_free_race(long target, long *traps, int *z_status, unsigned long *z_calls, int *same_bit);
