/* proxy_bench.h - frozen regions and proxy safe points, public API only. */
#ifndef PROXY_BENCH_H
#define PROXY_BENCH_H
/* Prints PROXY lines: enter+leave with no proxy; one serve of N frozen
 * threads (one unwind + one callback each); how long leave waits when a
 * proxy is serving the thread.  0 or 1 on a failed call. */
int proxy_bench_main(int rounds, int threads);
#endif
