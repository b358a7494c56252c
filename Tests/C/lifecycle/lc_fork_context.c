/*
 * lc_fork_context.c - the forking thread's own entry context across fork:
 * a request accepted before fork is delivered by the parent only, and a
 * fork from inside a callback delivers nothing more of the parent's context
 * in the child.
 */
#include "lc_common.h"
#include <stdlib.h>
#include <unistd.h>

/* Per process (the child has its own copy after fork). */
static unsigned du_lc_calls[2];
static uint64_t du_lc_cookies[2];
static int du_lc_fork_in_cb; /* tracer 0's callback forks */
static pid_t du_lc_child_pid; /* 0 in the child */
static du_tracer *du_lc_t1;    /* requested again by the child inside the callback */
static uint64_t du_lc_child_cookie; /* what that request returned */
static int du_lc_child_rc;
static int du_lc_child_sp_rc; /* the child's du_safe_point() inside the callback, nothing pending */

static void du_lc_ctx_cb(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    int i = (int)(intptr_t)arg;
    du_lc_calls[i]++;
    du_lc_cookies[i] = cookie;
    if (i == 0 && du_lc_fork_in_cb) {
        du_lc_fork_in_cb = 0;
        du_lc_child_pid = fork();
        /* In the child: a new context.  Request tracer 1 again: its callback
         * must come with the child's new cookie, not the parent's. */
        if (du_lc_child_pid == 0) {
            /* Still inside the callback, with the word cleared: a safe
             * point must refuse (-EDEADLK), not answer "nothing to do". */
            du_lc_child_sp_rc = du_safe_point();
            du_lc_child_rc = du_request(du_lc_t1, &du_lc_child_cookie);
        }
    }
}

struct du_lc_ctx { char *msg; size_t len; int fail; };

/* The calling (fresh) thread attached, with two counting tracers. */
static int du_lc_ctx_setup(du_tracer *t[2], struct du_lc_ctx *x)
{
    memset(du_lc_calls, 0, sizeof(du_lc_calls));
    if (du_thread_attach() != 0 ||
        du_tracer_register(du_lc_ctx_cb, (void *)0, "ctx0", &t[0]) != 0 ||
        du_tracer_register(du_lc_ctx_cb, (void *)1, "ctx1", &t[1]) != 0)
        return du_lc_fail(x->msg, x->len, "set-up");
    return 0;
}

static void du_lc_ctx_teardown(du_tracer *t[2])
{
    du_tracer_destroy(t[0]);
    du_tracer_destroy(t[1]);
    du_thread_detach();
}

/* Run main(x) on a fresh thread: the test runner's thread is not ours. */
static int du_lc_ctx_run(void *(*main)(void *), char *msg, size_t len)
{
    struct du_lc_ctx x = {msg, len, 0};
    pthread_t th;
    pthread_create(&th, NULL, main, &x);
    pthread_join(th, NULL);
    return x.fail;
}

/* In the child, after the fork: nothing of the parent's context arrived,
 * and a new context works at once. */
static int du_lc_child_fresh(char *msg, size_t len, unsigned calls0_at_fork,
                             du_tracer *t1)
{
    if (du_lc_calls[1] != 0)
        return du_lc_fail(msg, len, "child: the parent's pending request was delivered "
                                    "(%u callbacks)", du_lc_calls[1]);
    if (du_lc_calls[0] != calls0_at_fork)
        return du_lc_fail(msg, len, "child: tracer 0 called again");
    if (!du_thread_is_attached())
        return du_lc_fail(msg, len, "child: the forking thread is not attached");
    if (du_current_cookie() != 0)
        return du_lc_fail(msg, len, "child: context not fresh (cookie %llx)",
                          (unsigned long long)du_current_cookie());
    int rc = du_safe_point();
    if (rc != 0)
        return du_lc_fail(msg, len, "child: first safe point ran %d callbacks", rc);
    uint64_t c;
    if ((rc = du_request(t1, &c)) != 0)
        return du_lc_fail(msg, len, "child: request %d", rc);
    if ((rc = du_safe_point()) != 1 || du_lc_calls[1] != 1 || du_lc_cookies[1] != c)
        return du_lc_fail(msg, len, "child: new context: safe point %d, %u callbacks", rc,
                          du_lc_calls[1]);
    return du_lc_child_exercise(msg, len);
}

