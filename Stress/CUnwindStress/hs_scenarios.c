/*
 * hs_scenarios.c - the race catalogue of issue 3, one scenario each, as
 * knob settings of one workload.  Docs/Races.md explains every entry.
 * Periods are for a native build; under TSan they are multiplied (see
 * hs_run.c) because TSan delivers signals only at its own safe points.
 */
#include <string.h>
#include <stdio.h>

#include "hs_internal.h"

#pragma clang diagnostic ignored "-Winitializer-overrides"
#pragma GCC diagnostic ignored "-Woverride-init"

/* Defaults shared by all: a bit of everything. */
#define BASE                                                                            \
    .timer_us = 100, .inject_us = 200, .migrate_us = 2000, .reg_mode = HS_REG_CHURN,        \
    .reg_us = 2000, .tracers = 8, .cb_sleep_pct = 2, .cb_yield_pct = 5, .cb_rereq_pct = 10, \
    .cb_deadlk_pct = 1, .cb_sleep_us = 300, .thread_reqs = 3, .ctx_sleep_pct = 2,          \
    .ctx_sleep_us = 200, .ctx_spin = 2000, .churn = 3000, .handler_reqs = 2

const struct hs_scenario hs_scenarios[] = {
    {BASE, .name = "wrap",
     .desc = "1: zero cookie on counter wrap: counters start 2^16 draws before the 32-bit wrap",
     .seed_wrap = 1, .timer_us = 40, .ctx_spin = 200, .reg_mode = HS_REG_STATIC, .tracers = 4,
     .thread_reqs = 2, .churn = 0},
    {BASE, .name = "first-cookie",
     .desc = "2: first cookie of a context returned as 0: short contexts, first request from thread context",
     .timer_us = 200, .ctx_spin = 100, .reg_mode = HS_REG_STATIC, .tracers = 4, .thread_reqs = 2,
     .churn = 0},
    {BASE, .name = "signal-in-cookie",
     .desc = "3: signals inside cookie assignment at every step: all requesters of a context agree",
     .timer_us = 15, .inject_us = 20, .hot_tracers = 2, .thread_reqs = 6, .ctx_spin = 300,
     .reg_mode = HS_REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "migration",
     .desc = "4: CPU migration inside cookie assignment: agreement and global uniqueness",
     .migrate_us = 30, .timer_us = 30, .inject_us = 60, .thread_reqs = 6, .ctx_spin = 300,
     .reg_mode = HS_REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "dispatch-requests",
     .desc = "5: requests made during dispatch (callbacks and signals) must not be lost",
     .timer_us = 20, .inject_us = 40, .cb_rereq_pct = 60, .cb_yield_pct = 20, .tracers = 8,
     .reg_mode = HS_REG_STATIC, .thread_reqs = 3, .ctx_spin = 300, .churn = 0},
    {BASE, .name = "claim-race",
     .desc = "6: non-atomic claim of PENDING racing a handler: work queued twice",
     .hot_tracers = 1, .thread_reqs = 10, .timer_us = 10, .inject_us = 20, .handler_reqs = 2,
     .reg_mode = HS_REG_STATIC, .tracers = 4, .ctx_spin = 100, .churn = 0},
    {BASE, .name = "reset-race",
     .desc = "7: signal during the reset at the safe point: a PENDING dropped",
     .timer_us = 10, .inject_us = 20, .thread_reqs = 1, .ctx_spin = 30, .hot_tracers = 2,
     .reg_mode = HS_REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "second-tracer",
     .desc = "8: another tracer requests after one tracer's callback ran: no duplicate callback",
     .tracers = 8, .cb_rereq_pct = 80, .timer_us = 30, .inject_us = 60, .reg_mode = HS_REG_STATIC,
     .thread_reqs = 2, .ctx_spin = 200, .churn = 0},
    {BASE, .name = "livelock",
     .desc = "9: requests keep arriving during dispatch: the safe point still finishes",
     .cb_rereq_pct = 100, .timer_us = 10, .inject_us = 15, .tracers = 16, .reg_mode = HS_REG_STATIC,
     .handler_reqs = 4, .churn = 0},
    {BASE, .name = "cancel-callback",
     .desc = "10: cancel while callbacks run, including sleeping ones: none runs after cancel returns",
     .cb_sleep_pct = 40, .cb_sleep_us = 600, .reg_mode = HS_REG_CHURN, .reg_us = 100, .tracers = 6,
     .timer_us = 50, .thread_reqs = 4, .hot_tracers = 6},
    {BASE, .name = "bit-reuse",
     .desc = "11: bit reuse after cancel: stale requests never reach the bit's next owner",
     .reg_mode = HS_REG_REUSE, .reg_us = 50, .tracers = 6, .ctx_sleep_pct = 40, .ctx_sleep_us = 400,
     .timer_us = 40, .thread_reqs = 4, .hot_tracers = 6},
    {BASE, .name = "request-cancel",
     .desc = "12: requests racing the cancel of the same tracer: statuses and callbacks agree",
     .reg_mode = HS_REG_CHURN, .reg_us = 30, .tracers = 4, .timer_us = 20, .inject_us = 40,
     .handler_reqs = 3, .hot_tracers = 5},
    {BASE, .name = "thread-exit",
     .desc = "13: threads exit or detach with pending requests while signals still arrive",
     .churn = 15, .timer_us = 20, .inject_us = 30, .thread_reqs = 4, .ctx_spin = 500},
    {BASE, .name = "registry-full",
     .desc = "14: registry full under churn: EBUSY, never a duplicated bit",
     .reg_mode = HS_REG_FULL, .reg_us = 20, .tracers = 61, .timer_us = 50, .handler_reqs = 3},
    {BASE, .name = "cancel-in-callback",
     .desc = "15: cancel, safe point and detach from inside a callback: -EDEADLK, not a hang",
     .cb_deadlk_pct = 60, .tracers = 8, .reg_mode = HS_REG_CHURN, .reg_us = 500},
    {BASE, .name = "mutex-vs-rcu",
     .desc = "16: v13 mutex-protected dispatch vs the liburcu read side: throughput ratio, not a violation",
     .throughput = 1, .timer_us = 0, .inject_us = 0, .migrate_us = 0, .reg_mode = HS_REG_STATIC,
     .tracers = 8, .cb_sleep_pct = 0, .cb_yield_pct = 0, .cb_rereq_pct = 0, .cb_deadlk_pct = 0,
     .thread_reqs = 4, .ctx_sleep_pct = 0, .ctx_spin = 0, .churn = 0},
    /* The lifecycle scenarios (hs_lifecycle.h; Docs/Races.md, "The lifecycle"). */
    {BASE, .name = "fork-storm",
     .desc = "a: workers (requests pending) and the registrar fork mid-run: each child uses the library at once, "
             "nothing delivered twice across fork",
     .lifecycle = LC_FORK, .fork_every = 3000, .reg_mode = HS_REG_CHURN, .reg_us = 300, .tracers = 6,
     .cb_sleep_pct = 10, .churn = 0},
    {BASE, .name = "exit-pending",
     .desc = "b: children request (handler, thread) then exit()/return from main: each accepted request delivered "
             "once, flagged DU_TRACE_EXITING",
     .lifecycle = LC_EXIT, .lc_threads = 1, .lc_us = 200},
    {BASE, .name = "dlopen-cycle",
     .desc = "c: an exec'ed child dlopen/dlclose-cycles libCDeferredUnwindShared.so, threads exit attached: no crash",
     .lifecycle = LC_DLOPEN, .lc_threads = 1, .lc_us = 200},
    {BASE, .name = "longjmp-request",
     .desc = "d: handlers siglongjmp out of du_request: no wedge, exactly once for requests that returned, "
             "counter repaired at the safe point",
     .lifecycle = LC_LONGJMP, .lc_threads = 1, .lc_us = 100, .reg_mode = HS_REG_CHURN, .reg_us = 300,
     .tracers = 6, .hot_tracers = 6, .churn = 300},
    {BASE, .name = "tracer-churn",
     .desc = "e: register/cancel/destroy from several threads and callbacks, several on the same tracer: "
             "documented codes, no hang, no stale delivery",
     .lifecycle = LC_CHURN, .lc_threads = 3, .lc_us = 60, .reg_mode = HS_REG_STATIC, .tracers = 4,
     .hot_tracers = 40, .cb_rereq_pct = 20, .churn = 0},
    {BASE, .name = "held-request",
     .desc = "22: a requester held inside du_request (its handler parks) while other threads request and "
             "cancels look: cancel never returns before a request that read its tracer live",
     .park_us = 5000, .reg_mode = HS_REG_CHURN, .reg_us = 30, .tracers = 4, .hot_tracers = 5, .timer_us = 20,
     .inject_us = 40, .thread_reqs = 8, .ctx_spin = 50, .handler_reqs = 2},
    {BASE, .name = "cancel-record-lag",
     .desc = "23: contexts held open across thousands of registrations (registry full): a cancelled "
             "tracer's cancel stays known to the checker",
     .reg_mode = HS_REG_FULL, .reg_us = 20, .tracers = 61, .timer_us = 50, .handler_reqs = 3,
     .hold_regs = 3000, .hold_every = 200},
    /* Frozen regions and proxy safe points (hs_proxy.c).  Reached by name only:
     * the numbers name the catalogue 1-23. */
    {BASE, .name = "proxy",
     .desc = "f: workers block in frozen regions (handlers request, some call the safe point there) while "
             "proxy threads run their callbacks and tracers are cancelled: exactly once, proxy traces start in "
             "the region's frame, leave waits for the proxy",
     .lifecycle = LC_PROXY, .lc_threads = 2, .lc_us = 50, .reg_mode = HS_REG_CHURN, .reg_us = 200,
     .tracers = 6, .hot_tracers = 8, .timer_us = 60, .inject_us = 150, .thread_reqs = 2, .handler_reqs = 2,
     .cb_sleep_pct = 30, .cb_sleep_us = 300, .cb_yield_pct = 20, .cb_rereq_pct = 10, .cb_deadlk_pct = 5,
     .ctx_spin = 200, .ctx_sleep_pct = 0, .churn = 400, .park_us = 300},
};
const int hs_nscenarios = (int)(sizeof(hs_scenarios) / sizeof(hs_scenarios[0]));
const struct hs_scenario *hs_cur = &hs_scenarios[0];

