/*
 * hs_cancelrec.c - when each tracer instance's cancel began, for the
 * checker: a missing callback (invariant 4) and -ECANCELED (invariant 9) are
 * forgiven only for a tracer whose cancel began before the context's
 * delivery ended.
 *
 * An instance id is serial * HS_POOL + record (hs_instance_id): the serial
 * is dense over every registration of the run, the registrar's and
 * tracer-churn's, so the entry serial % HS_CSEQ is reused only HS_CSEQ
 * registrations later, and each entry is tagged with its instance id, so a
 * lookup of an instance whose entry was reused answers "unknown" (counted,
 * never judged) instead of another instance's cancel.
 *
 * Why: the table used to be indexed by id % HS_CSEQ with ids of stride
 * HS_POOL per registration, so a registrar record reused after 2048
 * registrations (32 x 64) mapped to the same entry, and its registration
 * cleared it.  A worker whose context outlived those registrations (about
 * 0.9 s of registry-full: a descheduled thread on a loaded machine, or a
 * worker's last context checked after its join) then found its cancelled
 * tracer "never cancelled": a false invariant 4 ("expected exactly one
 * callback for an accepted request ... not cancelled; seen none") or 9
 * ("-ECANCELED ... whose cancel never began").  The regression scenario
 * cancel-record-lag holds contexts open across that many registrations.
 *
 * Orders: seq_cst throughout (the checker reads tag, seq, tag; an entry
 * reinitialised between its loads shows a changed tag).
 */
#include "hs_internal.h"

struct hs_cancelrec {
    _Atomic uint64_t tag; /* the instance id the entry describes, 0 none */
    _Atomic uint64_t seq; /* hs_cancel_clock value when its cancel began, 0 not yet */
};
static struct hs_cancelrec hs_crec[HS_CSEQ];
static _Atomic uint64_t hs_inst_serial;
_Atomic uint64_t hs_total_unjudged;
_Atomic uint64_t hs_total_held; /* held-request parks (hs_signal.c) */

static struct hs_cancelrec *hs_crec_of(uint64_t id) { return &hs_crec[(id / HS_POOL) % HS_CSEQ]; }

uint64_t hs_instance_id(int idx)
{
    uint64_t serial = atomic_fetch_add_explicit(&hs_inst_serial, 1, memory_order_seq_cst) + 1;
    uint64_t id = serial * HS_POOL + (uint64_t)idx;
    struct hs_cancelrec *e = hs_crec_of(id);
    atomic_store_explicit(&e->tag, 0, memory_order_seq_cst);
    atomic_store_explicit(&e->seq, 0, memory_order_seq_cst);
    atomic_store_explicit(&e->tag, id, memory_order_seq_cst);
    return id;
}

void hs_cancel_began(uint64_t id)
{
    uint64_t seq = atomic_fetch_add_explicit(&hs_cancel_clock, 1, memory_order_seq_cst) + 1;
    struct hs_cancelrec *e = hs_crec_of(id);
    uint64_t zero = 0;
    /* The first cancel of the instance stamps it (tracer-churn cancels one
     * instance from several threads). */
    if (atomic_load_explicit(&e->tag, memory_order_seq_cst) == id)
        atomic_compare_exchange_strong_explicit(&e->seq, &zero, seq, memory_order_seq_cst,
                                                memory_order_seq_cst);
}

int hs_cancel_of(uint64_t id, uint64_t *seq)
{
    struct hs_cancelrec *e = hs_crec_of(id);
    if (atomic_load_explicit(&e->tag, memory_order_seq_cst) != id)
        return 0;
    *seq = atomic_load_explicit(&e->seq, memory_order_seq_cst);
    return atomic_load_explicit(&e->tag, memory_order_seq_cst) == id;
}
