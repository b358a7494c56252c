/*
 * il_reduce.c - sleep sets over static footprints: which interleavings are
 * the same execution with two independent steps swapped.
 *
 * A thread's "segment" is the code it runs from one park to the next.  Two
 * segments of different threads are independent when neither writes
 * something the other reads or writes; running them in either order gives
 * the same state, so only one order needs exploring.  The search explores A
 * before B at every decision; after exploring A from a node it explores B
 * with A "asleep": A stays asleep (is not scheduled) as long as B runs
 * segments independent of A's pending one - those schedules are A's branch
 * with steps swapped.  Standard sleep sets (Godefroid), with two threads:
 * only A is ever asleep.  A node where only asleep A can run is covered
 * elsewhere; the run finishes without recording alternatives.
 *
 * Three threads (il_sched.c): the same sleep sets over any number of
 * threads.  Threads are tried in index order at a node; a thread tried
 * before the one chosen, or asleep already, stays asleep in the chosen
 * one's subtree while the segments run there commute with its pending one.
 * The footprint bits that name one requester's own state - its pending and
 * completed words (M), claim count (CL), calling word (K), RCU reader (R)
 * and its part of the record (O) - are A's in the table below and are
 * moved to C's copies for C (il_own): only the owner (and its handlers)
 * writes them, and cancel reads or scrubs them, so A's and C's segments
 * conflict only through shared state (slot live words, registry, thread
 * list, handles).  B's segments touch both requesters' copies.  The record
 * is split per requester because no check compares an event of A with one
 * of C: contexts, cookies, callbacks and requests are matched within a
 * thread and ordered only against B's mark, scrub and cancel return
 * (il_check.c), and an outcome is each thread's own sequence.
 *
 * Footprints are over-approximations of what each segment touches, by the
 * position it starts from (union over every path to the next park).  The
 * record the checks read counts as shared: callback start/end, cancel
 * return, the reset's end of a context and cancel's mark (IL_O), so that
 * every order the checks compare is an order the search distinguishes.
 * Tests/DeferredUnwindTests/InterleavingTests.swift checks the reduction
 * against the full search: both must see the same set of outcomes.
 *
 * The table describes the core's code between step points: a change that
 * moves a shared access across a step point must update it.  With the
 * conservative mode (il_explore_ex, or DU_IL_CONSERVATIVE set in the
 * environment) every segment of B counts as touching everything (sleep
 * sets then only skip A's invisible steps): about 10x more schedules,
 * independent of the table's B half.  The suite runs it on the smaller
 * scenarios, so a change of cancel's order is caught even if the table
 * was not updated for it.
 */
#include "il_internal.h"

enum {
    IL_M = 1 << 0, /* A's pending and completed words */
    IL_L = 1 << 1, /* slot live words, slot fields */
    IL_CL = 1 << 2, /* A's claim count */
    IL_K = 1 << 3, /* A's calling word */
    IL_R = 1 << 4, /* RCU read-side state (A's sections, B's grace period) */
    IL_U = 1 << 5, /* registry: used bits, slot state */
    IL_T = 1 << 6, /* thread list, dropped-gone counts */
    IL_O = 1 << 7, /* the record's order: callbacks, cancel return, mark, context end */
    IL_H = 1 << 8, /* the test's tracer handles */
    IL_OWN = IL_M | IL_CL | IL_K | IL_R | IL_O, /* one requester's own (A's; C's shifted) */
    IL_C_SHIFT = 9,
    /* The frozen thread's region word, frame fields and claim (A's: only A
     * enters regions); also the scheduler's view of the claim (il_sched.c). */
    IL_F = 1 << 17,
    IL_ALL = 0x1ff | (IL_OWN << IL_C_SHIFT) | IL_F,
    /* The proxy's own part of a proxy segment: C's read-side section and
     * C's record (its callbacks and returns are in C's sequence). */
    IL_PROXY_SELF = (IL_R | IL_O) << IL_C_SHIFT,
};

struct il_fp {
    unsigned r, w;
};

#define FP(rd, wr) ((struct il_fp){(rd), (wr)})

