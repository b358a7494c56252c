/* A C tracer: a SIGPROF handler requests the stack (async-signal-safe), the
 * thread delivers it at its next safe point.  Build and run, with the
 * library installed into <prefix> (Scripts/c-library.sh: .build-c/prefix):
 *   export PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
 *   cc example.c $(pkg-config --cflags --libs deferred_unwind)
 *   LD_LIBRARY_PATH=<prefix>/lib ./a.out
 */
#include <deferred_unwind.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the handler's 64-bit store must be lock-free");

static du_tracer *profiler;                  /* set before the handler is installed */
static _Atomic uint64_t sampled_cookie;      /* written by the handler (lock-free) */
static volatile sig_atomic_t sample_status;  /* du_request()'s return value */

static uint64_t delivered_cookie;            /* written by the callback (thread context) */
static uint32_t delivered_frames;

static void on_sigprof(int sig)
{
    (void)sig;
    uint64_t cookie;
    /* The only call made here: async-signal-safe, lock-free, keeps errno. */
    int ret = du_request(profiler, &cookie);
    atomic_store_explicit(&sampled_cookie, cookie, memory_order_relaxed);
    sample_status = ret;
}

static void on_stack(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)arg;
    /* Thread context, inside du_safe_point(): may allocate, print, block. */
    delivered_cookie = cookie;
    delivered_frames = trace->nr;
}

static int fail(const char *what)
{
    fprintf(stderr, "example: %s failed\n", what);
    return 1;
}

int main(void)
{
    if (du_thread_attach() != 0)
        return fail("du_thread_attach");
    if (du_tracer_register(on_stack, NULL, "c-example", &profiler) != 0)
        return fail("du_tracer_register");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigprof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, NULL) != 0)
        return fail("sigaction");

    for (int i = 0; i < 3; i++) {
        sample_status = -1;
        if (raise(SIGPROF) != 0) /* the profiler's tick, on this thread */
            return fail("raise");
        uint64_t cookie = atomic_load_explicit(&sampled_cookie, memory_order_relaxed);
        if (sample_status != 0 || cookie == DU_COOKIE_NONE)
            return fail("du_request in the handler");
        if (du_safe_point() != 1) /* unwinds once, calls on_stack */
            return fail("du_safe_point");
        if (delivered_cookie != cookie || delivered_frames == 0)
            return fail("delivery");
        printf("cookie t%u:%08x frames %u\n", du_cookie_thread_half(cookie),
               du_cookie_context_half(cookie), delivered_frames);
    }

    /* No more ticks before the tracer goes away, then cancel and free it. */
    signal(SIGPROF, SIG_IGN);
    if (du_tracer_destroy(profiler) != 0)
        return fail("du_tracer_destroy");
    if (du_thread_detach() != 0)
        return fail("du_thread_detach");
    return 0;
}
