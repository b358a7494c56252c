/* st_table.c - the step table as data and one recorded pass of every
 * operation (step_table_support.h). */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "step_table_support.h"

static const struct st_row st_rows[] = {
#define ST_ROW_(id, name, file, label, fp_a, fp_b) {#id, name, file, label},
    DU_STEP_TABLE(ST_ROW_)
#undef ST_ROW_
};
_Static_assert(sizeof st_rows / sizeof st_rows[0] == DU_STEP_COUNT, "one row per step");

int st_step_count(void) { return DU_STEP_COUNT; }

struct st_row st_step_row(int i)
{
    if (i < 0 || i >= DU_STEP_COUNT)
        return (struct st_row){"", "", "", ""};
    return st_rows[i];
}

static const char *const st_ops[ST_OPS] = {
    "register", "request", "safe-point", "request", "frozen-enter", "proxy-serve", "frozen-leave",
    "cancel", "register", "request", "detach",
};

const char *st_op_name(int op) { return op >= 0 && op < ST_OPS ? st_ops[op] : ""; }

/* The recording: this thread only (the hook is per thread). */
static int *st_out;
static int st_n, st_max;

static void st_put(int v)
{
    if (st_n < st_max)
        st_out[st_n] = v;
    st_n++;
}

static void st_hook(enum du_step step, void *arg)
{
    (void)arg;
    st_put((int)step);
}

static void st_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)trace;
    (void)cookie;
    (void)arg;
}

/* The proxy: another thread, recorded into the same buffer while the
 * recording thread waits in pthread_join. */
static void *st_proxy(void *arg)
{
    (void)arg;
    if (du_thread_attach() != 0)
        return NULL;
    du_debug_set_step_hook(st_hook, NULL);
    du_proxy_serve();
    du_debug_set_step_hook(NULL, NULL);
    st_put(-1);
    du_thread_detach();
    return NULL;
}

/* A frozen region of this thread, served by a proxy thread, then left; the
 * safe point after it (a round with nothing to call, the reset) is not
 * recorded: it is not a pass of "safe-point". */
static void st_frozen_pass(du_tracer *t)
{
    uint64_t cookie;
    pthread_t proxy;
    du_request(t, &cookie);
    st_put(-1);
    du_frozen_enter();
    st_put(-1);
    if (pthread_create(&proxy, NULL, st_proxy, NULL) == 0)
        pthread_join(proxy, NULL);
    else
        st_put(-1);
    du_frozen_leave();
    st_put(-1);
    du_debug_set_step_hook(NULL, NULL);
    du_safe_point();
    du_debug_set_step_hook(st_hook, NULL);
}

int st_record_ops(int *out, int max)
{
    if (!du_debug_step_points_built())
        return -ENOSYS;
    du_tracer *t1 = NULL, *t2 = NULL;
    uint64_t cookie;
    int ret = du_thread_attach();
    if (ret != 0)
        return ret;
    st_out = out;
    st_n = 0;
    st_max = max;
    du_debug_set_step_hook(st_hook, NULL);
    ret = du_tracer_register(st_callback, NULL, "st-1", &t1);
    st_put(-1);
    if (ret == 0) {
        du_request(t1, &cookie);
        st_put(-1);
        du_safe_point();
        st_put(-1);
        st_frozen_pass(t1);
        du_tracer_cancel(t1);
        st_put(-1);
        ret = du_tracer_register(st_callback, NULL, "st-2", &t2);
        st_put(-1);
    }
    if (ret == 0) {
        du_request(t2, &cookie);
        st_put(-1);
    }
    int detached = du_thread_detach();
    st_put(-1);
    du_debug_set_step_hook(NULL, NULL);
    if (t2)
        du_tracer_destroy(t2);
    if (ret != 0)
        return ret;
    if (detached != 0)
        return detached;
    return st_n > st_max ? -ENOBUFS : st_n;
}
