/*
 * us_run.c - the run: configuration, set-up, the slices of every selected
 * scenario (scenario 16 split in two halves), and the summary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "us_internal.h"

struct us_rec us_pool[US_POOL];
_Atomic uint64_t us_cancel_clock;
_Atomic int us_active[64];
struct us_worker *us_workers;
int us_nworkers;
_Atomic int us_stop;
_Atomic int us_violations;
_Atomic uint64_t us_total_cancels, us_total_registers, us_total_ebusy, us_total_spawns;

const struct us_config *us_cfg;
uint64_t us_t0;
int us_cur_index;
const char *us_phase_label = "";
_Atomic int us_reg_stop, us_aux_stop;
uint64_t us_bound_ns;
int us_tsan_scale = 1;
int us_load_scale = 1;
int us_tty;

int us_run(const struct us_config *cfg)
{
    static struct us_config c;
    c = *cfg;
    us_cfg = &c;
#ifdef US_TSAN
    us_tsan_scale = 4;
    us_bound_ns = 30ull * 1000000000ull;
#else
    us_bound_ns = 5ull * 1000000000ull;
#endif
    const char *wd = getenv("UNWIND_STRESS_WATCHDOG_S");
    if (wd && atof(wd) > 0)
        us_bound_ns = (uint64_t)(atof(wd) * 1e9);
    if (c.threads < 1 || c.threads > 64) {
        fprintf(stderr, "unwind-stress: --threads must be 1..64\n");
        return 2;
    }
    if (!(c.duration > 0)) {
        fprintf(stderr, "unwind-stress: --duration must be > 0\n");
        return 2;
    }
    const struct us_api *api = &us_api_du;
    int throughput_ok = 1;
    if (c.variant) {
        if (duv_select(c.variant) != 0) {
            fprintf(stderr, "unwind-stress: unknown variant '%s' (see --list)\n", c.variant);
            return 2;
        }
        api = &us_api_duv;
        if (strcmp(c.variant, "mutex-dispatch") != 0) {
            throughput_ok = 0;
            snprintf(us_ratio_note, sizeof us_ratio_note,
                     "skipped: the duv_ library runs variant %s, not mutex-dispatch", c.variant);
        }
    } else {
        /* The default run exercises the release du_ library; the duv_ library
         * only serves the mutex-dispatch side of scenario 16. */
        duv_select("mutex-dispatch");
    }
    if (c.nscenarios == 0) {
        if (c.variant && strcmp(c.variant, "none") != 0 && strcmp(c.variant, "mutex-dispatch") != 0)
            c.nscenarios = us_variant_default(c.variant, c.scenarios);
        if (c.nscenarios == 0) {
            for (int i = 0; i < us_nscenarios; i++)
                c.scenarios[i] = i;
            c.nscenarios = us_nscenarios;
        }
    }
    /* Scenarios this build cannot run (printed with the reason). */
    int kept = 0;
    for (int i = 0; i < c.nscenarios; i++)
        if (!us_lc_skipped(us_scenarios[c.scenarios[i]].lifecycle))
            c.scenarios[kept++] = c.scenarios[i];
    if (kept == 0) {
        fprintf(stderr, "unwind-stress: no selected scenario can run in this build\n");
        return 2;
    }
    c.nscenarios = kept;
    if (us_lc_prepare(c.scenarios, c.nscenarios) != 0)
        return 2;

    us_nworkers = c.threads;
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1)
            ncpu = 1;
        us_load_scale = (int)((c.threads + ncpu - 1) / ncpu) * us_tsan_scale;
        if (us_load_scale < 1)
            us_load_scale = 1;
    }
    us_workers = aligned_alloc(64, sizeof(struct us_worker) * (size_t)us_nworkers);
    if (!us_workers) {
        fprintf(stderr, "unwind-stress: out of memory\n");
        return 2;
    }
    memset(us_workers, 0, sizeof(struct us_worker) * (size_t)us_nworkers);
    for (int i = 0; i < us_nworkers; i++)
        us_workers[i].slot = i;
    us_crash_install();
    int r = us_install_handlers();
    if (r) {
        fprintf(stderr, "unwind-stress: sigaction: %s\n", strerror(-r));
        return 2;
    }
    /* Make the libraries create their thread-exit keys before ours, so our
     * destructor (liveness handshake) runs after their exit drain. */
    for (int i = 0; i < 2; i++) {
        const struct us_api *a = i ? &us_api_duv : &us_api_du;
        r = a->attach();
        if (r != 0) {
            fprintf(stderr, "unwind-stress: %s_thread_attach failed (%d): is liburcu usable here?\n", a->name, r);
            return 2;
        }
        a->detach();
    }
    if (us_make_exit_key() != 0) {
        fprintf(stderr, "unwind-stress: pthread_key_create failed\n");
        return 2;
    }
    us_tty = isatty(STDOUT_FILENO);
    us_t0 = us_now_ns();
    pthread_t wdt;
    pthread_create(&wdt, NULL, us_watchdog_main, NULL);

    if (us_tty) {
        printf("unwind-stress: library %s%s, seed %llu, %d threads, %.0fs, %d scenario(s)%s\n",
               c.variant ? "duv_ variant " : "du_ (release)", c.variant ? c.variant : "",
               (unsigned long long)c.seed, c.threads, c.duration, c.nscenarios,
#ifdef US_TSAN
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
    int occ[US_MAX_SCENARIOS] = {0};
    double left = c.duration;
    for (int turn = 0; left > 1e-3; turn++) {
        int idx = turn % c.nscenarios;
        int s = c.scenarios[idx];
        double len = slice < left ? slice : left;
        if (us_scenarios[s].throughput) {
            if (throughput_ok) {
                /* Same workload, half with the release (liburcu) library,
                 * half with the duv_ mutex-dispatch design. */
                struct us_totals a0, a1, b0, b1;
                us_phase_label = " [scenario 16, rcu half]";
                us_sum(&a0);
                uint64_t ta = us_now_ns();
                us_run_slice(s, occ[s]++, len / 2, c.variant ? &us_api_duv : &us_api_du);
                double da = (double)(us_now_ns() - ta) / 1e9;
                us_sum(&a1);
                us_phase_label = " [scenario 16, mutex half]";
                us_sum(&b0);
                uint64_t tb = us_now_ns();
                us_run_slice(s, occ[s]++, len / 2, &us_api_duv);
                double db = (double)(us_now_ns() - tb) / 1e9;
                us_sum(&b1);
                us_phase_label = "";
                /* Accumulate over all turns. */
                static double sa, sb, ta_s, tb_s;
                sa += (double)(a1.cb - a0.cb);
                sb += (double)(b1.cb - b0.cb);
                ta_s += da;
                tb_s += db;
                us_rcu_cbps = sa / ta_s;
                us_mutex_cbps = sb / tb_s;
                us_ratio = us_mutex_cbps > 0 ? us_rcu_cbps / us_mutex_cbps : 0;
                us_api = api;
            } else {
                us_run_slice(s, occ[s]++, len, api);
            }
        } else {
            us_run_slice(s, occ[s]++, len, api);
        }
        left -= len;
        if (c.nscenarios == 1 && left < 0.05)
            break;
    }
    atomic_store(&us_wd_stop, 1);
    pthread_join(wdt, NULL);
    us_status(1);

    us_print_summary();
    us_write_json("PASS");
    return 0;
}