#define IL_FP_ALL FP(IL_ALL, IL_ALL) /* a thread that never parks there */

/* A's segment from the callback (what the scenario's callbacks do, IL_CB_*
 * flags or'ed in `acts`): record start (and end, calling 0). */
static struct il_fp il_fp_callback(int acts)
{
    if (acts & IL_CB_REG_T2) /* registers T2 (up to register.published) */
        return FP(IL_H | IL_L | IL_M | IL_U, IL_U | IL_L | IL_H | IL_CL | IL_O | IL_K);
    if (acts & IL_CB_REQ_T2) /* requests T2 (up to request.bit-read) if registered */
        return FP(IL_H | IL_L | IL_M, IL_CL | IL_O | IL_K);
    return FP(0, IL_O | IL_K);
}

/* A's pending segment from `pos` (what follows the park there): the step
 * table's fp_a column (deferred_unwind_debug.h, DU_STEP_TABLE, which says
 * in a comment what each segment does), and the parks that are not steps. */
static struct il_fp il_fp_a(int pos, int acts)
{
    switch (pos) {
    case IL_POS_OP: /* an op's first part (request, safe point, detach), or several if stepless */
        return FP(IL_L | IL_M | IL_H, IL_CL | IL_M | IL_O);
    case IL_POS_CB:
        return il_fp_callback(acts);
#define IL_FP_A_(id, name, file, label, fp_a, fp_b) \
    case DU_STEP_##id:                              \
        return fp_a;
        DU_STEP_TABLE(IL_FP_A_)
#undef IL_FP_A_
    default:
        return IL_FP_ALL;
    }
}

/* B's segment from `pos`: the table's fp_b column, and the parks that are
 * not steps. */
static struct il_fp il_fp_b(int pos)
{
    switch (pos) {
    case IL_POS_OP: /* cancel's mark, or register's publish */
        return FP(IL_U | IL_H, IL_L | IL_U | IL_O);
    case IL_POS_SYNC: /* synchronize_rcu (il_sync.c) */
        return FP(IL_R, 0);
#define IL_FP_B_(id, name, file, label, fp_a, fp_b) \
    case DU_STEP_##id:                              \
        return fp_b;
        DU_STEP_TABLE(IL_FP_B_)
#undef IL_FP_B_
    default:
        return IL_FP_ALL;
    }
}

static int il_conflict(struct il_fp a, struct il_fp b)
{
    return (a.w & (b.r | b.w)) || (b.w & a.r);
}

/* What the scenario's callbacks do (IL_CB_* or'ed). */
static unsigned il_acts(const struct il_run *r)
{
    unsigned acts = 0;
    for (int t = 0; t < IL_TRACERS; t++)
        acts |= r->sc->cb[t];
    return acts;
}

/* A requester's own bits, moved to thread t's copies. */
static unsigned il_own(unsigned bits, int t)
{
    if (t != IL_C)
        return bits;
    return (bits & ~(unsigned)IL_OWN) | ((bits & IL_OWN) << IL_C_SHIFT);
}

/* Frozen regions and proxies (proxy.c; A is the frozen thread, C the
 * proxy).  A proxy's segments act on the frozen thread's state: from
 * du_proxy_serve's op to proxy.released, the table's fp_a (the proxy rows,
 * and the dispatch and callback rows it passes through in du_registry_call)
 * is read with the requester's own bits meaning A's (M: A's pending word,
 * cookie, completed, trace cache and `unwound`; K: A's `calling`; CL: A's
 * claim count, which du_registry_call's du_claim_repair touches; O: A's
 * record), not shifted to C's; C's own section and record are added
 * (IL_PROXY_SELF).  The release (lock, compare-exchange of the region
 * word, proxy.released) may follow proxy.claimed, proxy.unwound and
 * dispatch.returned.  A's ops of the region: the enter writes the region
 * word (and reads EXITING), the blocking point touches nothing, the leave
 * reads and writes the region word and logs its return (O, compared with
 * C's claim by il_check.c), a safe point inside reads the region word. */
