/*
 * il_scenarios.c - the scenarios: two threads (A requests, B cancels), and
 * three (requesters A and C, canceller B; `threads = 3`).  Each is small enough that all
 * its interleavings run in seconds; together they cover the cross-thread
 * windows of cancel (mark, request wait, grace period, callback wait,
 * scrub, free) against request, dispatch (lookup, completed mark, calling,
 * callback), reset, detach and register.
 *
 * Tracers T0..T3 are registered in `prereg` order (lowest free bit first,
 * so the order fixes the dispatch order: lower bits are called first).
 */
#include "il_internal.h"

#define REQ(t) {IL_REQ, (t)}
#define SAFE {IL_SAFE, -1}
#define DETACH {IL_DETACH, -1}
#define CANCEL(t) {IL_CANCEL, (t)}
#define DESTROY(t) {IL_DESTROY, (t)}
#define REGISTER(t) {IL_REGISTER, (t)}
#define ENTER {IL_ENTER, -1}
#define BLOCK {IL_BLOCK, -1}
#define LEAVE {IL_LEAVE, -1}
#define SERVE {IL_SERVE, -1}
#define NOSIG .sig_step = -1
/* The three-thread scenarios' preemption bound (il_sched.c).  The capped
 * look's bug needs 3: A stops inside du_request(T1) for B; B stops inside
 * its look for C; C stops inside du_request(T0) for B's next read. */
#define IL_3T_PREEMPTIONS 3

