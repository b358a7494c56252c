/*
 * hs_watchdog.c - invariant 8: every blocking operation of the harness's
 * threads publishes (operation, start time); one older than the bound prints
 * every thread's state and reports a violation.
 */
#include <stdio.h>

#include "hs_internal.h"

/* ---- watchdog (invariant 8) ----------------------------------------------------- */
const char *hs_op_name(int op)
{
    static const char *n[] = {"none", "safe-point", "detach", "cancel", "register", "exit", "destroy", "fork",
                              "wait", "frozen-region", "proxy-serve"};
    return op >= 0 && op <= HS_OP_PROXY ? n[op] : "?";
}

static void hs_dump_states(void)
{
    uint64_t now = hs_now_ns();
    fprintf(stderr, "unwind-stress: thread states:\n");
    for (int i = 0; i < hs_nworkers; i++) {
        struct hs_worker *w = &hs_workers[i];
        int op = atomic_load(&w->op);
        fprintf(stderr,
                "  worker %d gen %llu tid %d alive %d finished %d op %s for %.3fs phase %d ctx %#llx "
                "handler-depth %d contexts %llu callbacks %llu signals %llu\n",
                i, (unsigned long long)atomic_load(&w->gen), (int)w->tid, atomic_load(&w->alive),
                atomic_load(&w->finished), hs_op_name(op),
                op ? (double)(now - atomic_load(&w->op_start)) / 1e9 : 0.0, atomic_load(&w->phase),
                (unsigned long long)atomic_load(&w->ctx), atomic_load(&w->hdepth),
                (unsigned long long)atomic_load(&w->n_ctx), (unsigned long long)atomic_load(&w->n_cb),
                (unsigned long long)atomic_load(&w->n_sig));
        if (hs_cur->lifecycle == LC_LONGJMP)
            fprintf(stderr, "    longjmp: landings %llu (last checked %llu), repair expected %d\n",
                    (unsigned long long)atomic_load(&w->lj_landed), (unsigned long long)w->lj_checked,
                    w->lj_expect_repair);
    }
    hs_registrar_dump();
    for (int i = 0; i < HS_OPSLOTS; i++) {
        int op = atomic_load(&hs_opslots[i].op);
        if (op)
            fprintf(stderr, "  %s op %s for %.3fs\n", hs_opslots[i].who, hs_op_name(op),
                    (double)(now - atomic_load(&hs_opslots[i].start)) / 1e9);
    }
}

_Atomic int hs_wd_stop;
void *hs_watchdog_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&hs_wd_stop)) {
        hs_pause_us(50000);
        uint64_t now = hs_now_ns();
        for (int i = 0; i < hs_nworkers; i++) {
            struct hs_worker *w = &hs_workers[i];
            int op = atomic_load_explicit(&w->op, memory_order_acquire);
            uint64_t st = atomic_load_explicit(&w->op_start, memory_order_relaxed);
            if (op != HS_OP_NONE && now > st && now - st > hs_bound_ns) {
                hs_dump_states();
                hs_violation(8, "expected %s on worker %d to finish within %.1fs; seen it still running after %.1fs",
                             hs_op_name(op), i, (double)hs_bound_ns / 1e9, (double)(now - st) / 1e9);
            }
        }
        for (int i = 0; i < HS_OPSLOTS; i++) {
            struct hs_opslot *o = &hs_opslots[i];
            /* Acquire, partner: hs_op_begin's release store of op. */
            int op = atomic_load_explicit(&o->op, memory_order_acquire);
            uint64_t st = atomic_load_explicit(&o->start, memory_order_relaxed);
            if (op != HS_OP_NONE && now > st && now - st > hs_bound_ns) {
                hs_dump_states();
                hs_violation(8, "expected the %s's %s to finish within %.1fs; seen it still running after %.1fs",
                             o->who, hs_op_name(op), (double)hs_bound_ns / 1e9, (double)(now - st) / 1e9);
            }
        }
        uint64_t st;
        int op = hs_registrar_op(&st);
        if (op != HS_OP_NONE && now > st && now - st > hs_bound_ns) {
            hs_dump_states();
            hs_violation(8, "expected the registrar's %s to finish within %.1fs; seen it still running after %.1fs",
                         hs_op_name(op), (double)hs_bound_ns / 1e9, (double)(now - st) / 1e9);
        }
    }
    return NULL;
}
