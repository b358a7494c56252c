/* test_support.h - C helpers the Swift tests cannot write themselves
 * (Glibc's Swift overlay does not export dladdr). */
#ifndef DU_TEST_SUPPORT_H
#define DU_TEST_SUPPORT_H
#include <stddef.h>
#include <stdint.h>
/* Symbol name containing `ip` ("" if unknown), copied into buf. */
void du_test_symbolize(uintptr_t ip, char *buf, size_t len);

typedef struct du_tracer du_tracer;

enum du_test_outcome {
    DU_TEST_QUEUED, DU_TEST_ALREADY, DU_TEST_NOT_ATTACHED, DU_TEST_EXITING,
    DU_TEST_CANCELLED, DU_TEST_OTHER, DU_TEST_ZERO_COOKIE, DU_TEST_ERRNO_SPOILED,
    /* Handler runs that began while another handler run was in progress on
     * the same thread (nested signals), and all handler runs. */
    DU_TEST_NESTED, DU_TEST_RUNS
};

/* Install a C handler on both signals (they may interrupt each other) that
 * calls du_request(tracer) and counts the outcome.  Nesting is not left to
 * timing alone: every 4th run of the sig1 handler raise()s sig2 on its own
 * thread just before its du_request (the sig2 handler then runs nested,
 * depth 2), every 4th plus 2 just after it.  Only one thread may receive
 * these signals (the nesting depth is one process-wide counter).
 * Returns 0 or -errno. */
int du_test_install_request_handlers(int sig1, int sig2, du_tracer *tracer);
/* How many handler runs had `outcome` since the install. */
unsigned long du_test_count(enum du_test_outcome outcome);
#endif
