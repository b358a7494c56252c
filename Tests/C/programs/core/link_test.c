/*
 * link_test.c - a small C tracer built against the installed library alone:
 *   cc -std=gnu11 link_test.c $(pkg-config --cflags --libs deferred_unwind)
 *
 * It checks what a C user of libdeferred_unwind.so relies on, through the
 * public header only (the core's races are the stress harness's job):
 *  - samples from a real profiling timer (setitimer(ITIMER_PROF)) whose
 *    SIGPROF handler runs on a small alternate stack and calls du_request(),
 *    with errno preserved;
 *  - delivery at the safe point: one callback per context, the handler's
 *    cookie, a non-empty trace;
 *  - a second thread that attaches, requests and returns without detaching:
 *    the library's pthread key destructor delivers an empty trace flagged
 *    DU_TRACE_EXITING on that thread;
 *  - fork while another attached thread is inside a callback (an RCU
 *    read-side section): the child (one thread) still requests, delivers,
 *    registers and cancels (cancel waits for RCU grace periods, which would
 *    hang if the child still counted the vanished thread as a reader), then
 *    detaches.
 * Prints one line per check passed; exits 0 only if all passed.
 */
#include <deferred_unwind.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the handler's 64-bit store must be lock-free");

#define SAMPLES 3
#define ERRNO_MARK 4242 /* not a real errno: the handler checks it survives */

static du_tracer *profiler;                /* set before the timer starts */
static _Atomic uint64_t sampled_cookie;    /* handler: this context's cookie */
static _Atomic int ticks;                  /* handler: successful requests */
static _Atomic int handler_error;          /* handler: first failure, 0 if none */

/* Written by the callback in thread context; read after the safe point or
 * pthread_join(), which order them. */
static int callbacks;
static uint64_t delivered_cookie;
static uint32_t delivered_nr;
static uint32_t delivered_flags;

/* A profiler's alternate stack: small, so that a handler that needed the
 * dynamic linker (lazy binding) or deep library code would show it. */
static char altstack[16384];

static void on_sigprof(int sig)
{
    (void)sig;
    int saved = errno;
    uint64_t cookie;

    errno = ERRNO_MARK;
    int ret = du_request(profiler, &cookie);
    if (errno != ERRNO_MARK)
        atomic_store_explicit(&handler_error, -1000, memory_order_relaxed);
    else if (ret < 0)
        atomic_store_explicit(&handler_error, ret, memory_order_relaxed);
    else {
        /* 0 or 1: both carry this context's cookie. */
        atomic_store_explicit(&sampled_cookie, cookie, memory_order_relaxed);
        atomic_fetch_add_explicit(&ticks, 1, memory_order_relaxed);
    }
    errno = saved;
}

static void on_stack(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)arg;
    callbacks++;
    delivered_cookie = cookie;
    delivered_nr = trace->nr;
    delivered_flags = trace->flags;
}

