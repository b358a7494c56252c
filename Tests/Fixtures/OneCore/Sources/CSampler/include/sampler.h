/* sampler.h - the fixture's C half: a SIGPROF handler that calls du_request
 * (the only thing a handler may call), and a fork check in C. */
#ifndef ONECORE_SAMPLER_H
#define ONECORE_SAMPLER_H

/* Registers a C tracer and installs the SIGPROF handler.  0 or -errno. */
int sampler_start(void);
/* raise(SIGPROF) on this (attached) thread, then du_safe_point(): the
 * handler's cookie must be delivered to the C tracer once.  0 or a
 * positive failure code. */
int sampler_sample_once(void);
/* Prints "object <path>" for every file mapped into the process (the test
 * counts the ones that define the core). */
void sampler_print_objects(void);
/* fork() while attached, with a request pending; the child samples, attaches
 * a new thread, registers and cancels a tracer, detaches, and exits 0.  The
 * parent waits up to bound_seconds.  Returns the child's exit status, 128+
 * signal, or -1 (fork failed) / -2 (still running at the bound: killed). */
int sampler_fork_check(unsigned bound_seconds);

#endif
