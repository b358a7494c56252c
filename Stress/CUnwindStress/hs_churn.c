/*
 * hs_churn.c - tracer-churn: register, cancel and destroy from several
 * threads at once and from inside callbacks, several threads on the SAME
 * tracer, so its bit is reused while other calls on it are still running.
 *
 * Churner threads (lc_threads) share the tracer-churn records (hs_pool
 * [HS_REG_POOL, +HS_CH_N)); workers request them like the registrar's (the
 * callback is hs_callback, arg the instance id), so the per-context checker
 * sees every stale delivery (invariant 5), lost one (4) and late one (6).
 *  - gang: a churner publishes a target; every churner calls cancel or
 *    destroy on it (whoever is first cancels it, the others wait), and each
 *    registers a new tracer as soon as its call returns -- the lowest free
 *    bit, often the target's, while the others are still inside theirs;
 *  - single cancel/destroy of a random churn tracer, then register;
 *  - old handles (of instances whose cancel returned, kept in a graveyard):
 *    cancel answers -EALREADY, destroy 0, bit -1, and nothing else changes;
 *  - from callbacks (hs_callback): register (0) and cancel/destroy of another
 *    tracer (-EDEADLK, nothing cancelled).
 * Invariant 9: register 0 (never a bit a registered tracer holds), cancel 0
 * or -EALREADY and at most one 0 per tracer, destroy 0, -EDEADLK inside
 * callbacks; invariant 8: every call under the watchdog bound.
 *
 * Record protocol: FREE/CANCELLED -> RESERVED (CAS; then users must read 0,
 * Dekker with a caller's users++ then state load, both seq_cst) -> LIVE
 * (after register; id, t, state published with release) -> CANCELLING (first
 * call begins) -> CANCELLED (first call returned: poisoned, hs_active
 * cleared, the handle goes to the graveyard).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "hs_internal.h"

#define HS_CH_FIRST HS_REG_POOL
#define HS_CH_N 256
#define HS_CH_MAX 24 /* churn tracers registered at once */
#define HS_CH_GRAVE 64

static _Atomic int hs_ch_live;          /* registered or registering (relaxed: a bound, not an order) */
static _Atomic uint32_t hs_ch_cursor;   /* where the next reservation scan starts (relaxed) */
static _Atomic uint64_t hs_ch_epoch;    /* gang epochs (relaxed: unique numbers) */
/* epoch << 40 | generation << 8 | record - HS_CH_FIRST; release/acquire */
static _Atomic uint64_t hs_ch_gang;
static _Atomic(du_tracer *) hs_ch_grave[HS_CH_GRAVE]; /* relaxed: handles stay valid forever */
static _Atomic uint32_t hs_ch_grave_n;

/* A churn instance's id from its record and its serial (rec->gen holds the
 * serial of the record's instance: ids are serial * HS_POOL + record). */
static uint64_t hs_ch_id(int idx, uint64_t serial) { return serial * HS_POOL + (uint64_t)idx; }

static void hs_ch_op(struct hs_opslot *op, int what)
{
    if (op) {
        if (what)
            hs_op_begin(op, what);
        else
            hs_op_end(op);
    }
}

