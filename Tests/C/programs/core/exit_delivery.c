/* exit_delivery.c - accepted requests are delivered when the process exits
 * (exit() or return from main) on an attached thread, flagged
 * DU_TRACE_EXITING, exactly once.  Built and run by the Swift tests:
 *   exit_delivery exit|return
 * Prints one line per callback ("delivered <cookie> exiting=<0|1>") and, before
 * leaving, "requested <cookie>"; the test checks they match. */
#include <deferred_unwind.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static du_tracer *tracer;
static volatile sig_atomic_t handler_rc = -1;
static uint64_t handler_cookie;

static void on_stack(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)arg;
    /* stdio is fine here: thread context, inside the exit-time teardown,
     * before stdio is flushed and closed. */
    printf("delivered %llx exiting=%d\n", (unsigned long long)cookie,
           (trace->flags & DU_TRACE_EXITING) != 0);
    fflush(stdout);
}

static void on_sigprof(int sig)
{
    (void)sig;
    uint64_t c;
    handler_rc = du_request(tracer, &c);
    handler_cookie = c;
}

int main(int argc, char **argv)
{
    int use_exit = argc > 1 && strcmp(argv[1], "exit") == 0;
    if (du_thread_attach() != 0 || du_tracer_register(on_stack, NULL, "exit", &tracer) != 0)
        return 2;
    signal(SIGPROF, on_sigprof);
    raise(SIGPROF); /* accepted in the handler ... */
    uint64_t c;
    int rc = du_request(tracer, &c); /* ... and repeated from the thread: same context */
    if (handler_rc != 0 || rc != 1 || c != handler_cookie)
        return 3;
    printf("requested %llx\n", (unsigned long long)c);
    fflush(stdout);
    if (use_exit)
        exit(0);
    return 0; /* no detach, no safe point: the library delivers at exit */
}
