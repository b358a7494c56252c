/*
 * us_injectors.c - signal injectors (pthread_kill to random live workers)
 * and the migrator (sched_setaffinity), both behind the liveness protocol:
 * increment the worker's inflight, check alive, act, decrement.
 */
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "us_internal.h"

/* ---- injectors and migrator ---------------------------------------------------- */
struct us_worker *us_target_get(uint64_t r)
{
    struct us_worker *w = &us_workers[r % (uint64_t)us_nworkers];
    atomic_fetch_add_explicit(&w->inflight, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->alive, memory_order_seq_cst))
        return w;
    atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst);
    return NULL;
}
void us_target_put(struct us_worker *w) { atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_seq_cst); }

void *us_injector_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    uint32_t pause = us_cur->inject_us * (uint32_t)us_load_scale;
    while (!atomic_load_explicit(&us_aux_stop, memory_order_relaxed)) {
        uint64_t r = us_rng_next(&rng);
        struct us_worker *w = us_target_get(r);
        if (w) {
            pthread_kill(w->thread, (r >> 32) & 1 ? us_sig_a : us_sig_b);
            us_target_put(w);
        }
        us_pause_us((uint32_t)((r >> 20) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}

void *us_migrator_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    uint32_t pause = us_cur->migrate_us * (uint32_t)us_tsan_scale;
    while (!atomic_load_explicit(&us_aux_stop, memory_order_relaxed)) {
        uint64_t r = us_rng_next(&rng);
        struct us_worker *w = us_target_get(r);
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
            us_target_put(w);
        }
        us_pause_us((uint32_t)((r >> 24) % (2 * (uint64_t)pause + 1)));
    }
    return NULL;
}
