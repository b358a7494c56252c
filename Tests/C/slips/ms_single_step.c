/*
 * ms_single_step.c - a "signal" after every instruction of one du_request()
 * (model_slip_support.h).  The trap flag (EFLAGS.TF) makes the CPU trap
 * after each instruction; the kernel delivers SIGTRAP with TF cleared for
 * the handler and restores it at sigreturn, so the handler (and whatever
 * it injects) runs untraced, between two instructions of the traced code,
 * exactly like an asynchronous signal landing there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <urcu/urcu-bp.h> /* urcu_bp_read_ongoing */
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "model_slip_support.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MS_NO_STEP 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || !defined(__x86_64__)
#define MS_NO_STEP 1
#endif

int ms_single_step_supported(void)
{
#ifdef MS_NO_STEP
    return 0;
#else
    return 1;
#endif
}

#ifndef MS_NO_STEP
#define MS_TF 0x100L

/* One traced call at a time (the callers are serialised test suites). */
static volatile sig_atomic_t ms_tracing;
static volatile long ms_traps, ms_target;
static void (*volatile ms_inject)(struct ms_injection *);
static struct ms_injection *volatile ms_inj;

static void ms_on_trap(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    if (!ms_tracing) {
        uc->uc_mcontext.gregs[REG_EFL] &= ~MS_TF; /* done: stop stepping */
        return;
    }
    long n = ++ms_traps;
    if (n == ms_target && ms_inject && !ms_inj->fired) {
        ms_inj->fired = 1;
        ms_inject(ms_inj);
        /* One injection per run: the rest runs at full speed. */
        ms_tracing = 0;
        uc->uc_mcontext.gregs[REG_EFL] &= ~MS_TF;
    }
}

/* Start stepping the calling thread: after instruction number `target`
 * (1-based; 0 never) run inject(inj) from the SIGTRAP handler. */
static struct sigaction ms_old_action;
static sigset_t ms_saved_mask;

int ms_trace_start(long target, void (*inject)(struct ms_injection *), struct ms_injection *inj)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = ms_on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, &ms_old_action) != 0)
        return -1;
    sigset_t trap;
    sigemptyset(&trap);
    sigaddset(&trap, SIGTRAP);
    pthread_sigmask(SIG_UNBLOCK, &trap, &ms_saved_mask);
    ms_traps = 0;
    ms_target = target;
    ms_inject = inject;
    ms_inj = inj;
    ms_tracing = 1;
    __asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    return 0;
}

/* Stop stepping; returns the number of traps since the start. */
long ms_trace_stop(void)
{
    ms_tracing = 0;
    /* The next trap clears TF. */
    __asm__ volatile("nop\n\tnop" ::: "memory");
    long traps = ms_traps;
    ms_inject = NULL;
    ms_inj = NULL;
    pthread_sigmask(SIG_SETMASK, &ms_saved_mask, NULL);
    sigaction(SIGTRAP, &ms_old_action, NULL);
    return traps;
}

static long ms_traced(du_tracer *outer, uint64_t *cookie, int *status, long target,
                      void (*inject)(struct ms_injection *), struct ms_injection *inj)
{
    if (ms_trace_start(target, inject, inj) != 0)
        return -1;
    int rc = du_request(outer, cookie);
    long traps = ms_trace_stop();
    *status = rc;
    return traps;
}

/* ---- nested request ---------------------------------------------------- */
static void ms_nested(struct ms_injection *inj)
{
    uint64_t c = 0;
    inj->status = du_request(inj->tracer, &c);
    inj->cookie = c;
}

long ms_traced_request_nested(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              struct ms_injection *inj)
{
    return ms_traced(outer, cookie, status, target, ms_nested, inj);
}

/* ---- cancel on a helper thread ------------------------------------------ */
enum { MS_IDLE, MS_GO, MS_QUIET, MS_POLLING, MS_DONE };
static struct {
    pthread_t tid;
    int started;
    du_tracer *victim, *fresh;
    int rc;
    _Atomic int state;
} ms_helper;
static _Atomic unsigned long ms_fresh_count;

