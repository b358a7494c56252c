/*
 * hs_registrar.c - the registrar thread: registers and cancels tracers during
 * the run (churn, registry full, bit reuse) and checks what the registry
 * answers (invariant 9).  A cancelled tracer is freed only when every worker
 * was seen with no request, handler or callback section open after its
 * removal from the table, so the harness never touches freed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_internal.h"

static _Atomic int hs_reg_op;
static _Atomic uint64_t hs_reg_op_start;
/* ---- registrar ---------------------------------------------------------------- */
static uint64_t hs_used_bits; /* registrar's view: bits of registered tracers */
static int hs_live_count;
uint64_t hs_reg_rng;
static int hs_limbo[HS_POOL], hs_nlimbo;
static uint64_t hs_limbo_q[HS_POOL]; /* per limbo record: slots seen quiescent */

static void hs_reg_op_begin(int op)
{
    atomic_store_explicit(&hs_reg_op_start, hs_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&hs_reg_op, op, memory_order_release);
}
static void hs_reg_op_end(void) { atomic_store_explicit(&hs_reg_op, HS_OP_NONE, memory_order_release); }

static int hs_register_one(void)
{
    int idx = -1;
    static int scan;
    for (int i = 0; i < HS_REG_POOL; i++) {
        int k = (scan + i) % HS_REG_POOL;
        if (atomic_load_explicit(&hs_pool[k].state, memory_order_relaxed) == HS_ST_FREE &&
            atomic_load_explicit(&hs_pool[k].id, memory_order_relaxed) == 0) {
            idx = k;
            break;
        }
    }
    if (idx < 0)
        return -ENOSPC; /* every record waits for quiescence: try later */
    /* id ≡ idx (mod HS_POOL), so a callback finds its record from its id. */
    uint64_t id = hs_instance_id(idx);
    scan = idx + 1;
    struct hs_rec *rec = &hs_pool[idx];
    uint64_t r = hs_rng_next(&hs_reg_rng);
    rec->sleep = (r & 1) != 0;
    rec->yield = (r & 2) != 0;
    rec->rereq = (r & 12) != 0;
    rec->deadlk = (r & 16) != 0;
    atomic_store_explicit(&rec->id, id, memory_order_release);
    atomic_store_explicit(&rec->state, HS_ST_LIVE, memory_order_release);
    du_tracer *t = NULL;
    char name[32];
    snprintf(name, sizeof name, "stress-%llu", (unsigned long long)id);
    hs_reg_op_begin(HS_OP_REGISTER);
    int ret = hs_api->reg(hs_callback, (void *)(uintptr_t)id, name, &t);
    hs_reg_op_end();
    if (ret == -EBUSY) {
        atomic_fetch_add(&hs_total_ebusy, 1);
        if (hs_live_count != DU_MAX_TRACERS)
            hs_violation(9, "expected -EBUSY only with %d tracers registered; seen -EBUSY with %d registered",
                         DU_MAX_TRACERS, hs_live_count);
        atomic_store_explicit(&rec->state, HS_ST_FREE, memory_order_release);
        atomic_store_explicit(&rec->id, 0, memory_order_release);
        return ret;
    }
    if (ret != 0)
        hs_violation(9, "expected du_tracer_register() to return 0 or -EBUSY; seen %d", ret);
    if (hs_live_count >= DU_MAX_TRACERS)
        hs_violation(9, "expected -EBUSY with %d tracers registered; seen a %dth tracer registered (bit %d)",
                     DU_MAX_TRACERS, hs_live_count + 1, hs_api->bit(t));
    int bit = hs_api->bit(t);
    if (bit < 3 || bit > 63)
        hs_violation(9, "expected a tracer bit in 3..63; seen %d", bit);
    if (hs_used_bits & (1ull << bit))
        hs_violation(9, "expected distinct bits for registered tracers (registry full or not); seen bit %d "
                        "given twice (new tracer #%llu)",
                     bit, (unsigned long long)id);
    hs_used_bits |= 1ull << bit;
    hs_live_count++;
    rec->bit = bit;
    atomic_store_explicit(&rec->t, t, memory_order_release);
    atomic_store_explicit(&hs_active[bit], idx + 1, memory_order_seq_cst);
    atomic_fetch_add(&hs_total_registers, 1);
    return 0;
}

static void hs_cancel_one(int idx)
{
    struct hs_rec *rec = &hs_pool[idx];
    uint64_t id = atomic_load_explicit(&rec->id, memory_order_relaxed);
    du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
    atomic_store_explicit(&rec->state, HS_ST_CANCELLING, memory_order_release);
    hs_cancel_began(id);
    hs_reg_op_begin(HS_OP_CANCEL);
    int ret = hs_api->cancel(t);
    hs_reg_op_end();
    if (ret < 0)
        hs_violation(9, "expected du_tracer_cancel() >= 0 (a dropped count) for a registered tracer; seen %d (tracer #%llu)", ret,
                     (unsigned long long)id);
    int after = hs_api->bit(t);
    if (after != -1)
        hs_violation(9, "expected du_tracer_bit() == -1 after cancel; seen %d (tracer #%llu)", after,
                     (unsigned long long)id);
    /* Poison: any callback of this instance that starts or is still running
     * from here on reports invariant 6. */
    atomic_store_explicit(&rec->state, HS_ST_CANCELLED, memory_order_seq_cst);
    int expect = idx + 1;
    atomic_compare_exchange_strong(&hs_active[rec->bit], &expect, 0);
    hs_used_bits &= ~(1ull << rec->bit);
    hs_live_count--;
    atomic_fetch_add(&hs_total_cancels, 1);
    hs_limbo_q[hs_nlimbo] = 0;
    hs_limbo[hs_nlimbo++] = idx;
}