/* Register one churn tracer (thread context or a callback). */
static void hs_ch_register(int in_cb, struct hs_opslot *op, uint64_t r)
{
    /* Relaxed RMWs on hs_ch_live and hs_ch_cursor: a bound and a starting
     * point, nothing is published through them. */
    if (atomic_fetch_add_explicit(&hs_ch_live, 1, memory_order_relaxed) >= HS_CH_MAX) {
        atomic_fetch_sub_explicit(&hs_ch_live, 1, memory_order_relaxed);
        return;
    }
    int idx = -1;
    uint32_t start = atomic_fetch_add_explicit(&hs_ch_cursor, 1, memory_order_relaxed);
    for (int i = 0; i < HS_CH_N && idx < 0; i++) {
        int k = HS_CH_FIRST + (int)((start + (uint32_t)i) % HS_CH_N);
        struct hs_rec *rec = &hs_pool[k];
        /* seq_cst, partners: other reservers' CAS and hs_ch_kill's state load. */
        int st = atomic_load_explicit(&rec->state, memory_order_seq_cst);
        if (st != HS_ST_FREE && st != HS_ST_CANCELLED)
            continue;
        if (!atomic_compare_exchange_strong_explicit(&rec->state, &st, HS_ST_RESERVED, memory_order_seq_cst,
                                                     memory_order_relaxed))
            continue;
        /* seq_cst, partner: hs_ch_kill's users++ then state load. */
        if (atomic_load_explicit(&rec->users, memory_order_seq_cst) != 0) {
            atomic_store_explicit(&rec->state, st, memory_order_seq_cst);
            continue;
        }
        idx = k;
    }
    if (idx < 0) {
        atomic_fetch_sub_explicit(&hs_ch_live, 1, memory_order_relaxed);
        return;
    }
    struct hs_rec *rec = &hs_pool[idx];
    /* Release stores, partners: the acquire loads in hs_request_some. */
    atomic_store_explicit(&rec->t, NULL, memory_order_release);
    uint64_t id = hs_instance_id(idx);
    rec->gen = id / HS_POOL;
    /* Relaxed: counted by this instance's cancels (RMW), read by none else. */
    atomic_store_explicit(&rec->cancel0, 0, memory_order_relaxed);
    rec->sleep = (r & 1) != 0;
    rec->yield = (r & 2) != 0;
    rec->rereq = (r & 12) != 0;
    rec->deadlk = (r & 16) != 0;
    atomic_store_explicit(&rec->id, id, memory_order_release);
    du_tracer *t = NULL;
    hs_ch_op(op, HS_OP_REGISTER);
    int ret = hs_api->reg(hs_callback, (void *)(uintptr_t)id, "churn", &t);
    hs_ch_op(op, HS_OP_NONE);
    HS_LC_ADD(in_cb ? LCC_CB_CALLS : LCC_CHURN_CALLS, 1);
    if (ret != 0)
        hs_violation(9, "expected du_tracer_register() == 0%s (at most %d churn tracers: the registry is far from "
                        "full); seen %s",
                     in_cb ? " from inside a callback" : "", HS_CH_MAX, hs_status_name(ret));
    int bit = hs_api->bit(t);
    if (bit < 3 || bit > 63)
        hs_violation(9, "expected a tracer bit in 3..63; seen %d (tracer #%llu)", bit, (unsigned long long)id);
    /* The record's bit: relaxed atomic here and in every read of another
     * record's bit (a hint; published to workers by the hs_active CAS and the
     * release store of HS_ST_LIVE below). */
    __atomic_store_n(&rec->bit, bit, __ATOMIC_RELAXED);
    /* The bit's previous owner may have returned from cancel without its
     * canceller having cleared hs_active yet: wait for that, never for a
     * live owner (a bit given twice). */
    hs_ch_op(op, HS_OP_WAIT);
    for (;;) {
        /* seq_cst, partner: the canceller's CAS to 0 after its poison store. */
        int prev = 0;
        if (atomic_compare_exchange_strong_explicit(&hs_active[bit], &prev, idx + 1, memory_order_seq_cst,
                                                    memory_order_seq_cst))
            break;
        struct hs_rec *p = &hs_pool[prev - 1];
        if (atomic_load_explicit(&p->state, memory_order_seq_cst) == HS_ST_LIVE &&
            __atomic_load_n(&p->bit, __ATOMIC_RELAXED) == bit &&
            atomic_load_explicit(&hs_active[bit], memory_order_seq_cst) == prev)
            hs_violation(9, "expected du_tracer_register() never to give a bit held by a registered tracer; seen "
                            "bit %d given to tracer #%llu while tracer #%llu holds it (no cancel of it begun)",
                         bit, (unsigned long long)id, (unsigned long long)atomic_load(&p->id));
        sched_yield();
    }
    hs_ch_op(op, HS_OP_NONE);
    for (int k = HS_CH_FIRST; k < HS_CH_FIRST + HS_CH_N; k++) {
        /* Count it when the bit's old owner still has a call in progress
         * (a hint for the summary; relaxed, partner: none needed). */
        struct hs_rec *o = &hs_pool[k];
        if (k != idx && __atomic_load_n(&o->bit, __ATOMIC_RELAXED) == bit &&
            atomic_load_explicit(&o->users, memory_order_relaxed) > 0 &&
            atomic_load_explicit(&o->state, memory_order_relaxed) == HS_ST_CANCELLED) {
            HS_LC_ADD(LCC_REUSED_MID, 1);
            break;
        }
    }
    atomic_store_explicit(&rec->t, t, memory_order_release);
    atomic_store_explicit(&rec->state, HS_ST_LIVE, memory_order_release);
}

/* Cancel or destroy the record's instance `want` (0: whichever it holds),
 * maybe while other threads do the same. */
