/* lc_proxy.h - the frozen-region checks' shared fixture (lc_proxy.c):
 * a target thread that requests, enters a region and blocks; a callback
 * that records who ran it; the state both sides share.  Not a public
 * header: lc_proxy.c and lc_proxy_races.c only. */
#ifndef DU_LC_PROXY_H
#define DU_LC_PROXY_H
#include "lc_common.h"

#define PX_MAX 16
#define PX_FRAMES 32

/* One callback: who ran it, for whom, with what. */
struct px_rec {
    int tracer;       /* 0 = X, 1 = Y */
    pthread_t runner; /* the thread that ran the callback */
    uint64_t cookie;
    uint32_t flags, nr;
    uintptr_t ips[PX_FRAMES];
};

struct lc_px_state {
    pthread_mutex_t lock;
    struct px_rec rec[PX_MAX];
    int n;
    /* leave-wait check: the callback waits for the target's leave to start */
    _Atomic int hold, in_cb, leaving, cb_done;
    int hold_ms;
    sem_t *release; /* posted by a holding callback: lets the target go on to leave */
};
extern struct lc_px_state lc_px;

/* The target thread's script. */
struct px_target {
    du_tracer *x, *y;
    sem_t frozen, go, done;
    int exit_in_region; /* pthread_exit from below the region's frame */
    /* results */
    int enter_rc, busy_rc, detach_rc, again_rc, y_rc, leave_rc, sp_rc;
    uint64_t c1, c_again, c_y;
    void *ref[PX_FRAMES];
    int ref_n;
    uintptr_t region_lo; /* region_fn's address */
    long long leave_ns;
    pthread_t self;
};


/* The fixture (lc_proxy.c). */
void lc_px_callback(const struct du_trace *t, uint64_t cookie, void *arg);
void lc_px_reset(void);
int lc_px_count(void);
long long lc_px_now(void);
void *lc_px_target_main(void *arg);
int lc_px_setup(struct px_target *t, char *msg, size_t len);
int lc_px_start(struct px_target *t, pthread_t *th, char *msg, size_t len);
void lc_px_teardown(struct px_target *t);
#endif
