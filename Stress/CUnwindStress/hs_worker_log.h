/*
 * hs_worker_log.h - the per-worker logs: each worker's requests and
 * callbacks of the current context, its counters and its proxy log (what
 * the checker, hs_check.c, compares).  Included by hs_internal.h only,
 * where the scenario and tracer-record types it uses are declared.
 */
#ifndef HS_WORKER_LOG_H
#define HS_WORKER_LOG_H

/* ---- per-worker logs -------------------------------------------------------- */
enum { PH_RUN = 1, PH_SP, PH_EXIT };
enum { RF_HANDLER = 1, RF_CB = 2, RF_SAW_CANCELLED = 4, RF_THREAD = 8, RF_REPBAD = 16 };
/* Status of an entry logged before a du_request() that a siglongjmp may
 * abandon (longjmp-request): the request may or may not have been accepted,
 * so the entry permits one callback but requires none.  RF_REPBAD: a repeat
 * of the request in the same handler answered other than 1/-ECANCELED or got
 * another cookie. */
#define HS_ST_INFLIGHT INT32_MIN
/* A ring slot a siglongjmp abandoned before it was written: ignored. */
#define HS_ST_VOID (INT32_MIN + 1)
struct hs_req {
    uint64_t ctx;
    uint64_t cookie;
    uint64_t id;
    int32_t status;
    uint8_t phase;
    uint8_t depth;
    uint8_t flags;
    uint8_t sig;
};
#define HS_RING 16384u
#define HS_RING_MARGIN 64u
struct hs_cb {
    uint64_t id;
    uint64_t cookie;
    uint32_t tflags; /* trace flags */
    uint16_t phase;
    uint16_t bad;    /* HS_BAD_* found in the callback */
    uint32_t nr;
};
enum { HS_BAD_TRACE = 1, HS_BAD_POISON = 2 };
#define HS_CBMAX 4096
#define HS_MAXDEPTH 24

struct hs_worker {
    /* identity and liveness */
    int slot;
    _Atomic uint64_t gen;
    pthread_t thread;      /* written by the worker itself (injectors read it) */
    pthread_t pt;          /* main's copy from pthread_create (join) */
    pid_t tid;
    _Atomic int alive;     /* injectors/migrator may target the thread */
    _Atomic int inflight;  /* injectors/migrator between their alive check and the call */
    _Atomic int finished;  /* thread function and destructors done, ready to join */
    int running;           /* main: a pthread exists for this slot (to join) */
    timer_t timer[2];
    int has_timer;
    int exit_mode;

    /* the worker's context, read by its handlers (same thread) */
    _Atomic uint64_t ctx;
    _Atomic int phase;
    _Atomic int hdepth;
    uint64_t hrng[4];       /* one RNG per nesting level: 0 thread, 1..3 handlers */
    uintptr_t expect[HS_MAXDEPTH + 2];
    int depth;
    int leaf_kind;

    /* request ring: producers are the thread and its handlers; consumer the thread */
    _Atomic uint32_t tail;
    _Atomic uint32_t head;
    struct hs_req ring[HS_RING];
    struct hs_req carry[HS_RING];
    uint32_t ncarry;
    struct hs_req batch[2 * HS_RING]; /* the checker's scratch */
    struct hs_cb cbs[HS_CBMAX];
    uint64_t itab[2048 * 5]; /* checker scratch (struct hs_inst[2048]) */
    uint32_t iused[2048];
    uint32_t ncb;
    int cb_overflow;
    int in_cb;

    /* reference counting for deferred tracer free (monotonic across generations) */
    _Atomic uint64_t h_enter, h_exit;

    /* longjmp-request (hs_longjmp.c): the outer handler's landing pad */
    sigjmp_buf lj_pad;
    _Atomic int lj_armed;       /* the outer handler's request loop runs: a jump may land */
    uint64_t lj_base;           /* h_enter - h_exit when the outer handler began */
    uint32_t lj_wtail;          /* the ring slot the outer handler is writing ... */
    int lj_writing;             /* ... while this is 1 (a landing voids it if reserved) */
    _Atomic uint64_t lj_landed; /* landings so far (the thread compares around safe points) */
    uint64_t lj_checked, lj_seen;
    int lj_expect_repair;
    du_tracer *lj_own;          /* the worker's own tracer, for cancel on this thread */

    /* watchdog */
    _Atomic int op;
    _Atomic uint64_t op_start;
    _Atomic uint64_t ctx_count_gen; /* contexts of this generation */

    /* counters (monotonic; summed by the status thread) */
    _Atomic uint64_t n_req, n_acc, n_sig, n_nested, n_ctx, n_cb, n_skip, n_exits,
        n_nomem, n_exiting_cb, n_deadlk;

    /* held-request: the thread-context request in progress (its instance
     * id, 0 none) and whether a handler parked on it saw that instance's
     * cancel return.  Thread and its handlers only. */
    _Atomic uint64_t inreq_id;
    _Atomic int inreq_saw_cancel;

    /* proxy (hs_proxy.c).  pz_state: HS_PZ_*, the thread's place around its
     * frozen region (the thread writes it; its handlers and the proxies'
     * callbacks read it).  pz_serial: the thread half of this attach's
     * cookies (from its first accepted request): proxies find the target
     * of a callback by it.  pz_ra0: the return address into
     * hs_frozen_block of its du_frozen_enter call (written by the call
     * stub), pz_ra1: hs_frozen_block's return address into hs_leaf.
     * pcbs: callbacks a proxy ran for this thread (npcb reserves), merged
     * into cbs by the thread after its safe point. */
    _Atomic int pz_state;
    _Atomic uint32_t pz_serial;
    _Atomic uint32_t pz_futex;
    uintptr_t pz_ra0, pz_ra1;
    int pz_ctx_region; /* this context had a region (thread only) */
    _Atomic uint32_t npcb;
    struct hs_cb pcbs[128];
} __attribute__((aligned(64)));
enum { HS_PZ_OUT, HS_PZ_ENTERING, HS_PZ_IN, HS_PZ_LEAVING };
#define HS_PCBMAX 128u

extern struct hs_worker *hs_workers;
extern int hs_nworkers;
extern HS_IE_TLS struct hs_worker *hs_self;

enum { HS_OP_NONE, HS_OP_SAFEPOINT, HS_OP_DETACH, HS_OP_CANCEL, HS_OP_REGISTER, HS_OP_EXIT, HS_OP_DESTROY, HS_OP_FORK, HS_OP_WAIT,
       HS_OP_FROZEN, HS_OP_PROXY };

#endif /* HS_WORKER_LOG_H */