static void *du_lc_pending_main(void *arg)
{
    struct du_lc_ctx *x = arg;
    du_tracer *t[2];
    if ((x->fail = du_lc_ctx_setup(t, x)))
        return NULL;
    uint64_t c;
    int rc = du_request(t[1], &c);
    if (rc != 0) {
        x->fail = du_lc_fail(x->msg, x->len, "request %d", rc);
        return NULL;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        x->fail = du_lc_fail(x->msg, x->len, "pipe");
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char cmsg[256] = "";
        close(fds[0]);
        int f = du_lc_child_fresh(cmsg, sizeof(cmsg), 0, t[1]);
        if (f && write(fds[1], cmsg, strlen(cmsg)) < 0)
            f = 2;
        _exit(f ? 1 : 0);
    }
    close(fds[1]);
    x->fail = du_lc_wait_child(pid, fds[0], x->msg, x->len);
    rc = du_safe_point();
    if (!x->fail && (rc != 1 || du_lc_calls[1] != 1 || du_lc_cookies[1] != c))
        x->fail = du_lc_fail(x->msg, x->len, "parent: safe point %d, %u callbacks, cookie %llx "
                             "want %llx", rc, du_lc_calls[1],
                             (unsigned long long)du_lc_cookies[1], (unsigned long long)c);
    du_lc_ctx_teardown(t);
    return NULL;
}

int du_lc_fork_with_pending(char *msg, size_t len)
{
    return du_lc_ctx_run(du_lc_pending_main, msg, len);
}

static void *du_lc_cb_fork_main(void *arg)
{
    struct du_lc_ctx *x = arg;
    du_tracer *t[2];
    if ((x->fail = du_lc_ctx_setup(t, x)))
        return NULL;
    /* Tracer 0 has the lower bit: its callback runs first and forks while
     * tracer 1's callback is still due in this context. */
    if (du_tracer_bit(t[0]) > du_tracer_bit(t[1])) {
        x->fail = du_lc_fail(x->msg, x->len, "bits out of order (%d, %d)",
                             du_tracer_bit(t[0]), du_tracer_bit(t[1]));
        return NULL;
    }
    uint64_t c0, c1;
    if (du_request(t[0], &c0) != 0 || du_request(t[1], &c1) != 0 || c0 != c1) {
        x->fail = du_lc_fail(x->msg, x->len, "requests");
        return NULL;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        x->fail = du_lc_fail(x->msg, x->len, "pipe");
        return NULL;
    }
    du_lc_t1 = t[1];
    du_lc_fork_in_cb = 1;
    int rc = du_safe_point();
    if (du_lc_child_pid == 0) {
        char cmsg[256] = "";
        int f = 0;
        if (du_lc_child_sp_rc != -EDEADLK)
            f = du_lc_fail(cmsg, sizeof(cmsg), "child: du_safe_point() inside the callback, nothing "
                           "pending, returned %d, want -EDEADLK (%d)", du_lc_child_sp_rc, -EDEADLK);
        if (!f && (rc != 2 || du_lc_child_rc != 0 || du_lc_calls[1] != 1 ||
            du_lc_cookies[1] != du_lc_child_cookie || du_lc_child_cookie == c1))
            f = du_lc_fail(cmsg, sizeof(cmsg), "child: safe point ran %d; tracer 1: %u calls, "
                           "cookie %llx, want the child's %llx (request %d), not the parent's "
                           "%llx", rc, du_lc_calls[1], (unsigned long long)du_lc_cookies[1],
                           (unsigned long long)du_lc_child_cookie, du_lc_child_rc,
                           (unsigned long long)c1);
        if (!f) {
            du_lc_calls[1] = 0;
            f = du_lc_child_fresh(cmsg, sizeof(cmsg), 1, t[1]);
        }
        if (f && write(fds[1], cmsg, strlen(cmsg)) < 0)
            f = 2;
        _exit(f ? 1 : 0);
    }
    close(fds[1]);
    x->fail = du_lc_wait_child(du_lc_child_pid, fds[0], x->msg, x->len);
    if (!x->fail && (rc != 2 || du_lc_calls[0] != 1 || du_lc_calls[1] != 1 ||
                     du_lc_cookies[1] != c1))
        x->fail = du_lc_fail(x->msg, x->len, "parent: safe point %d, calls %u/%u", rc,
                             du_lc_calls[0], du_lc_calls[1]);
    du_lc_ctx_teardown(t);
    return NULL;
}

int du_lc_fork_from_callback(char *msg, size_t len)
{
    return du_lc_ctx_run(du_lc_cb_fork_main, msg, len);
}
