/*
 * bench_support.h - measured loops for the DeferredUnwind benchmark suite.
 *
 * Every kernel runs `n` operations in C and returns a checksum (so nothing is
 * optimised away).  Kernels that need an attached thread say so; the caller
 * attaches on the thread that runs them (package-benchmark owns its thread).
 * lib: 0 = du_ (the shipped CDeferredUnwind), 1 = duv_ (the variants build;
 * its variant is chosen once by bench_init()).
 */
#ifndef BENCH_SUPPORT_H
#define BENCH_SUPPORT_H
#include <stdint.h>

enum { BENCH_DU = 0, BENCH_DUV = 1 };

/* Once per process, before anything else: picks the duv_ variant. Returns
 * duv_select()'s result.  variant: e.g. "mutex-dispatch". */
int bench_init(const char *duv_variant);
const char *bench_duv_selected(void);

/* Tracers: register k (1..61) on lib with the counting callback, or with the
 * "work" callback (hash + copy of the trace into a per-thread ring buffer,
 * then `spin` rounds of dependent arithmetic).  Returns 0 or -errno. */
int bench_register(int lib, int k, int work, uint32_t spin);
void bench_unregister(int lib);

int bench_attach(int lib);
int bench_detach(int lib);

/* Context reset by hand (white box: the four words du_safe_point()'s reset
 * clears, without unwinding) so every request in k_request_first is the
 * first of its context.  duv_ only (the shipped library hides du_self). */
void bench_wb_reset(void);

/* (1) first request of a context + white-box reset; duv_, attached to duv_,
 * >= 1 duv_ tracer registered. */
uint64_t k_request_first(uint64_t n);
/* (1) shipped du_: first request + safe point (for callgrind's inclusive
 * count of du_request); du_, attached. */
uint64_t k_request_first_sp(uint64_t n);
/* (1) lower bound: sched_getcpu() + one 32-bit CAS + one 64-bit fetch-or,
 * in a noinline function, + its own two-word reset. */
uint64_t k_lower_bound(uint64_t n);
/* (2) repeat request; du_, attached. */
uint64_t k_request_repeat(uint64_t n);
/* (4) safe point with nothing pending; du_, attached. */
uint64_t k_safepoint_idle(uint64_t n);
/* (5) request k tracers then one safe point; du_, attached, >= k registered. */
uint64_t k_safepoint_k(uint64_t n, int k);
/* (5) baseline: k separate backtrace() calls at the depth du_unwind has. */
uint64_t k_backtrace_k(uint64_t n, int k);

/* (3) signals.  mode: 0 empty handler, 1 handler requests (repeat after the
 * first), 2 handler requests and the loop resets the context (white box) so
 * each is a first request, 3 empty handler + the same reset. du_, attached. */
int bench_signal_install(int mode);
uint64_t k_raise(uint64_t n, int reset);

/* (6) dispatch throughput.  Starts `threads` pthreads that attach to lib and
 * wait; mt_run releases them, each does `per_thread` dispatches (request
 * every registered tracer of lib, safe point), and returns when all are done;
 * mt_finish detaches and joins them.  Returns 0 or -errno. */
int mt_prepare(int lib, int threads, uint64_t per_thread);
uint64_t mt_run(void);
void mt_finish(void);

/* (7) idle attached helper threads for cancel latency. */
int idle_start(int lib, int threads);
void idle_stop(void);
/* One cancel of a freshly registered tracer on lib, timed alone.
 * Returns the cancel's duration in ns, or a negative errno. */
int64_t bench_cancel_once(int lib);
/* The same in three steps, so the suite times only the middle one. */
int bench_cancel_register(int lib);
int bench_cancel_run(int lib);
void bench_cancel_free(int lib);

/* (8) */
uint32_t bench_thread_footprint(void);
uint32_t bench_trace_cache_bytes(void);
uint32_t bench_trace_capacity(void);

uint64_t bench_now_ns(void);
uint64_t bench_callbacks(void); /* this thread's callback count */
#endif
