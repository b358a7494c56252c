/*
 * us_registrar.c - the registrar thread: registers and cancels tracers during
 * the run (churn, registry full, bit reuse) and checks what the registry
 * answers (invariant 9).  A cancelled tracer is freed only when every worker
 * was seen with no request, handler or callback section open after its
 * removal from the table, so the harness never touches freed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "us_internal.h"

static _Atomic int us_reg_op;
static _Atomic uint64_t us_reg_op_start;
/* ---- registrar ---------------------------------------------------------------- */
static uint64_t us_used_bits; /* registrar's view: bits of registered tracers */
static int us_live_count;
uint64_t us_reg_rng;
static int us_limbo[US_POOL], us_nlimbo;
static uint64_t us_limbo_q[US_POOL]; /* per limbo record: slots seen quiescent */

static void us_reg_op_begin(int op)
{
    atomic_store_explicit(&us_reg_op_start, us_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&us_reg_op, op, memory_order_release);
}
static void us_reg_op_end(void) { atomic_store_explicit(&us_reg_op, US_OP_NONE, memory_order_release); }

static int us_register_one(void)
{
    int idx = -1;
    static int scan;
    for (int i = 0; i < US_REG_POOL; i++) {
        int k = (scan + i) % US_REG_POOL;
        if (atomic_load_explicit(&us_pool[k].state, memory_order_relaxed) == US_ST_FREE &&
            atomic_load_explicit(&us_pool[k].id, memory_order_relaxed) == 0) {
            idx = k;
            break;
        }
    }
    if (idx < 0)
        return -ENOSPC; /* every record waits for quiescence: try later */
    /* id ≡ idx (mod US_POOL), so a callback finds its record from its id. */
    uint64_t id = us_instance_id(idx);
    scan = idx + 1;
    struct us_rec *rec = &us_pool[idx];
    uint64_t r = us_rng_next(&us_reg_rng);
    rec->sleep = (r & 1) != 0;
    rec->yield = (r & 2) != 0;
    rec->rereq = (r & 12) != 0;
    rec->deadlk = (r & 16) != 0;
    atomic_store_explicit(&rec->id, id, memory_order_release);
    atomic_store_explicit(&rec->state, US_ST_LIVE, memory_order_release);
    du_tracer *t = NULL;
    char name[32];
    snprintf(name, sizeof name, "stress-%llu", (unsigned long long)id);
    us_reg_op_begin(US_OP_REGISTER);
    int ret = us_api->reg(us_callback, (void *)(uintptr_t)id, name, &t);
    us_reg_op_end();
    if (ret == -EBUSY) {
        atomic_fetch_add(&us_total_ebusy, 1);
        if (us_live_count != DU_MAX_TRACERS)
            us_violation(9, "expected -EBUSY only with %d tracers registered; seen -EBUSY with %d registered",
                         DU_MAX_TRACERS, us_live_count);
        atomic_store_explicit(&rec->state, US_ST_FREE, memory_order_release);
        atomic_store_explicit(&rec->id, 0, memory_order_release);
        return ret;
    }
    if (ret != 0)
        us_violation(9, "expected du_tracer_register() to return 0 or -EBUSY; seen %d", ret);
    if (us_live_count >= DU_MAX_TRACERS)
        us_violation(9, "expected -EBUSY with %d tracers registered; seen a %dth tracer registered (bit %d)",
                     DU_MAX_TRACERS, us_live_count + 1, us_api->bit(t));
    int bit = us_api->bit(t);
    if (bit < 3 || bit > 63)
        us_violation(9, "expected a tracer bit in 3..63; seen %d", bit);
    if (us_used_bits & (1ull << bit))
        us_violation(9, "expected distinct bits for registered tracers (registry full or not); seen bit %d "
                        "given twice (new tracer #%llu)",
                     bit, (unsigned long long)id);
    us_used_bits |= 1ull << bit;
    us_live_count++;
    rec->bit = bit;
    atomic_store_explicit(&rec->t, t, memory_order_release);
    atomic_store_explicit(&us_active[bit], idx + 1, memory_order_seq_cst);
    atomic_fetch_add(&us_total_registers, 1);
    return 0;
}

static void us_cancel_one(int idx)
{
    struct us_rec *rec = &us_pool[idx];
    uint64_t id = atomic_load_explicit(&rec->id, memory_order_relaxed);
    du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
    atomic_store_explicit(&rec->state, US_ST_CANCELLING, memory_order_release);
    us_cancel_began(id);
    us_reg_op_begin(US_OP_CANCEL);
    int ret = us_api->cancel(t);
    us_reg_op_end();
    if (ret < 0)
        us_violation(9, "expected du_tracer_cancel() >= 0 (a dropped count) for a registered tracer; seen %d (tracer #%llu)", ret,
                     (unsigned long long)id);
    int after = us_api->bit(t);
    if (after != -1)
        us_violation(9, "expected du_tracer_bit() == -1 after cancel; seen %d (tracer #%llu)", after,
                     (unsigned long long)id);
    /* Poison: any callback of this instance that starts or is still running
     * from here on reports invariant 6. */
    atomic_store_explicit(&rec->state, US_ST_CANCELLED, memory_order_seq_cst);
    int expect = idx + 1;
    atomic_compare_exchange_strong(&us_active[rec->bit], &expect, 0);
    us_used_bits &= ~(1ull << rec->bit);
    us_live_count--;
    atomic_fetch_add(&us_total_cancels, 1);
    us_limbo_q[us_nlimbo] = 0;
    us_limbo[us_nlimbo++] = idx;
}

