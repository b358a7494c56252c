/*
 * dus_bench.h - the shipped core compiled into the benchmark (dus_ prefix,
 * see dus_prefix.h): the timed counterpart of callgrind's count of the
 * shipped du_request, first in its context.
 */
#ifndef DUS_BENCH_H
#define DUS_BENCH_H
#include <stdint.h>
/* Once, on the thread that runs the kernel: attach it, register one tracer. */
void dus_setup(void);
/* n first requests, each followed by the white-box reset of the context. */
uint64_t k_request_first_dus(uint64_t n);
#endif
