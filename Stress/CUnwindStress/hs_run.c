/*
 * hs_run.c - the run: configuration, set-up, the slices of every selected
 * scenario (scenario 16 split in two halves), and the summary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_internal.h"

struct hs_rec hs_pool[HS_POOL];
_Atomic uint64_t hs_cancel_clock;
_Atomic int hs_active[64];
struct hs_worker *hs_workers;
int hs_nworkers;
_Atomic int hs_stop;
_Atomic int hs_violations;
_Atomic uint64_t hs_total_cancels, hs_total_registers, hs_total_ebusy, hs_total_spawns;

const struct hs_config *hs_cfg;
uint64_t hs_t0;
int hs_cur_index;
const char *hs_phase_label = "";
_Atomic int hs_reg_stop, hs_aux_stop;
uint64_t hs_bound_ns;
int hs_tsan_scale = 1;
int hs_load_scale = 1;
int hs_tty;

int hs_run(const struct hs_config *cfg)
{
    static struct hs_config c;
    c = *cfg;
    hs_cfg = &c;
#ifdef HS_TSAN
    hs_tsan_scale = 4;
    hs_bound_ns = 30ull * 1000000000ull;
#else
    hs_bound_ns = 5ull * 1000000000ull;
#endif
    const char *wd = getenv("UNWIND_STRESS_WATCHDOG_S");
    if (wd && atof(wd) > 0)
        hs_bound_ns = (uint64_t)(atof(wd) * 1e9);
    if (c.threads < 1 || c.threads > 64) {
        fprintf(stderr, "unwind-stress: --threads must be 1..64\n");
        return 2;
    }
    if (!(c.duration > 0)) {
        fprintf(stderr, "unwind-stress: --duration must be > 0\n");
        return 2;
    }
    const struct hs_api *api = &hs_api_du;
    int throughput_ok = 1;
    if (c.variant) {
        if (duv_select(c.variant) != 0) {
            fprintf(stderr, "unwind-stress: unknown variant '%s' (see --list)\n", c.variant);
            return 2;
        }
        api = &hs_api_duv;
        if (strcmp(c.variant, "mutex-dispatch") != 0) {
            throughput_ok = 0;
            snprintf(hs_ratio_note, sizeof hs_ratio_note,
                     "skipped: the duv_ library runs variant %s, not mutex-dispatch", c.variant);
        }
    } else {
        /* The default run exercises the release du_ library; the duv_ library
         * only serves the mutex-dispatch side of scenario 16. */
        duv_select("mutex-dispatch");
    }
    if (c.nscenarios == 0) {
        if (c.variant && strcmp(c.variant, "none") != 0 && strcmp(c.variant, "mutex-dispatch") != 0)
            c.nscenarios = hs_variant_default(c.variant, c.scenarios);
        if (c.nscenarios == 0) {
            for (int i = 0; i < hs_nscenarios; i++)
                c.scenarios[i] = i;
            c.nscenarios = hs_nscenarios;
        }
    }
    /* Scenarios this build cannot run (printed with the reason). */
    int kept = 0;
    for (int i = 0; i < c.nscenarios; i++)
        if (!hs_lc_skipped(hs_scenarios[c.scenarios[i]].lifecycle))
            c.scenarios[kept++] = c.scenarios[i];
    if (kept == 0) {
        fprintf(stderr, "unwind-stress: no selected scenario can run in this build\n");
        return 2;
    }
    c.nscenarios = kept;
    if (hs_lc_prepare(c.scenarios, c.nscenarios) != 0)
        return 2;

    hs_nworkers = c.threads;
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1)
            ncpu = 1;
        hs_load_scale = (int)((c.threads + ncpu - 1) / ncpu) * hs_tsan_scale;
        if (hs_load_scale < 1)
            hs_load_scale = 1;
    }
    hs_workers = aligned_alloc(64, sizeof(struct hs_worker) * (size_t)hs_nworkers);
    if (!hs_workers) {
        fprintf(stderr, "unwind-stress: out of memory\n");
        return 2;
    }
    memset(hs_workers, 0, sizeof(struct hs_worker) * (size_t)hs_nworkers);
    for (int i = 0; i < hs_nworkers; i++)
        hs_workers[i].slot = i;
    hs_crash_install();
    int r = hs_install_handlers();
    if (r) {
        fprintf(stderr, "unwind-stress: sigaction: %s\n", strerror(-r));
        return 2;
    }
    /* Make the libraries create their thread-exit keys before ours, so our
     * destructor (liveness handshake) runs after their exit drain. */
    for (int i = 0; i < 2; i++) {
        const struct hs_api *a = i ? &hs_api_duv : &hs_api_du;
        r = a->attach();
        if (r != 0) {
            fprintf(stderr, "unwind-stress: %s_thread_attach failed (%d): is liburcu usable here?\n", a->name, r);
            return 2;
        }
        a->detach();
    }
    if (hs_make_exit_key() != 0) {
        fprintf(stderr, "unwind-stress: pthread_key_create failed\n");
        return 2;
    }
    hs_tty = isatty(STDOUT_FILENO);
    hs_t0 = hs_now_ns();
    pthread_t wdt;
    pthread_create(&wdt, NULL, hs_watchdog_main, NULL);

    if (hs_tty) {
        printf("unwind-stress: library %s%s, seed %llu, %d threads, %.0fs, %d scenario(s)%s\n",
               c.variant ? "duv_ variant " : "du_ (release)", c.variant ? c.variant : "",
               (unsigned long long)c.seed, c.threads, c.duration, c.nscenarios,
#ifdef HS_TSAN
               " [TSan]"
#else
               ""
#endif
        );
        fflush(stdout);
    }

    /* Slices: cycle through the scenarios, at most 5 s each. */
    double slice = c.duration / c.nscenarios;
    if (slice > 5.0)
        slice = 5.0;
    if (slice < 0.2)
        slice = 0.2;
    int occ[HS_MAX_SCENARIOS] = {0};
    double left = c.duration;
    for (int turn = 0; left > 1e-3; turn++) {
        int idx = turn % c.nscenarios;
        int s = c.scenarios[idx];
        double len = slice < left ? slice : left;
        if (hs_scenarios[s].throughput) {
            if (throughput_ok) {
                /* Same workload, half with the release (liburcu) library,
                 * half with the duv_ mutex-dispatch design. */
                struct hs_totals a0, a1, b0, b1;
                hs_phase_label = " [scenario 16, rcu half]";
                hs_sum(&a0);
                uint64_t ta = hs_now_ns();
                hs_run_slice(s, occ[s]++, len / 2, c.variant ? &hs_api_duv : &hs_api_du);
                double da = (double)(hs_now_ns() - ta) / 1e9;
                hs_sum(&a1);
                hs_phase_label = " [scenario 16, mutex half]";
                hs_sum(&b0);
                uint64_t tb = hs_now_ns();
                hs_run_slice(s, occ[s]++, len / 2, &hs_api_duv);
                double db = (double)(hs_now_ns() - tb) / 1e9;
                hs_sum(&b1);
                hs_phase_label = "";
                /* Accumulate over all turns. */
                static double sa, sb, ta_s, tb_s;
                sa += (double)(a1.cb - a0.cb);
                sb += (double)(b1.cb - b0.cb);
                ta_s += da;
                tb_s += db;
                hs_rcu_cbps = sa / ta_s;
                hs_mutex_cbps = sb / tb_s;
                hs_ratio = hs_mutex_cbps > 0 ? hs_rcu_cbps / hs_mutex_cbps : 0;
                hs_api = api;
            } else {
                hs_run_slice(s, occ[s]++, len, api);
            }
        } else {
            hs_run_slice(s, occ[s]++, len, api);
        }
        left -= len;
        if (c.nscenarios == 1 && left < 0.05)
            break;
    }
    atomic_store(&hs_wd_stop, 1);
    pthread_join(wdt, NULL);
    hs_status(1);

    hs_print_summary();
    hs_write_json("PASS");
    return 0;
}

