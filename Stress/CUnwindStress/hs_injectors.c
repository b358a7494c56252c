/*
 * hs_injectors.c - signal injectors (pthread_kill to random live workers)
 * and the migrator (sched_setaffinity), both behind the liveness protocol:
 * increment the worker's inflight, check alive, act, decrement.
 */
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "hs_internal.h"

/* ---- injectors and migrator ---------------------------------------------------- */
struct hs_worker *hs_target_get(uint64_t r)
{
    struct hs_worker *w = &hs_workers[r % (uint64_t)hs_nworkers];
    atomic_fetch_add_explicit(&w->inflight, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->alive, memory_order_seq_cst))
        return w;
    atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst);
    return NULL;
}
void hs_target_put(struct hs_worker *w) { atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst); }

void *hs_injector_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    uint32_t pause = hs_cur->inject_us * (uint32_t)hs_load_scale;
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng);
        struct hs_worker *w = hs_target_get(r);
        if (w) {
            pthread_kill(w->thread, (r >> 32) & 1 ? hs_sig_a : hs_sig_b);
            hs_target_put(w);
        }
        hs_pause_us((uint32_t)((r >> 20) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

void *hs_migrator_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    uint32_t pause = hs_cur->migrate_us * (uint32_t)hs_tsan_scale;
    while (!atomic_load_explicit(&hs_aux_stop, memory_order_relaxed)) {
        uint64_t r = hs_rng_next(&rng);
        struct hs_worker *w = hs_target_get(r);
        if (w) {
            cpu_set_t set;
            CPU_ZERO(&set);
            int c = (int)((r >> 16) % (uint64_t)(ncpu + 1));
            if (c == ncpu)
                for (int i = 0; i < ncpu; i++)
                    CPU_SET(i, &set);
            else
                CPU_SET(c, &set);
            sched_setaffinity(w->tid, sizeof(set), &set);
            hs_target_put(w);
        }
        hs_pause_us((uint32_t)((r >> 24) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}