static void ms_fresh_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
    atomic_fetch_add(&ms_fresh_count, 1);
}

unsigned long ms_fresh_calls(void) { return atomic_exchange(&ms_fresh_count, 0); }

static void ms_helper_hook(enum du_step step, void *arg)
{
    (void)arg;
    int from = MS_GO;
    if (step == DU_STEP_CANCEL_REQUESTS_QUIET) {
        atomic_compare_exchange_strong(&ms_helper.state, &from, MS_QUIET);
    } else if (step == DU_STEP_CANCEL_WAIT_POLL) {
        /* A wait found a busy thread: the traced thread, inside its request
         * (request wait) or its callback of the victim (callback wait). */
        if (!atomic_compare_exchange_strong(&ms_helper.state, &from, MS_POLLING)) {
            from = MS_QUIET;
            atomic_compare_exchange_strong(&ms_helper.state, &from, MS_POLLING);
        }
    }
}

/* The victim: a C callback (the traced dispatch calls it) that counts, and
 * counts the calls that began after the victim's cancel had returned. */
static _Atomic unsigned long ms_victim_count, ms_victim_late;

static void ms_victim_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
    atomic_fetch_add(&ms_victim_count, 1);
    if (atomic_load(&ms_helper.state) == MS_DONE)
        atomic_fetch_add(&ms_victim_late, 1);
}

int ms_register_victim(du_tracer **out) { return du_tracer_register(ms_victim_cb, NULL, "ms-victim", out); }

void ms_victim_calls(unsigned long *calls, unsigned long *late)
{
    *calls = atomic_exchange(&ms_victim_count, 0);
    *late = atomic_exchange(&ms_victim_late, 0);
}

static int ms_sleep_poll(_Atomic int *v, int unwanted, int seconds)
{
    /* nanosleep is async-signal-safe; bounded so a hang is a failure. */
    struct timespec ts = {0, 50 * 1000};
    long rounds = (long)seconds * 20000;
    for (long i = 0; i < rounds; i++) {
        if (atomic_load(v) != unwanted)
            return 0;
        if (i < 1000)
            sched_yield();
        else
            nanosleep(&ts, NULL);
    }
    return -1;
}

static void *ms_helper_main(void *arg)
{
    (void)arg;
    if (ms_sleep_poll(&ms_helper.state, MS_IDLE, 30) != 0) {
        ms_helper.rc = -ETIMEDOUT;
        atomic_store(&ms_helper.state, MS_DONE);
        return NULL;
    }
    du_debug_set_step_hook(ms_helper_hook, NULL);
    int rc = du_tracer_cancel(ms_helper.victim);
    du_debug_set_step_hook(NULL, NULL);
    du_tracer *fresh = NULL;
    if (du_tracer_register(ms_fresh_cb, NULL, "ms-fresh", &fresh) == 0)
        ms_helper.fresh = fresh;
    ms_helper.rc = rc;
    atomic_store(&ms_helper.state, MS_DONE);
    return NULL;
}

/* In the SIGTRAP handler: start the cancel and wait until it returned, or
 * waits for this thread: polls it (request or callback wait), or is past
 * its request wait while this thread is inside a read-side section (the
 * grace period waits for it). */
static void ms_cancel_inject(struct ms_injection *inj)
{
    atomic_store(&ms_helper.state, MS_GO);
    struct timespec ts = {0, 50 * 1000};
    for (long i = 0; i < 30L * 20000; i++) {
        int s = atomic_load(&ms_helper.state);
        if (s == MS_DONE) {
            inj->cancel_state = 1;
            return;
        }
        if (s == MS_POLLING) {
            inj->cancel_state = 2;
            return;
        }
        if (s == MS_QUIET && urcu_bp_read_ongoing()) {
            inj->cancel_state = 3;
            return;
        }
        if (i < 1000)
            sched_yield();
        else
            nanosleep(&ts, NULL);
    }
    inj->cancel_state = -1;
}