static struct il_fp il_fp_or(struct il_fp a, struct il_fp b) { return FP(a.r | b.r, a.w | b.w); }

static struct il_fp il_fp_proxy(const struct il_run *r, int pos)
{
    unsigned acts = il_acts(r);
    if ((pos == IL_POS_CB || pos == DU_STEP_DISPATCH_CALLBACK) && (acts & (IL_CB_REQ_T2 | IL_CB_REG_T2)))
        return IL_FP_ALL; /* a callback that requests or registers on the proxy's thread */
    struct il_fp f = il_fp_a(pos, acts);
    if (f.r == IL_ALL && f.w == IL_ALL)
        return f;
    if (pos == DU_STEP_PROXY_CLAIMED || pos == DU_STEP_PROXY_UNWOUND || pos == DU_STEP_DISPATCH_RETURNED)
        f = il_fp_or(f, FP(IL_T | IL_F, IL_F | IL_O)); /* the release */
    return il_fp_or(f, FP(IL_PROXY_SELF, IL_PROXY_SELF));
}

/* The op requester t parked at IL_POS_OP is about to run (`arg`: its index). */
static enum il_op_kind il_op_at(const struct il_run *r, int t, int arg)
{
    const struct il_op *ops = t == IL_A ? r->sc->a : r->sc->c;
    return arg >= 0 && arg < IL_MAX_OPS ? ops[arg].kind : IL_END;
}

/* Requester t's footprint from `pos` (`arg`: the park's argument); a park
 * where the scenario's nested request ("signal", A only) fires is followed
 * by that request: anything. */
static struct il_fp il_fp_req(const struct il_run *r, int t, int pos, int arg)
{
    if (t == IL_A && pos == r->sc->sig_step)
        return FP(IL_ALL, IL_ALL);
    if (r->th[t].serving)
        return il_fp_proxy(r, pos);
    if (pos == IL_POS_OP) {
        switch (il_op_at(r, t, arg)) {
        case IL_ENTER:
            return FP(IL_F | il_own(IL_M, t), IL_F);
        case IL_BLOCK:
            return FP(0, 0);
        case IL_LEAVE:
            return FP(IL_F, IL_F | il_own(IL_O, t));
        case IL_SERVE: /* the look at the list, the claim (or none: the op's end) */
            return FP(IL_T | IL_F | IL_M | IL_PROXY_SELF, IL_F | IL_O | IL_PROXY_SELF);
        case IL_SAFE:
            if (r->th[t].in_region) {
                struct il_fp f = il_fp_a(pos, il_acts(r));
                return FP(il_own(f.r, t) | IL_F, il_own(f.w, t));
            }
            break;
        default:
            break;
        }
    }
    struct il_fp f = il_fp_a(pos, il_acts(r));
    if (f.r == IL_ALL && f.w == IL_ALL)
        return f;
    return FP(il_own(f.r, t), il_own(f.w, t));
}

/* B's footprint: what it reads or writes of a requester, it does of both. */
static struct il_fp il_fp_canceller(int pos)
{
    struct il_fp f = il_fp_b(pos);
    return FP(f.r | il_own(f.r & IL_OWN, IL_C), f.w | il_own(f.w & IL_OWN, IL_C));
}

static struct il_fp il_fp_of(const struct il_run *r, int t, int pos)
{
    return t == IL_B ? il_fp_canceller(pos) : il_fp_req(r, t, pos, r->th[t].pos_arg);
}

int il_independent(const struct il_run *r, int t, int tpos, int u, int upos)
{
    if (r->mode == IL_MODE_CONSERVATIVE && (t == IL_B || u == IL_B))
        return 0; /* every segment of B touches everything */
    return !il_conflict(il_fp_of(r, t, tpos), il_fp_of(r, u, upos));
}

/* A park of a requester whose segment touches nothing another thread
 * touches or sees: it commutes with every other segment, so it need not be
 * a decision at all. */
int il_invisible(const struct il_run *r, int t, int tpos, int targ)
{
    struct il_fp f = il_fp_req(r, t, tpos, targ);
    return f.r == 0 && f.w == 0;
}
