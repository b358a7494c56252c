/*
 * up_real.c - resolution of the real libc functions (up_real.h).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_real.h"

#define UP_REAL_DEF(ret, name, params, version) up_##name##_fn *_Atomic up_real_##name##_ptr;
UP_REAL_FUNCS(UP_REAL_DEF)
#undef UP_REAL_DEF

static const struct {
    const char *name;
    const char *version;
} up_real_names[UP_REAL_COUNT] = {
#define UP_REAL_NAME(ret, name, params, version) [UP_REAL_ID_##name] = {#name, version},
    UP_REAL_FUNCS(UP_REAL_NAME)
#undef UP_REAL_NAME
};

/* The address of each pointer, by id (the pointers have different types;
 * they are all object pointers to function pointers of the same size). */
static void *_Atomic *const up_real_slots[UP_REAL_COUNT] = {
#define UP_REAL_SLOT(ret, name, params, version) \
    [UP_REAL_ID_##name] = (void *_Atomic *)&up_real_##name##_ptr,
    UP_REAL_FUNCS(UP_REAL_SLOT)
#undef UP_REAL_SLOT
};

static void *up_lookup(enum up_real_id id)
{
    void *f = NULL;
    if (up_real_names[id].version)
        f = dlvsym(RTLD_NEXT, up_real_names[id].name, up_real_names[id].version);
    if (!f)
        f = dlsym(RTLD_NEXT, up_real_names[id].name);
    if (f)
        atomic_store_explicit(up_real_slots[id], f, memory_order_relaxed); /* partner: up_real_<name>() */
    return f;
}

/* No stdio and no up_log here: this can run before anything is set up.
 * The real write is looked up directly (a libc without write() is not
 * one we could report through anyway). */
static void up_missing(const char *name)
{
    up_write_fn *w = (up_write_fn *)up_lookup(UP_REAL_ID_write);
    if (!w)
        return;
    static const char head[] = "unwind-profile agent: libc has no ";
    static const char tail[] = "; aborting\n";
    (void)!w(2, head, sizeof head - 1);
    (void)!w(2, name, strlen(name));
    (void)!w(2, tail, sizeof tail - 1);
}

void *up_resolve(enum up_real_id id)
{
    void *f = up_lookup(id);
    if (!f) {
        up_missing(up_real_names[id].name);
        abort();
    }
    return f;
}

void up_resolve_all(void)
{
    /* Functions a given libc may lack (sem_clockwait, pthread_cond_clockwait
     * before glibc 2.30) stay NULL here; only a call to one is fatal. */
    for (int id = 0; id < UP_REAL_COUNT; id++)
        (void)up_lookup((enum up_real_id)id);
}