static const struct il_scenario il_scenarios[] = {
    {
        .name = "cancel-vs-dispatch",
        .about = "A: request T1, safe point (T1's callback parks); B: cancel T1. "
                 "Delivered once or dropped and counted; no callback after cancel returned; "
                 "cancel waits for the running callback",
        .prereg = {1, -1},
        .a = {REQ(1), SAFE},
        .b = {CANCEL(1)},
        .cb = {[1] = IL_CB_PARK},
        NOSIG,
    },
    {
        .name = "cancel-beside-long-callback",
        .about = "A: (requests T0 and T1) safe point (T0's callback parks); B: cancel T1. "
                 "Cancel never waits for T0's callback: B finishes while A is parked in it",
        .prereg = {0, 1, -1},
        .a_pre = {REQ(0), REQ(1)},
        .a = {SAFE},
        .b = {CANCEL(1)},
        .cb = {[0] = IL_CB_PARK},
        NOSIG,
        .want_overlap = 1,
    },
    {
        .name = "reuse-in-same-context",
        .about = "A: (requests T1 and T0) safe point (T1 called first; T0's callback requests "
                 "T2 if registered); B: cancel T1, register T2 (reuses T1's bit). "
                 "No stale request or completed mark reaches T2",
        .prereg = {1, 0, -1},
        .a_pre = {REQ(1), REQ(0)},
        .a = {SAFE},
        .b = {CANCEL(1), REGISTER(2)},
        .cb = {[0] = IL_CB_REQ_T2},
        NOSIG,
    },
    {
        .name = "register-in-callback",
        .about = "A: (requests T1 and T0) safe point (T0's callback registers T2, then "
                 "requests it); B: cancel T1. T2 may get T1's freed bit in the same context",
        .prereg = {1, 0, -1},
        .a_pre = {REQ(1), REQ(0)},
        .a = {SAFE},
        .b = {CANCEL(1)},
        .cb = {[0] = IL_CB_REG_T2 | IL_CB_REQ_T2},
        NOSIG,
    },
    {
        .name = "detach-vs-cancel",
        .about = "A: request T1, detach (exit delivery); B: cancel T1. "
                 "Delivered with the exiting trace or dropped and counted (thread gone)",
        .prereg = {1, -1},
        .a = {REQ(1), DETACH},
        .b = {CANCEL(1)},
        NOSIG,
    },
    {
        .name = "cancel-register-vs-requests",
        .about = "A: (request T1) safe point, request T2 (if registered), safe point; "
                 "B: cancel T1, register T2 (reuses the bit)",
        .prereg = {1, -1},
        .a_pre = {REQ(1)},
        .a = {SAFE, REQ(2), SAFE},
        .b = {CANCEL(1), REGISTER(2)},
        NOSIG,
    },
    {
        .name = "signal-at-cookie-drawn",
        .about = "A: request T1, interrupted at cookie.drawn by a nested request of T0, "
                 "safe point; B: destroy T1. One cookie for the context",
        .prereg = {0, 1, -1},
        .a = {REQ(1), SAFE},
        .b = {DESTROY(1)},
        .sig_step = DU_STEP_COOKIE_DRAWN, .sig_occurrence = 1, .sig_tracer = 0,
    },
    {
        .name = "signal-at-reset-begin",
        .about = "A: (request T1) safe point; a nested request of T0 at reset.begin (before "
                 "R1: the reset must see its PENDING); B: cancel T1",
        .prereg = {0, 1, -1},
        .a_pre = {REQ(1)},
        .a = {SAFE},
        .b = {CANCEL(1)},
        .sig_step = DU_STEP_RESET_BEGIN, .sig_occurrence = 1, .sig_tracer = 0,
    },
    {
        .name = "signal-at-reset-closing",
        .about = "A: (request T1) safe point; a nested request of T0 at reset.closing (the "
                 "closing cookie; R3 fails and the context reopens); B: cancel T1",
        .prereg = {0, 1, -1},
        .a_pre = {REQ(1)},
        .a = {SAFE},
        .b = {CANCEL(1)},
        .sig_step = DU_STEP_RESET_CLOSING, .sig_occurrence = 1, .sig_tracer = 0,
    },
    /* Three threads: requesters A and C, canceller B.  C attaches after A,
     * so cancel's look reads C, then A. */
    {
        .name = "3t-request-behind-busy",
        .about = "A: request T1, safe point; C: request T0 (idle until then); B: cancel T1, "
                 "register T3 (reuses T1's bit). C is ahead of A on the thread list: C may "
                 "start its request between cancel's reads of C and A while A is parked inside "
                 "du_request(T1) past its live check. Cancel waits for A's request; no callback "
                 "of T3 (it never requested); T1's dropped count exact",
        .prereg = {0, 1, -1},
        .a = {REQ(1), SAFE},
        .c = {REQ(0)},
        .b = {CANCEL(1), REGISTER(3)},
        NOSIG,
        .threads = 3,
        .preemptions = IL_3T_PREEMPTIONS,
    },
    {
        .name = "3t-two-dispatchers-vs-cancel",
        .about = "A and C: (request T1) safe point; B: cancel T1, register T2 (gets T1's "
                 "freed bit). Each context delivered once or dropped and counted (the count "
                 "exact across both threads); no callback of T2; cancel waits for both "
                 "threads' callbacks",
        .prereg = {1, -1},
        .a_pre = {REQ(1)},
        .c_pre = {REQ(1)},
        .a = {SAFE},
        .c = {SAFE},
        .b = {CANCEL(1), REGISTER(2)},
        NOSIG,
        .threads = 3,
        .preemptions = IL_3T_PREEMPTIONS,
    },
    /* Frozen regions and proxy safe points (proxy.c): A is the frozen
     * thread (its region's frame is il_script.c's il_region, on the stack
     * from the enter to the leave), C the proxy (du_proxy_serve: its
     * callbacks run for A, flagged DU_TRACE_PROXY), B the canceller.  A's
     * SAFE between ENTER and LEAVE is a safe point inside the region
     * (-EBUSY: something is pending); BLOCK stands for the blocking call. */
    {
        .name = "proxy-serves-frozen",
        .about = "A: (request T1) enter, blocked, safe point in the region, leave, safe point; "
                 "a handler on A requests T0 right after the enter; C: serve. Each request "
                 "delivered once with its cookie, by C (DU_TRACE_PROXY) or by A's safe point; "
                 "the leave waits while C holds the claim; the safe point inside answers -EBUSY. "
                 "B idle",
        .prereg = {0, 1, -1},
        .a_pre = {REQ(1)},
        .a = {ENTER, BLOCK, SAFE, LEAVE, SAFE},
        .c = {SERVE},
        .b = {{IL_END, -1}},
        .sig_step = DU_STEP_FROZEN_ENTERED, .sig_occurrence = 1, .sig_tracer = 0,
        .threads = 3,
    },
    {
        .name = "3t-proxy-vs-cancel",
        .about = "A: request T1, enter, blocked, safe point in the region, leave, safe point; "
                 "a handler on A requests T0 right after the enter; C: serve (T1's callback "
                 "parks); B: cancel T1. Delivered once (by C or A) or dropped and counted; no "
                 "callback of T1 after its cancel returned (cancel waits for C's callback, "
                 "published in A's `calling`); A's leave never returns inside C's claim",
        .prereg = {0, 1, -1},
        .a = {REQ(1), ENTER, BLOCK, SAFE, LEAVE, SAFE},
        .c = {SERVE},
        .b = {CANCEL(1)},
        .cb = {[1] = IL_CB_PARK},
        .sig_step = DU_STEP_FROZEN_ENTERED, .sig_occurrence = 1, .sig_tracer = 0,
        .threads = 3,
        .preemptions = IL_3T_PREEMPTIONS,
    },
    {
        .name = "3t-request-in-region-vs-proxy-cancel",
        .about = "A: (request T0) enter, request T1 (thread context, inside the region), leave, "
                 "safe point; C: serve (runs T0's callback for A); B: cancel T1. Cancel's "
                 "request wait must wait for A's request of T1 in progress: the proxy must not "
                 "touch A's claim count (lookup.c's du_claim_repair after a callback is for the "
                 "dispatching thread's own count; this scenario found it repairing A's, "
                 "schedule A5 B5 C8 A3 B1 A4 B9)",
        .prereg = {0, 1, -1},
        .a_pre = {REQ(0)},
        .a = {ENTER, REQ(1), LEAVE, SAFE},
        .c = {SERVE},
        .b = {CANCEL(1)},
        NOSIG,
        .threads = 3,
        .preemptions = IL_3T_PREEMPTIONS,
    },
};

int il_scenario_count(void) { return (int)(sizeof(il_scenarios) / sizeof(il_scenarios[0])); }

const struct il_scenario *il_scenario_get(int i)
{
    return i >= 0 && i < il_scenario_count() ? &il_scenarios[i] : NULL;
}

const char *il_scenario_name(int i) { return il_scenario_get(i) ? il_scenarios[i].name : "?"; }
const char *il_scenario_about(int i) { return il_scenario_get(i) ? il_scenarios[i].about : "?"; }
int il_scenario_threads(int i) { return il_scenario_get(i) && il_scenarios[i].threads == 3 ? 3 : 2; }
int il_scenario_wants_overlap(int i) { return il_scenario_get(i) ? il_scenarios[i].want_overlap : 0; }
