/*
 * hs_json.c - the --json report: counts per scenario, throughput, the first
 * violation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_internal.h"

static void hs_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void hs_write_json(const char *result)
{
    if (!hs_cfg || !hs_cfg->json_path)
        return;
    FILE *f = fopen(hs_cfg->json_path, "w");
    if (!f) {
        fprintf(stderr, "unwind-stress: cannot write %s: %s\n", hs_cfg->json_path, strerror(errno));
        return;
    }
    struct hs_totals t;
    hs_sum(&t);
    double el = hs_elapsed();
    fprintf(f, "{\n  \"tool\": \"unwind-stress\",\n  \"library\": ");
    hs_json_str(f, hs_cfg->variant ? "duv" : "du");
    fprintf(f, ",\n  \"variant\": ");
    hs_json_str(f, hs_cfg->variant ? hs_cfg->variant : "none");
    fprintf(f, ",\n  \"seed\": %llu,\n  \"threads\": %d,\n  \"duration\": %.3f,\n  \"elapsed\": %.3f,\n",
            (unsigned long long)hs_cfg->seed, hs_cfg->threads, hs_cfg->duration, el);
    fprintf(f, "  \"result\": \"%s\",\n", result);
    fprintf(f, "  \"throughput\": {\"requests_per_s\": %.0f, \"contexts_per_s\": %.0f, \"signals_per_s\": %.0f, "
               "\"callbacks_per_s\": %.0f",
            t.req / el, t.ctx / el, t.sig / el, t.cb / el);
    if (hs_ratio >= 0)
        fprintf(f, ", \"rcu_callbacks_per_s\": %.0f, \"mutex_callbacks_per_s\": %.0f, \"rcu_over_mutex\": %.3f",
                hs_rcu_cbps, hs_mutex_cbps, hs_ratio);
    fprintf(f, "},\n  \"scenarios\": [\n");
    int firstp = 1;
    for (int i = 0; i < hs_nscenarios; i++) {
        struct hs_sstat *s = &hs_sstats[i];
        if (!s->slices)
            continue;
        fprintf(f, "%s    {\"name\": \"%s\", \"slices\": %d, \"seconds\": %.3f, \"contexts\": %llu, \"requests\": %llu, "
                   "\"accepted\": %llu, \"signals\": %llu, \"nested_signals\": %llu, \"callbacks\": %llu, "
                   "\"exiting_callbacks\": %llu, \"cancels\": %llu, \"registers\": %llu, \"ebusy\": %llu, "
                   "\"thread_spawns\": %llu, \"thread_exits\": %llu, \"deadlk_checks\": %llu, \"skipped_requests\": %llu",
                firstp ? "" : ",\n", hs_scenarios[i].name, s->slices, s->seconds,
                (unsigned long long)s->t.ctx, (unsigned long long)s->t.req, (unsigned long long)s->t.acc,
                (unsigned long long)s->t.sig, (unsigned long long)s->t.nested, (unsigned long long)s->t.cb,
                (unsigned long long)s->t.exiting_cb, (unsigned long long)s->t.cancels,
                (unsigned long long)s->t.registers, (unsigned long long)s->t.ebusy,
                (unsigned long long)s->t.spawns, (unsigned long long)s->t.exits,
                (unsigned long long)s->t.deadlk, (unsigned long long)s->t.skip);
        if (hs_scenarios[i].lifecycle) {
            static const char *k[LCC_N] = {"forks", "children_ok", "child_callbacks", "exit_callbacks",
                                           "dlopen_cycles", "landings", "repairs", "churn_calls",
                                           "same_tracer_calls", "callback_calls", "reused_mid_cancel", "regions",
                                           "proxied", "leave_waits", "region_safe_points"};
            for (int j = 0; j < LCC_N; j++)
                if (s->t.lc[j])
                    fprintf(f, ", \"%s\": %llu", k[j], (unsigned long long)s->t.lc[j]);
        }
        if (hs_scenarios[i].throughput) {
            if (hs_ratio >= 0)
                fprintf(f, ", \"rcu_over_mutex\": %.3f", hs_ratio);
            else
                fprintf(f, ", \"note\": \"%s\"", hs_ratio_note);
        }
        fprintf(f, "}");
        firstp = 0;
    }
    fprintf(f, "\n  ],\n  \"violations\": [");
    if (hs_first_violation[0]) {
        fprintf(f, "\n    ");
        hs_json_str(f, hs_first_violation);
        fprintf(f, "\n  ");
    }
    fprintf(f, "]\n}\n");
    fclose(f);
}