static void hs_ch_kill(int idx, uint64_t want, int destroy, struct hs_opslot *op)
{
    struct hs_rec *rec = &hs_pool[idx];
    /* seq_cst, partner: hs_ch_register's state CAS then users load. */
    int others = atomic_fetch_add_explicit(&rec->users, 1, memory_order_seq_cst);
    int st = atomic_load_explicit(&rec->state, memory_order_seq_cst);
    uint64_t id = atomic_load_explicit(&rec->id, memory_order_acquire);
    du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
    if ((st != HS_ST_LIVE && st != HS_ST_CANCELLING) || !t || (want && id != want)) {
        atomic_fetch_sub_explicit(&rec->users, 1, memory_order_release);
        return;
    }
    if (others)
        HS_LC_ADD(LCC_SAME_TRACER, 1);
    int live = HS_ST_LIVE;
    atomic_compare_exchange_strong_explicit(&rec->state, &live, HS_ST_CANCELLING, memory_order_seq_cst,
                                            memory_order_relaxed);
    /* The cancel clock before the first call begins (the checker forgives a
     * missing callback only after it); seq_cst like the registrar's. */
    hs_cancel_began(id);
    hs_ch_op(op, destroy ? HS_OP_DESTROY : HS_OP_CANCEL);
    int r = destroy ? hs_api->destroy(t) : hs_api->cancel(t);
    hs_ch_op(op, HS_OP_NONE);
    HS_LC_ADD(LCC_CHURN_CALLS, 1);
    if (r < 0 && (destroy || r != -EALREADY)) /* >= 0: a dropped count */
        hs_violation(9, "expected du_tracer_%s() to answer %s, also with other threads on the same tracer; seen %s "
                        "(tracer #%llu, %d other calls on it)",
                     destroy ? "destroy" : "cancel", destroy ? ">= 0" : ">= 0 or -EALREADY", hs_status_name(r),
                     (unsigned long long)id, others);
    if (!destroy && r >= 0 && atomic_fetch_add_explicit(&rec->cancel0, 1, memory_order_relaxed) != 0)
        hs_violation(9, "expected at most one cancel of a tracer to answer >= 0; seen a second (tracer #%llu)",
                     (unsigned long long)id);
    if (!destroy && hs_api->bit(t) != -1)
        hs_violation(9, "expected du_tracer_bit() == -1 once cancel returned; seen %d (tracer #%llu)", hs_api->bit(t),
                     (unsigned long long)id);
    /* Quiet now: poison (a callback of it from here on is invariant 6).
     * seq_cst, partners: hs_callback's loads of the state, the reuser's CAS.
     * Then hs_active (seq_cst, partner: hs_request_some's load and the
     * registering CAS); the graveyard is relaxed (a handle stays valid). */
    if (atomic_exchange_explicit(&rec->state, HS_ST_CANCELLED, memory_order_seq_cst) != HS_ST_CANCELLED) {
        int mine = idx + 1;
        int bit = __atomic_load_n(&rec->bit, __ATOMIC_RELAXED);
        atomic_compare_exchange_strong_explicit(&hs_active[bit], &mine, 0, memory_order_seq_cst,
                                                memory_order_relaxed);
        atomic_fetch_sub_explicit(&hs_ch_live, 1, memory_order_relaxed);
        uint32_t g = atomic_fetch_add_explicit(&hs_ch_grave_n, 1, memory_order_relaxed);
        atomic_store_explicit(&hs_ch_grave[g % HS_CH_GRAVE], t, memory_order_relaxed);
    }
    /* Release, partner: the reuser's seq_cst load of users. */
    atomic_fetch_sub_explicit(&rec->users, 1, memory_order_release);
}

/* A random live churn record, or -1. */
static int hs_ch_pick(uint64_t r)
{
    for (int i = 0; i < HS_CH_N; i++) {
        int k = HS_CH_FIRST + (int)((r + (uint64_t)i) % HS_CH_N);
        /* Acquire, partner: hs_ch_register's release store of HS_ST_LIVE. */
        if (atomic_load_explicit(&hs_pool[k].state, memory_order_acquire) == HS_ST_LIVE)
            return k;
    }
    return -1;
}

/* Any handle ever returned stays safe to pass: an old one answers as
 * cancelled and touches nothing else. */
static void hs_ch_grave_call(uint64_t r, struct hs_opslot *op)
{
    uint32_t n = atomic_load_explicit(&hs_ch_grave_n, memory_order_relaxed);
    if (!n)
        return;
    du_tracer *t = atomic_load_explicit(&hs_ch_grave[(r >> 8) % (n < HS_CH_GRAVE ? n : HS_CH_GRAVE)],
                                        memory_order_relaxed);
    if (!t)
        return;
    int destroy = (r >> 20) & 1;
    hs_ch_op(op, destroy ? HS_OP_DESTROY : HS_OP_CANCEL);
    int ret = destroy ? hs_api->destroy(t) : hs_api->cancel(t);
    hs_ch_op(op, HS_OP_NONE);
    HS_LC_ADD(LCC_CHURN_CALLS, 1);
    int bit = hs_api->bit(t);
    if (ret != (destroy ? 0 : -EALREADY) || bit != -1)
        hs_violation(9, "expected %s of an old handle (its cancel returned long ago) to answer %s and its bit to stay "
                        "-1; seen %s, bit %d",
                     destroy ? "destroy" : "cancel", destroy ? "0" : "-EALREADY", hs_status_name(ret), bit);
}

