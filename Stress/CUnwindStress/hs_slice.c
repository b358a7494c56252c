/*
 * hs_slice.c - one slice of one scenario: start the registrar, workers,
 * injectors and migrator with the scenario's knobs, respawn workers that
 * exit (checking their last context), start the lifecycle attack
 * (hs_lifecycle.c), stop everything.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_internal.h"

uint64_t hs_slice_seed(int scen, int occurrence, int salt)
{
    uint64_t x = hs_cfg->seed ^ ((uint64_t)(scen + 1) * 0x9E3779B97F4A7C15ULL) ^
                 ((uint64_t)(occurrence + 1) * 0xC2B2AE3D27D4EB4FULL) ^ ((uint64_t)(salt + 7) * 0x165667B19E3779F9ULL);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 32;
    return x ? x : 1;
}

static uint64_t hs_slice_rng_seed;

static void hs_spawn(struct hs_worker *w)
{
    uint64_t gen = atomic_load(&w->gen) + 1;
    atomic_store(&w->gen, gen);
    atomic_store(&w->finished, 0);
    atomic_store(&w->tail, 0);
    atomic_store(&w->head, 0);
    w->ncarry = 0;
    w->ncb = 0;
    w->in_cb = 0;
    w->has_timer = 0;
    w->lj_own = NULL;
    w->lj_expect_repair = 0;
    atomic_store(&w->hdepth, 0);
    atomic_store(&w->pz_state, HS_PZ_OUT);
    atomic_store(&w->pz_serial, 0);
    atomic_store(&w->npcb, 0);
    w->pz_ctx_region = 0;
    atomic_store(&w->phase, PH_RUN);
    atomic_store(&w->ctx, gen << 32);
    atomic_store(&w->op, HS_OP_NONE);
    uint64_t s = hs_slice_rng_seed ^ ((uint64_t)(w->slot + 1) << 40) ^ (gen * 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < 4; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        w->hrng[i] = s | 1;
    }
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 1 << 20);
    pthread_t pt;
    int r = pthread_create(&pt, &a, hs_worker_main, w);
    pthread_attr_destroy(&a);
    if (r != 0)
        hs_fatal("pthread_create: %s", strerror(r));
    w->pt = pt;
    w->running = 1;
    atomic_fetch_add(&hs_total_spawns, 1);
}

static pthread_t hs_join_handle(struct hs_worker *w) { return w->pt; }

static void hs_reap_worker(struct hs_worker *w)
{
    pthread_join(hs_join_handle(w), NULL);
    w->running = 0;
    hs_check_exited(w);
}

void hs_run_slice(int scen, int occurrence, double seconds, const struct hs_api *api)
{
    const struct hs_scenario *sc = &hs_scenarios[scen];
    hs_cur = sc;
    hs_cur_index = scen;
    hs_crash_prepare();
    if (api != hs_api)
        hs_cookies_reset(); /* another library: another cookie space */
    hs_api = api;
    hs_slice_rng_seed = hs_slice_seed(scen, occurrence, 0);
    hs_reg_rng = hs_slice_seed(scen, occurrence, 1);
    atomic_store(&hs_stop, 0);
    atomic_store(&hs_reg_stop, 0);
    atomic_store(&hs_aux_stop, 0);
    if (sc->seed_wrap) {
        /* Thread serials wrap (skipping 0) within the first attaches; each
         * worker seeds its context counter 2^16 contexts before the wrap
         * (hs_worker.c); the variants' per-CPU counters start there too. */
        api->seed(0xFFFFFFFFu - 2u * 65536u);
        hs_cookies_reset();
    }
    struct hs_totals before, after;
    hs_sum(&before);
    uint64_t t0 = hs_now_ns();

    hs_fill(sc->tracers);
    pthread_t reg, inj[2], mig;
    int ninj = 0, have_mig = 0;
    pthread_create(&reg, NULL, hs_registrar_main, NULL);
    for (int i = 0; i < hs_nworkers; i++)
        hs_spawn(&hs_workers[i]);
    if (sc->inject_us)
        for (ninj = 0; ninj < 2; ninj++)
            pthread_create(&inj[ninj], NULL, hs_injector_main, (void *)(uintptr_t)hs_slice_seed(scen, occurrence, 10 + ninj));
    if (sc->migrate_us) {
        pthread_create(&mig, NULL, hs_migrator_main, (void *)(uintptr_t)hs_slice_seed(scen, occurrence, 20));
        have_mig = 1;
    }
    hs_lc_slice_start(scen, occurrence);
    uint64_t end = t0 + (uint64_t)(seconds * 1e9);
    while (hs_now_ns() < end) {
        hs_pause_us(5000);
        for (int i = 0; i < hs_nworkers; i++) {
            struct hs_worker *w = &hs_workers[i];
            if (w->running && atomic_load_explicit(&w->finished, memory_order_acquire)) {
                hs_reap_worker(w);
                hs_spawn(w);
            }
        }
        hs_status(0);
    }
    atomic_store(&hs_stop, 1);
    for (int i = 0; i < hs_nworkers; i++)
        if (hs_workers[i].running)
            hs_reap_worker(&hs_workers[i]);
    atomic_store(&hs_aux_stop, 1);
    for (int i = 0; i < ninj; i++)
        pthread_join(inj[i], NULL);
    if (have_mig)
        pthread_join(mig, NULL);
    atomic_store(&hs_reg_stop, 1);
    pthread_join(reg, NULL);
    hs_lc_slice_stop();
    /* No worker left: cancel everything, free everything. */
    hs_registrar_drain();
    hs_sum(&after);
    hs_diff(&hs_sstats[scen].t, &before, &after);
    hs_sstats[scen].slices++;
    hs_sstats[scen].seconds += (double)(hs_now_ns() - t0) / 1e9;
}