/* Free cancelled tracers nobody can still hold: every worker slot was seen
 * with no request/handler/callback section open after the removal. */
static void hs_reap(int force)
{
    for (int i = 0; i < hs_nlimbo;) {
        int idx = hs_limbo[i];
        uint64_t q = hs_limbo_q[i];
        for (int s = 0; s < hs_nworkers && !force; s++) {
            if (q & (1ull << s))
                continue;
            struct hs_worker *w = &hs_workers[s];
            uint64_t x = atomic_load_explicit(&w->h_exit, memory_order_seq_cst);
            uint64_t e = atomic_load_explicit(&w->h_enter, memory_order_seq_cst);
            if (x == e)
                q |= 1ull << s;
        }
        uint64_t all = hs_nworkers >= 64 ? ~0ull : ((1ull << hs_nworkers) - 1);
        if (force || (q & all) == all) {
            struct hs_rec *rec = &hs_pool[idx];
            du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
            hs_reg_op_begin(HS_OP_DESTROY);
            int ret = hs_api->destroy(t);
            hs_reg_op_end();
            if (ret != 0)
                hs_violation(9, "expected du_tracer_destroy() == 0 on a cancelled tracer; seen %d", ret);
            atomic_store_explicit(&rec->t, NULL, memory_order_relaxed);
            atomic_store_explicit(&rec->state, HS_ST_FREE, memory_order_release);
            atomic_store_explicit(&rec->id, 0, memory_order_release);
            hs_limbo[i] = hs_limbo[--hs_nlimbo];
            hs_limbo_q[i] = hs_limbo_q[hs_nlimbo];
        } else {
            hs_limbo_q[i] = q;
            i++;
        }
    }
}

static int hs_pick_live(void)
{
    if (!hs_live_count)
        return -1;
    int n = (int)(hs_rng_next(&hs_reg_rng) % (uint64_t)hs_live_count);
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load_explicit(&hs_active[b], memory_order_relaxed);
        if (ri && ri - 1 < HS_REG_POOL && atomic_load_explicit(&hs_pool[ri - 1].state, memory_order_relaxed) == HS_ST_LIVE &&
            n-- == 0)
            return ri - 1;
    }
    return -1;
}

void hs_fill(int target)
{
    while (hs_live_count < target && hs_live_count < DU_MAX_TRACERS)
        if (hs_register_one() != 0)
            break;
}

void *hs_registrar_main(void *arg)
{
    (void)arg;
    const struct hs_scenario *sc = hs_cur;
    uint32_t pause = sc->reg_us * (uint32_t)hs_tsan_scale;
    while (!atomic_load_explicit(&hs_reg_stop, memory_order_relaxed)) {
        hs_reap(0);
        if (sc->fork_every && hs_rng_next(&hs_reg_rng) % (uint64_t)(sc->fork_every / 20 + 1) == 0) {
            /* fork-storm: the registrar forks between its calls (hs_fork.c). */
            hs_reg_op_begin(HS_OP_FORK);
            hs_fork_registrar();
            hs_reg_op_end();
        }
        switch (sc->reg_mode) {
        case HS_REG_STATIC:
            hs_pause_us(2000);
            continue;
        case HS_REG_CHURN:
            if (hs_live_count < sc->tracers)
                hs_register_one();
            else {
                int i = hs_pick_live();
                if (i >= 0)
                    hs_cancel_one(i);
            }
            break;
        case HS_REG_FULL: {
            while (hs_live_count < DU_MAX_TRACERS)
                if (hs_register_one() != 0)
                    break;
            if (hs_live_count == DU_MAX_TRACERS)
                hs_register_one(); /* must be -EBUSY */
            int n = 1 + (int)(hs_rng_next(&hs_reg_rng) % 3);
            for (int k = 0; k < n; k++) {
                int i = hs_pick_live();
                if (i >= 0)
                    hs_cancel_one(i);
            }
            break;
        }
        case HS_REG_REUSE: {
            /* Cancel and immediately register: the lowest free bit, i.e.
             * usually the one just scrubbed, goes to a new tracer while
             * workers still hold requests made in their current contexts. */
            int i = hs_pick_live();
            if (i >= 0)
                hs_cancel_one(i);
            hs_fill(sc->tracers);
            break;
        }
        }
        hs_pause_us((uint32_t)(hs_rng_next(&hs_reg_rng) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

void hs_registrar_drain(void)
{
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load(&hs_active[b]);
        if (ri && ri - 1 < HS_REG_POOL && atomic_load(&hs_pool[ri - 1].state) == HS_ST_LIVE)
            hs_cancel_one(ri - 1);
    }
    hs_reap(1);
}

void hs_registrar_dump(void)
{
    uint64_t now = hs_now_ns();
    int op = atomic_load(&hs_reg_op);
    fprintf(stderr, "  registrar op %s for %.3fs, live tracers %d, waiting to free %d\n", hs_op_name(op),
            op ? (double)(now - atomic_load(&hs_reg_op_start)) / 1e9 : 0.0, hs_live_count, hs_nlimbo);
}

/* The registrar's operation in progress, for the watchdog: op, start. */
int hs_registrar_op(uint64_t *start)
{
    int op = atomic_load_explicit(&hs_reg_op, memory_order_acquire);
    *start = atomic_load_explicit(&hs_reg_op_start, memory_order_relaxed);
    return op;
}