void *hs_churn_main(void *arg)
{
    const struct hs_lc_arg *a = arg;
    struct hs_opslot *op = &hs_opslots[a->index];
    uint64_t rng = a->seed, seen = 0;
    uint32_t pause = hs_cur->lc_us * (uint32_t)hs_tsan_scale;
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng);
        int destroy = (r >> 4) & 1;
        /* Acquire, partner: the leader's release store of the target. */
        uint64_t g = atomic_load_explicit(&hs_ch_gang, memory_order_acquire);
        if ((g >> 40) != (seen >> 40) && g) {
            seen = g;
            int idx = HS_CH_FIRST + (int)(g & 0xff);
            hs_ch_kill(idx, hs_ch_id(idx, (g >> 8) & 0xffffffffu), destroy, op);
            hs_ch_register(0, op, r);
            continue; /* no pause: the gang arrives together */
        }
        if (atomic_load_explicit(&hs_ch_live, memory_order_relaxed) < HS_CH_MAX / 2)
            hs_ch_register(0, op, r);
        int what = (int)((r >> 8) % 10), idx;
        if (what < 4 && (idx = hs_ch_pick(r >> 16)) >= 0) {
            /* Lead a gang on idx. */
            uint64_t e = (atomic_fetch_add_explicit(&hs_ch_epoch, 1, memory_order_relaxed) + 1) & 0xffffff;
            g = e << 40 | (hs_pool[idx].gen & 0xffffffffu) << 8 | (uint64_t)(idx - HS_CH_FIRST);
            atomic_store_explicit(&hs_ch_gang, g, memory_order_release);
            seen = g;
            hs_ch_kill(idx, hs_ch_id(idx, hs_pool[idx].gen), destroy, op);
            hs_ch_register(0, op, r);
        } else if (what < 7 && (idx = hs_ch_pick(r >> 16)) >= 0) {
            hs_ch_kill(idx, 0, destroy, op);
            hs_ch_register(0, op, r);
        } else if (what == 7) {
            hs_ch_grave_call(r, op);
        } else {
            hs_ch_register(0, op, r);
        }
        hs_pause_us((uint32_t)((r >> 32) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

/* From hs_callback, inside a callback on a worker (tracer-churn only). */
void hs_churn_from_callback(struct hs_worker *w, uint64_t r)
{
    if ((r >> 56) & 1)
        hs_ch_register(1, NULL, r);
    int idx = hs_ch_pick(r >> 8);
    if (idx < 0)
        return;
    struct hs_rec *rec = &hs_pool[idx];
    uint64_t id = atomic_load_explicit(&rec->id, memory_order_acquire);
    du_tracer *t = atomic_load_explicit(&rec->t, memory_order_acquire);
    if (!t || atomic_load_explicit(&rec->id, memory_order_acquire) != id)
        return;
    int destroy = (r >> 57) & 1;
    int ret = destroy ? hs_api->destroy(t) : hs_api->cancel(t);
    HS_LC_ADD(LCC_CB_CALLS, 1);
    if (ret != -EDEADLK)
        hs_violation(9, "expected du_tracer_%s() of another tracer from inside a callback to answer -EDEADLK; seen "
                        "%s (tracer #%llu, worker %d)",
                     destroy ? "destroy" : "cancel", hs_status_name(ret), (unsigned long long)id, w->slot);
}

/* Slice end, no worker left: cancel every churn tracer still registered. */
void hs_churn_drain(void)
{
    struct hs_opslot *op = &hs_opslots[HS_OPSLOTS - 1];
    snprintf(op->who, sizeof op->who, "churn drain");
    for (int k = HS_CH_FIRST; k < HS_CH_FIRST + HS_CH_N; k++)
        hs_ch_kill(k, 0, 0, op);
    for (int i = 0; i < HS_CH_GRAVE; i++)
        atomic_store_explicit(&hs_ch_grave[i], NULL, memory_order_relaxed);
    atomic_store(&hs_ch_grave_n, 0);
    atomic_store(&hs_ch_gang, 0);
    atomic_store(&hs_ch_live, 0);
}