/* ---- listing and variants ------------------------------------------------------- */
/* Scenarios reached by number too (--scenario 1..23): the catalogue of issue
 * 3 and its lifecycle additions; later ones by name only. */
#define HS_NUMBERED 23
int hs_scenario_count(void) { return hs_nscenarios; }
int hs_scenario_numbered(void) { return HS_NUMBERED < hs_nscenarios ? HS_NUMBERED : hs_nscenarios; }
const char *hs_scenario_name(int i) { return i >= 0 && i < hs_nscenarios ? hs_scenarios[i].name : NULL; }
const char *hs_scenario_desc(int i) { return i >= 0 && i < hs_nscenarios ? hs_scenarios[i].desc : NULL; }
int hs_scenario_find(const char *name)
{
    for (int i = 0; i < hs_nscenarios; i++) {
        char num[8];
        snprintf(num, sizeof num, "%d", i + 1);
        if (strcmp(name, hs_scenarios[i].name) == 0 || (i < HS_NUMBERED && strcmp(name, num) == 0))
            return i;
    }
    return -1;
}

const char *const *hs_variant_names(void) { return duv_variant_names(); }

/* From the one list of variants (duv_variant_list.h). */
#define HS_VINFO_(id, name, desc, s1, s2) {name, desc, {s1, s2, NULL}},
static const struct {
    const char *name, *desc, *scen[3];
} hs_vinfo[] = {
    DUV_VARIANT_LIST(HS_VINFO_)
};
#undef HS_VINFO_

const char *hs_variant_desc(const char *name)
{
    for (size_t i = 0; i < sizeof hs_vinfo / sizeof hs_vinfo[0]; i++)
        if (strcmp(hs_vinfo[i].name, name) == 0)
            return hs_vinfo[i].desc;
    return "";
}

int hs_variant_valid(const char *name)
{
    for (const char *const *p = duv_variant_names(); *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

int hs_variant_default(const char *variant, int *out)
{
    for (size_t i = 0; i < sizeof hs_vinfo / sizeof hs_vinfo[0]; i++) {
        if (strcmp(hs_vinfo[i].name, variant) != 0)
            continue;
        int n = 0;
        for (int k = 0; k < 3 && hs_vinfo[i].scen[k]; k++)
            out[n++] = hs_scenario_find(hs_vinfo[i].scen[k]);
        return n;
    }
    return 0;
}
