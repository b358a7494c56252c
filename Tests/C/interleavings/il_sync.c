/*
 * il_sync.c - where cancel's grace period waits, for the controller.
 *
 * synchronize_rcu() has no step point inside, and it blocks while the other
 * thread is in a read-side section.  So the test binary interposes
 * liburcu-bp's urcu_bp_synchronize_rcu (the core, linked into the same
 * executable, binds to this definition; RTLD_NEXT finds liburcu-bp's): on
 * a thread of an interleaving run it parks first (IL_POS_SYNC), and the
 * controller resumes it only while the other thread is outside every
 * read-side section, so the real grace period then ends at once.  This
 * holds wherever cancel calls it, also in a core that moved the call
 * (mutation runs).  Every other caller passes straight through.
 */
#include "il_internal.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void (*il_real_sync)(void);
static pthread_once_t il_sync_once = PTHREAD_ONCE_INIT;

static void il_sync_init(void)
{
    il_real_sync = (void (*)(void))dlsym(RTLD_NEXT, "urcu_bp_synchronize_rcu");
    if (!il_real_sync) {
        fprintf(stderr, "il_sync: liburcu-bp's urcu_bp_synchronize_rcu not found\n");
        abort();
    }
}

void urcu_bp_synchronize_rcu(void)
{
    pthread_once(&il_sync_once, il_sync_init);
    struct il_thr *me = il_current();
    if (me)
        il_park(il_run_of(me), me, IL_POS_SYNC, 0);
    il_real_sync();
}