/* Free cancelled tracers nobody can still hold: every worker slot was seen
 * with no request/handler/callback section open after the removal. */
static void us_reap(int force)
{
    for (int i = 0; i < us_nlimbo;) {
        int idx = us_limbo[i];
        uint64_t q = us_limbo_q[i];
        for (int s = 0; s < us_nworkers && !force; s++) {
            if (q & (1ull << s))
                continue;
            struct us_worker *w = &us_workers[s];
            uint64_t x = atomic_load_explicit(&w->h_exit, memory_order_seq_cst);
            uint64_t e = atomic_load_explicit(&w->h_enter, memory_order_seq_cst);
            if (x == e)
                q |= 1ull << s;
        }
        uint64_t all = us_nworkers >= 64 ? ~0ull : ((1ull << us_nworkers) - 1);
        if (force || (q & all) == all) {
            struct us_rec *rec = &us_pool[idx];
            du_tracer *t = atomic_load_explicit(&rec->t, memory_order_relaxed);
            us_reg_op_begin(US_OP_DESTROY);
            int ret = us_api->destroy(t);
            us_reg_op_end();
            if (ret != 0)
                us_violation(9, "expected du_tracer_destroy() == 0 on a cancelled tracer; seen %d", ret);
            atomic_store_explicit(&rec->t, NULL, memory_order_relaxed);
            atomic_store_explicit(&rec->state, US_ST_FREE, memory_order_release);
            atomic_store_explicit(&rec->id, 0, memory_order_release);
            us_limbo[i] = us_limbo[--us_nlimbo];
            us_limbo_q[i] = us_limbo_q[us_nlimbo];
        } else {
            us_limbo_q[i] = q;
            i++;
        }
    }
}

static int us_pick_live(void)
{
    if (!us_live_count)
        return -1;
    int n = (int)(us_rng_next(&us_reg_rng) % (uint64_t)us_live_count);
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load_explicit(&us_active[b], memory_order_relaxed);
        if (ri && ri - 1 < US_REG_POOL && atomic_load_explicit(&us_pool[ri - 1].state, memory_order_relaxed) == US_ST_LIVE &&
            n-- == 0)
            return ri - 1;
    }
    return -1;
}

void us_fill(int target)
{
    while (us_live_count < target && us_live_count < DU_MAX_TRACERS)
        if (us_register_one() != 0)
            break;
}

void *us_registrar_main(void *arg)
{
    (void)arg;
    const struct us_scenario *sc = us_cur;
    uint32_t pause = sc->reg_us * (uint32_t)us_tsan_scale;
    while (!atomic_load_explicit(&us_reg_stop, memory_order_relaxed)) {
        us_reap(0);
        if (sc->fork_every && us_rng_next(&us_reg_rng) % (uint64_t)(sc->fork_every / 20 + 1) == 0) {
            /* fork-storm: the registrar forks between its calls (us_fork.c). */
            us_reg_op_begin(US_OP_FORK);
            us_fork_registrar();
            us_reg_op_end();
        }
        switch (sc->reg_mode) {
        case US_REG_STATIC:
            us_pause_us(2000);
            continue;
        case US_REG_CHURN:
            if (us_live_count < sc->tracers)
                us_register_one();
            else {
                int i = us_pick_live();
                if (i >= 0)
                    us_cancel_one(i);
            }
            break;
        case US_REG_FULL: {
            while (us_live_count < DU_MAX_TRACERS)
                if (us_register_one() != 0)
                    break;
            if (us_live_count == DU_MAX_TRACERS)
                us_register_one(); /* must be -EBUSY */
            int n = 1 + (int)(us_rng_next(&us_reg_rng) % 3);
            for (int k = 0; k < n; k++) {
                int i = us_pick_live();
                if (i >= 0)
                    us_cancel_one(i);
            }
            break;
        }
        case US_REG_REUSE: {
            /* Cancel and immediately register: the lowest free bit, i.e.
             * usually the one just scrubbed, goes to a new tracer while
             * workers still hold requests made in their current contexts. */
            int i = us_pick_live();
            if (i >= 0)
                us_cancel_one(i);
            us_fill(sc->tracers);
            break;
        }
        }
        us_pause_us((uint32_t)(us_rng_next(&us_reg_rng) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

void us_registrar_drain(void)
{
    for (int b = 3; b < 64; b++) {
        int ri = atomic_load(&us_active[b]);
        if (ri && ri - 1 < US_REG_POOL && atomic_load(&us_pool[ri - 1].state) == US_ST_LIVE)
            us_cancel_one(ri - 1);
    }
    us_reap(1);
}

void us_registrar_dump(void)
{
    uint64_t now = us_now_ns();
    int op = atomic_load(&us_reg_op);
    fprintf(stderr, "  registrar op %s for %.3fs, live tracers %d, waiting to free %d\n", us_op_name(op),
            op ? (double)(now - atomic_load(&us_reg_op_start)) / 1e9 : 0.0, us_live_count, us_nlimbo);
}

/* The registrar's operation in progress, for the watchdog: op, start. */
int us_registrar_op(uint64_t *start)
{
    int op = atomic_load_explicit(&us_reg_op, memory_order_acquire);
    *start = atomic_load_explicit(&us_reg_op_start, memory_order_relaxed);
    return op;
}