static int ms_helper_start(du_tracer *victim)
{
    ms_helper.victim = victim;
    ms_helper.fresh = NULL;
    ms_helper.rc = 0;
    atomic_store(&ms_helper.state, MS_IDLE);
    if (pthread_create(&ms_helper.tid, NULL, ms_helper_main, NULL) != 0)
        return -1;
    ms_helper.started = 1;
    return 0;
}

/* The dispatch stepped from its unwind (done) to its first callback's return. */
static struct {
    long target, traps;
    int tracing;
    struct ms_injection *inj;
} ms_disp;

static void ms_dispatch_hook(enum du_step step, void *arg)
{
    (void)arg;
    if (step == DU_STEP_DISPATCH_UNWOUND && ms_disp.tracing == 0) {
        ms_disp.tracing = 1;
        ms_trace_start(ms_disp.target, ms_cancel_inject, ms_disp.inj);
    } else if (step == DU_STEP_DISPATCH_RETURNED && ms_disp.tracing == 1) {
        ms_disp.traps = ms_trace_stop();
        ms_disp.tracing = 2;
    }
}

long ms_traced_dispatch_cancel(du_tracer *victim, long target, struct ms_injection *inj)
{
    if (ms_helper_start(victim) != 0)
        return -1;
    ms_disp.target = target;
    ms_disp.traps = 0;
    ms_disp.tracing = 0;
    ms_disp.inj = inj;
    du_debug_set_step_hook(ms_dispatch_hook, NULL);
    du_safe_point();
    du_debug_set_step_hook(NULL, NULL);
    if (ms_disp.tracing == 1) /* no callback returned (the cancel won): stop here */
        ms_disp.traps = ms_trace_stop();
    int idle = MS_IDLE;
    atomic_compare_exchange_strong(&ms_helper.state, &idle, MS_GO);
    return ms_disp.traps;
}

long ms_traced_request_cancel(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              du_tracer *victim, struct ms_injection *inj)
{
    if (ms_helper_start(victim) != 0)
        return -1;
    long traps = ms_traced(outer, cookie, status, target, ms_cancel_inject, inj);
    /* Not injected (target past the end): run the cancel now. */
    int idle = MS_IDLE;
    atomic_compare_exchange_strong(&ms_helper.state, &idle, MS_GO);
    return traps;
}

int ms_cancel_finish(du_tracer **fresh)
{
    *fresh = NULL;
    if (!ms_helper.started)
        return -EINVAL;
    int idle = MS_IDLE;
    atomic_compare_exchange_strong(&ms_helper.state, &idle, MS_GO);
    _Atomic int *st = &ms_helper.state;
    for (int i = 0; i < 30 * 1000 && atomic_load(st) != MS_DONE; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(st) != MS_DONE)
        return -ETIMEDOUT; /* the helper is left running: the test fails */
    pthread_join(ms_helper.tid, NULL);
    ms_helper.started = 0;
    *fresh = ms_helper.fresh;
    return ms_helper.rc;
}

#else /* MS_NO_STEP */
long ms_traced_request_nested(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              struct ms_injection *inj)
{
    (void)outer; (void)cookie; (void)status; (void)target; (void)inj;
    return -1;
}
long ms_traced_request_cancel(du_tracer *outer, uint64_t *cookie, int *status, long target,
                              du_tracer *victim, struct ms_injection *inj)
{
    (void)outer; (void)cookie; (void)status; (void)target; (void)victim; (void)inj;
    return -1;
}
int ms_cancel_finish(du_tracer **fresh) { *fresh = NULL; return -ENOSYS; }
int ms_trace_start(long target, void (*inject)(struct ms_injection *), struct ms_injection *inj)
{
    (void)target; (void)inject; (void)inj;
    return -1;
}
long ms_trace_stop(void) { return -1; }
int ms_register_victim(du_tracer **out) { *out = NULL; return -ENOSYS; }
void ms_victim_calls(unsigned long *calls, unsigned long *late) { *calls = 0; *late = 0; }
long ms_traced_dispatch_cancel(du_tracer *victim, long target, struct ms_injection *inj)
{
    (void)victim; (void)target; (void)inj;
    return -1;
}
unsigned long ms_fresh_calls(void) { return 0; }
#endif
