/*
 * us_scenarios.c - the race catalogue of issue 3, one scenario each, as
 * knob settings of one workload.  Docs/Races.md explains every entry.
 * Periods are for a native build; under TSan they are multiplied (see
 * us_run.c) because TSan delivers signals only at its own safe points.
 */
#include "us_internal.h"

#pragma clang diagnostic ignored "-Winitializer-overrides"
#pragma GCC diagnostic ignored "-Woverride-init"

/* Defaults shared by all: a bit of everything. */
#define BASE                                                                            \
    .timer_us = 100, .inject_us = 200, .migrate_us = 2000, .reg_mode = REG_CHURN,        \
    .reg_us = 2000, .tracers = 8, .cb_sleep_pct = 2, .cb_yield_pct = 5, .cb_rereq_pct = 10, \
    .cb_deadlk_pct = 1, .cb_sleep_us = 300, .thread_reqs = 3, .ctx_sleep_pct = 2,          \
    .ctx_sleep_us = 200, .ctx_spin = 2000, .churn = 3000, .handler_reqs = 2

const struct us_scenario us_scenarios[] = {
    {BASE, .name = "wrap",
     .desc = "1: zero cookie on counter wrap: counters start 2^16 draws before the 32-bit wrap",
     .seed_wrap = 1, .timer_us = 40, .ctx_spin = 200, .reg_mode = REG_STATIC, .tracers = 4,
     .thread_reqs = 2, .churn = 0},
    {BASE, .name = "first-cookie",
     .desc = "2: first cookie of a context returned as 0: short contexts, first request from thread context",
     .timer_us = 200, .ctx_spin = 100, .reg_mode = REG_STATIC, .tracers = 4, .thread_reqs = 2,
     .churn = 0},
    {BASE, .name = "signal-in-cookie",
     .desc = "3: signals inside cookie assignment at every step: all requesters of a context agree",
     .timer_us = 15, .inject_us = 20, .hot_tracers = 2, .thread_reqs = 6, .ctx_spin = 300,
     .reg_mode = REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "migration",
     .desc = "4: CPU migration inside cookie assignment: agreement and global uniqueness",
     .migrate_us = 30, .timer_us = 30, .inject_us = 60, .thread_reqs = 6, .ctx_spin = 300,
     .reg_mode = REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "dispatch-requests",
     .desc = "5: requests made during dispatch (callbacks and signals) must not be lost",
     .timer_us = 20, .inject_us = 40, .cb_rereq_pct = 60, .cb_yield_pct = 20, .tracers = 8,
     .reg_mode = REG_STATIC, .thread_reqs = 3, .ctx_spin = 300, .churn = 0},
    {BASE, .name = "claim-race",
     .desc = "6: non-atomic claim of PENDING racing a handler: work queued twice",
     .hot_tracers = 1, .thread_reqs = 10, .timer_us = 10, .inject_us = 20, .handler_reqs = 2,
     .reg_mode = REG_STATIC, .tracers = 4, .ctx_spin = 100, .churn = 0},
    {BASE, .name = "reset-race",
     .desc = "7: signal during the reset at the safe point: a PENDING dropped",
     .timer_us = 10, .inject_us = 20, .thread_reqs = 1, .ctx_spin = 30, .hot_tracers = 2,
     .reg_mode = REG_STATIC, .tracers = 4, .churn = 0},
    {BASE, .name = "second-tracer",
     .desc = "8: another tracer requests after one tracer's callback ran: no duplicate callback",
     .tracers = 8, .cb_rereq_pct = 80, .timer_us = 30, .inject_us = 60, .reg_mode = REG_STATIC,
     .thread_reqs = 2, .ctx_spin = 200, .churn = 0},
    {BASE, .name = "livelock",
     .desc = "9: requests keep arriving during dispatch: the safe point still finishes",
     .cb_rereq_pct = 100, .timer_us = 10, .inject_us = 15, .tracers = 16, .reg_mode = REG_STATIC,
     .handler_reqs = 4, .churn = 0},
    {BASE, .name = "cancel-callback",
     .desc = "10: cancel while callbacks run, including sleeping ones: none runs after cancel returns",
     .cb_sleep_pct = 40, .cb_sleep_us = 600, .reg_mode = REG_CHURN, .reg_us = 100, .tracers = 6,
     .timer_us = 50, .thread_reqs = 4, .hot_tracers = 6},
    {BASE, .name = "bit-reuse",
     .desc = "11: bit reuse after cancel: stale requests never reach the bit's next owner",
     .reg_mode = REG_REUSE, .reg_us = 50, .tracers = 6, .ctx_sleep_pct = 40, .ctx_sleep_us = 400,
     .timer_us = 40, .thread_reqs = 4, .hot_tracers = 6},
    {BASE, .name = "request-cancel",
     .desc = "12: requests racing the cancel of the same tracer: statuses and callbacks agree",
     .reg_mode = REG_CHURN, .reg_us = 30, .tracers = 4, .timer_us = 20, .inject_us = 40,
     .handler_reqs = 3, .hot_tracers = 5},
    {BASE, .name = "thread-exit",
     .desc = "13: threads exit or detach with pending requests while signals still arrive",
     .churn = 15, .timer_us = 20, .inject_us = 30, .thread_reqs = 4, .ctx_spin = 500},
    {BASE, .name = "registry-full",
     .desc = "14: registry full under churn: EBUSY, never a duplicated bit",
     .reg_mode = REG_FULL, .reg_us = 20, .tracers = 61, .timer_us = 50, .handler_reqs = 3},
    {BASE, .name = "cancel-in-callback",
     .desc = "15: cancel, safe point and detach from inside a callback: -EDEADLK, not a hang",
     .cb_deadlk_pct = 60, .tracers = 8, .reg_mode = REG_CHURN, .reg_us = 500},
    {BASE, .name = "mutex-vs-rcu",
     .desc = "16: v13 mutex-protected dispatch vs the liburcu read side: throughput ratio, not a violation",
     .throughput = 1, .timer_us = 0, .inject_us = 0, .migrate_us = 0, .reg_mode = REG_STATIC,
     .tracers = 8, .cb_sleep_pct = 0, .cb_yield_pct = 0, .cb_rereq_pct = 0, .cb_deadlk_pct = 0,
     .thread_reqs = 4, .ctx_sleep_pct = 0, .ctx_spin = 0, .churn = 0},
};
const int us_nscenarios = (int)(sizeof(us_scenarios) / sizeof(us_scenarios[0]));
const struct us_scenario *us_cur = &us_scenarios[0];