static int fail(const char *what, long got)
{
    fprintf(stderr, "link_test: FAIL %s (got %ld)\n", what, got);
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int set_timer(long usec)
{
    struct itimerval it = { .it_interval = { 0, usec }, .it_value = { 0, usec } };
    return setitimer(ITIMER_PROF, &it, NULL);
}

/* A valid cookie: both halves non-zero, counter half odd (header). */
static int cookie_ok(uint64_t c)
{
    return du_cookie_thread_half(c) != 0 && (du_cookie_context_half(c) & 1) == 1;
}

/*
 * Take SAMPLES samples from the profiling timer.  SIGPROF is blocked around
 * each safe point so the cookie read before it is the one delivered: a tick
 * during the safe point would open the next context early.  A tick that
 * arrives while blocked is delivered at the unblock and starts the next
 * sample, as a real profiler's would.
 */
static int sample_with_timer(void)
{
    sigset_t prof;
    uint64_t seen[SAMPLES];

    sigemptyset(&prof);
    sigaddset(&prof, SIGPROF);
    atomic_store(&ticks, 0);
    if (set_timer(1000) != 0)
        return fail("setitimer", errno);
    for (int i = 0; i < SAMPLES; i++) {
        double deadline = now() + 10;
        volatile unsigned long spin = 0;

        /* ITIMER_PROF counts CPU time: burn some until a tick lands. */
        while (atomic_load(&ticks) == 0) {
            spin++;
            if ((spin & 0xffff) == 0 && now() > deadline)
                return fail("a SIGPROF within 10 s", 0);
        }
        pthread_sigmask(SIG_BLOCK, &prof, NULL);
        if (atomic_load(&handler_error))
            return fail("du_request in the handler", atomic_load(&handler_error));
        uint64_t cookie = atomic_load(&sampled_cookie);
        callbacks = 0;
        int ran = du_safe_point();
        if (ran != 1 || callbacks != 1)
            return fail("one callback at the safe point", ran);
        if (delivered_cookie != cookie || !cookie_ok(cookie))
            return fail("the handler's cookie delivered", (long)delivered_cookie);
        /* From the rule cache (no DU_TRACE_BACKTRACE), to the outermost frame. */
        if (delivered_nr == 0 || delivered_flags != DU_TRACE_COMPLETE)
            return fail("a non-empty, complete trace from the rule cache; flags", delivered_flags);
        for (int j = 0; j < i; j++)
            if (seen[j] == cookie)
                return fail("a new cookie per context", j);
        seen[i] = cookie;
        printf("sample %d: cookie t%u:%08x, %u frames\n", i, du_cookie_thread_half(cookie),
               du_cookie_context_half(cookie), delivered_nr);
        atomic_store(&ticks, 0);
        pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
    }
    /* Stop the profiler: timer off, and a tick still pending is dropped. */
    pthread_sigmask(SIG_BLOCK, &prof, NULL);
    set_timer(0);
    signal(SIGPROF, SIG_IGN);
    pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
    return 0;
}

/* Attach, request, and return without detaching: thread exit delivers. */
static void *exiting_thread(void *arg)
{
    uint64_t *cookie = arg;

    if (du_thread_attach() != 0 || du_request(profiler, cookie) != 0)
        *cookie = DU_COOKIE_NONE;
    return NULL;
}

static int thread_exit_delivers(void)
{
    pthread_t t;
    uint64_t cookie = DU_COOKIE_NONE;

    callbacks = 0;
    if (pthread_create(&t, NULL, exiting_thread, &cookie) != 0 || pthread_join(t, NULL) != 0)
        return fail("pthread_create/join", 0);
    if (!cookie_ok(cookie))
        return fail("attach and request on the second thread", (long)cookie);
    if (callbacks != 1 || delivered_cookie != cookie)
        return fail("delivery at thread exit", callbacks);
    if (delivered_nr != 0 || delivered_flags != DU_TRACE_EXITING)
        return fail("an empty trace flagged DU_TRACE_EXITING", delivered_flags);
    printf("thread exit: cookie t%u:%08x delivered, flagged exiting\n",
           du_cookie_thread_half(cookie), du_cookie_context_half(cookie));
    return 0;
}

/*
 * Another attached thread, parked inside a tracer callback - an RCU
 * read-side section - while main forks.  The child has no such thread: a
 * grace period there must not wait for its copy of that reader.
 */
static int park_pipe[2];
static pthread_barrier_t in_callback;

static int parked; /* set by the callback before it parks */

static void on_stack_parked(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    char c;

    (void)trace;
    (void)cookie;
    (void)arg;
    parked = 1;
    pthread_barrier_wait(&in_callback); /* main forks now */
    while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
}

static void *parked_thread(void *arg)
{
    du_tracer *parker = arg;
    uint64_t cookie;
    int ok;

    ok = du_thread_attach() == 0 && du_request(parker, &cookie) == 0 &&
         du_safe_point() == 1; /* parks in on_stack_parked */
    if (!parked)
        pthread_barrier_wait(&in_callback); /* failed before: release main */
    if (du_thread_detach() != 0)
        ok = 0;
    return ok ? NULL : (void *)1;
}

/* The child: the library must work in a process forked from a threaded one. */
static int child_uses_library(void)
{
    du_tracer *extra;
    uint64_t cookie;

    alarm(10); /* a hang (stuck grace period) kills the child: the parent reports it */
    if (du_thread_is_attached() != 1)
        return fail("child: forking thread still attached", 0);
    callbacks = 0;
    if (du_request(profiler, &cookie) != 0 || !cookie_ok(cookie))
        return fail("child: du_request", (long)cookie);
    if (du_safe_point() != 1 || callbacks != 1 || delivered_cookie != cookie)
        return fail("child: delivery", callbacks);
    if (du_tracer_register(on_stack, NULL, "link-test-child", &extra) != 0)
        return fail("child: du_tracer_register", 0);
    if (du_tracer_destroy(extra) != 0)
        return fail("child: du_tracer_destroy (grace periods)", 0);
    if (du_tracer_destroy(profiler) != 0)
        return fail("child: du_tracer_destroy of the inherited tracer", 0);
    if (du_thread_detach() != 0)
        return fail("child: du_thread_detach", 0);
    return 0;
}

static int fork_beside_a_callback(void)
{
    du_tracer *parker;
    pthread_t t;
    void *thread_ret;
    int status;

    if (du_tracer_register(on_stack_parked, NULL, "link-test-parker", &parker) != 0)
        return fail("du_tracer_register (parker)", 0);
    if (pipe(park_pipe) != 0 || pthread_barrier_init(&in_callback, NULL, 2) != 0 ||
        pthread_create(&t, NULL, parked_thread, parker) != 0)
        return fail("pipe/barrier/pthread_create", errno);
    pthread_barrier_wait(&in_callback); /* the thread is in its callback */
    fflush(stdout); /* or the child's exit would print the parent's buffer again */
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork", errno);
    if (pid == 0) {
        int ret = child_uses_library();
        fflush(stdout);
        _exit(ret);
    }
    if (waitpid(pid, &status, 0) != pid)
        return fail("waitpid", errno);
    if (WIFSIGNALED(status))
        return fail("child killed by signal (SIGALRM: a hang)", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        return fail("child exit status", WEXITSTATUS(status));
    if (write(park_pipe[1], "x", 1) != 1 || pthread_join(t, &thread_ret) != 0 || thread_ret)
        return fail("parked thread: request, callback, detach", 0);
    if (du_tracer_destroy(parker) != 0)
        return fail("du_tracer_destroy (parker)", 0);
    close(park_pipe[0]);
    close(park_pipe[1]);
    pthread_barrier_destroy(&in_callback);
    printf("fork: child requested, delivered, registered, cancelled, detached\n");
    return 0;
}

int main(void)
{
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    struct sigaction sa;

    if (du_thread_attach() != 0)
        return fail("du_thread_attach", 0);
    if (du_tracer_register(on_stack, NULL, "link-test", &profiler) != 0)
        return fail("du_tracer_register", 0);
    if (sigaltstack(&ss, NULL) != 0)
        return fail("sigaltstack", errno);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigprof;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, NULL) != 0)
        return fail("sigaction", errno);

    if (sample_with_timer() || thread_exit_delivers() || fork_beside_a_callback())
        return 1;

    if (du_tracer_destroy(profiler) != 0)
        return fail("du_tracer_destroy", 0);
    if (du_thread_detach() != 0)
        return fail("du_thread_detach", 0);
    printf("link_test: all passed\n");
    return 0;
}
