/*
 * us_watchdog.c - invariant 8: every blocking operation of the harness's
 * threads publishes (operation, start time); one older than the bound prints
 * every thread's state and reports a violation.
 */
#include <stdio.h>

#include "us_internal.h"

/* ---- watchdog (invariant 8) ----------------------------------------------------- */
const char *us_op_name(int op)
{
    static const char *n[] = {"none", "safe-point", "detach", "cancel", "register", "exit", "destroy", "fork",
                              "wait"};
    return op >= 0 && op <= US_OP_WAIT ? n[op] : "?";
}

static void us_dump_states(void)
{
    uint64_t now = us_now_ns();
    fprintf(stderr, "unwind-stress: thread states:\n");
    for (int i = 0; i < us_nworkers; i++) {
        struct us_worker *w = &us_workers[i];
        int op = atomic_load(&w->op);
        fprintf(stderr,
                "  worker %d gen %llu tid %d alive %d finished %d op %s for %.3fs phase %d ctx %#llx "
                "handler-depth %d contexts %llu callbacks %llu signals %llu\n",
                i, (unsigned long long)atomic_load(&w->gen), (int)w->tid, atomic_load(&w->alive),
                atomic_load(&w->finished), us_op_name(op),
                op ? (double)(now - atomic_load(&w->op_start)) / 1e9 : 0.0, atomic_load(&w->phase),
                (unsigned long long)atomic_load(&w->ctx), atomic_load(&w->hdepth),
                (unsigned long long)atomic_load(&w->n_ctx), (unsigned long long)atomic_load(&w->n_cb),
                (unsigned long long)atomic_load(&w->n_sig));
        if (us_cur->lifecycle == LC_LONGJMP)
            fprintf(stderr, "    longjmp: landings %llu (last checked %llu), repair expected %d\n",
                    (unsigned long long)atomic_load(&w->lj_landed), (unsigned long long)w->lj_checked,
                    w->lj_expect_repair);
    }
    us_registrar_dump();
    for (int i = 0; i < US_OPSLOTS; i++) {
        int op = atomic_load(&us_opslots[i].op);
        if (op)
            fprintf(stderr, "  %s op %s for %.3fs\n", us_opslots[i].who, us_op_name(op),
                    (double)(now - atomic_load(&us_opslots[i].start)) / 1e9);
    }
}

_Atomic int us_wd_stop;
void *us_watchdog_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&us_wd_stop)) {
        us_pause_us(50000);
        uint64_t now = us_now_ns();
        for (int i = 0; i < us_nworkers; i++) {
            struct us_worker *w = &us_workers[i];
            int op = atomic_load_explicit(&w->op, memory_order_acquire);
            uint64_t st = atomic_load_explicit(&w->op_start, memory_order_relaxed);
            if (op != US_OP_NONE && now > st && now - st > us_bound_ns) {
                us_dump_states();
                us_violation(8, "expected %s on worker %d to finish within %.1fs; seen it still running after %.1fs",
                             us_op_name(op), i, (double)us_bound_ns / 1e9, (double)(now - st) / 1e9);
            }
        }
        for (int i = 0; i < US_OPSLOTS; i++) {
            struct us_opslot *o = &us_opslots[i];
            /* Acquire, partner: us_op_begin's release store of op. */
            int op = atomic_load_explicit(&o->op, memory_order_acquire);
            uint64_t st = atomic_load_explicit(&o->start, memory_order_relaxed);
            if (op != US_OP_NONE && now > st && now - st > us_bound_ns) {
                us_dump_states();
                us_violation(8, "expected the %s's %s to finish within %.1fs; seen it still running after %.1fs",
                             o->who, us_op_name(op), (double)us_bound_ns / 1e9, (double)(now - st) / 1e9);
            }
        }
        uint64_t st;
        int op = us_registrar_op(&st);
        if (op != US_OP_NONE && now > st && now - st > us_bound_ns) {
            us_dump_states();
            us_violation(8, "expected the registrar's %s to finish within %.1fs; seen it still running after %.1fs",
                         us_op_name(op), (double)us_bound_ns / 1e9, (double)(now - st) / 1e9);
        }
    }
    return NULL;
}
