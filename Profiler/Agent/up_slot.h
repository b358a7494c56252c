/*
 * up_slot.h - one attached thread's share of the agent: its two rings, its
 * timer, its name.  Slots live in one table for the whole process and are
 * never freed (the writer may be reading one at any time); the slot of an
 * exited thread is drained by the writer and then reused by a later thread.
 *
 * Life of a slot (state, one atomic word):
 *
 *   FREE --claim (thread, CAS acquire)--> CLAIMED --(release)--> OWNED
 *   OWNED --the thread's exit teardown (release)--> EXITED
 *   EXITED --writer: drain, reset (release)--> FREE
 *
 *  - claim's CAS is acquire: it pairs with the writer's release store of
 *    FREE, so the new owner sees the rings reset (indices 0) and nothing of
 *    the writer's last reads can be reordered after its first write.
 *  - OWNED is stored with release after tid/thread are written: the writer
 *    loads the state with acquire before it reads tid (LOST records).
 *  - EXITED is stored with release by the thread after its last ring write
 *    and after its handler can no longer run on the slot (up_tls.slot was
 *    cleared first, with a signal fence): the writer's acquire load of
 *    EXITED, taken *before* it drains, makes every record and lost count of
 *    the thread visible to that drain, so after it nothing is left.
 * The writer skips FREE and CLAIMED slots.
 *
 * Memory per slot (mmap, pages touched as used): 4 KiB of control, the
 * sample ring (UP_SAMPLE_ENTRIES x 48 bytes = 12 KiB) and the stack ring
 * (UP_STACK_RING_BYTES = 32 KiB) and the copy ring (UP_COPY_RING_BYTES =
 * 128 KiB, touched only by threads sampled while running), rounded up to
 * pages: UP_SLOT_BYTES = 176 KiB.
 */
#ifndef UP_SLOT_H
#define UP_SLOT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include "up_agent.h"
#include "up_records.h"

enum { UP_SLOT_FREE = 0, UP_SLOT_CLAIMED, UP_SLOT_OWNED, UP_SLOT_EXITED };

#define UP_NAME_MAX 16 /* TASK_COMM_LEN: 15 bytes and a NUL */

struct up_slot {
    /* ---- ownership (see above) ---- */
    _Atomic uint32_t state;
    uint32_t tid; /* written while CLAIMED; read by the writer after OWNED */
    /* The core's serial of the owner (its cookies' thread half): written by
     * the owner at attach, read by the writer in a proxy's callback
     * (up_stack.c) after the core's claim of the owner's region. */
    _Atomic uint32_t du_serial;
    /* The thread's timer.  timer_live: 1 while `timer` names a timer of this
     * slot that nobody deleted yet.  Exactly one of the thread's exit
     * teardown and process exit deletes it: the one whose exchange takes
     * 1 -> 0 (seq_cst, see up_sampler.c; a timer id deleted twice could
     * name someone else's new timer by then). */
    timer_t timer;
    _Atomic int timer_live;
    /* ---- name, under up_name_lock (up_slot.c) ---- */
    pthread_t thread;
    char name[UP_NAME_MAX];
    uint32_t name_len;
    /* Bumped under the lock at each new name; the writer reads it relaxed
     * as a hint and copies the name under the lock. */
    _Atomic uint32_t name_gen;
    /* ---- writer-private: what it already reported ---- */
    uint32_t name_gen_written;
    uint64_t s_lost_reported, k_lost_reported;

    /* ---- sample ring: producer = the thread's SIGPROF handler ---- */
    alignas(64) _Atomic uint32_t s_head; /* records written (free-running) */
    _Atomic uint64_t s_lost;             /* records dropped, ring full */
    /* ---- sample ring: consumer = the writer ---- */
    alignas(64) _Atomic uint32_t s_tail; /* records read */
    /* ---- stack ring: producer = the thread (tracer callback) ---- */
    alignas(64) _Atomic uint32_t k_head; /* bytes written (free-running) */
    _Atomic uint64_t k_lost;             /* STACK records dropped */
    /* ---- stack ring: consumer = the writer ---- */
    alignas(64) _Atomic uint32_t k_tail; /* bytes read */

    /* ---- copy ring (up_copy.h): producer = the SIGPROF handler ---- */
    alignas(64) _Atomic uint32_t c_head; /* bytes written (free-running) */
    uint32_t c_serial;                   /* the handler's copy cookies */
    /* The thread's stack [stack_lo, stack_hi) (0, 0 unknown): written by
     * the owner at claim before OWNED, read by its handler after attach. */
    uintptr_t stack_lo, stack_hi;
    /* ---- copy ring: consumer = the writer ---- */
    alignas(64) _Atomic uint32_t c_tail; /* bytes read */

    alignas(64) struct up_rec_sample *samples; /* UP_SAMPLE_ENTRIES */
    unsigned char *stacks;                     /* UP_STACK_RING_BYTES */
    unsigned char *copies;                     /* UP_COPY_RING_BYTES */
};

#define UP_SLOT_CONTROL_BYTES 4096u
/* The copy ring: 128 KiB, 10 ms of a running thread's copies at 999 Hz
 * with full 8 KiB windows plus room (up_copy.h). */
#define UP_COPY_RING_BYTES (128u * 1024u)
#define UP_SLOT_USED_BYTES \
    (UP_SLOT_CONTROL_BYTES + UP_SAMPLE_ENTRIES * sizeof(struct up_rec_sample) + UP_STACK_RING_BYTES + \
     UP_COPY_RING_BYTES)
#define UP_SLOT_BYTES ((UP_SLOT_USED_BYTES + 4095u) & ~(size_t)4095u)

_Static_assert(sizeof(struct up_slot) <= UP_SLOT_CONTROL_BYTES, "slot control fits its page");
_Static_assert((UP_SAMPLE_ENTRIES & (UP_SAMPLE_ENTRIES - 1)) == 0, "sample ring is a power of 2");
_Static_assert((UP_STACK_RING_BYTES & (UP_STACK_RING_BYTES - 1)) == 0, "stack ring is a power of 2");
_Static_assert(UP_STACK_RING_BYTES >= 32 + 8 * 512, "the stack ring holds the deepest trace");

/* Claim a slot for the calling thread (FREE -> OWNED, or a new one).
 * NULL when UP_MAX_SLOTS are in use or memory ran out.
 * Context: thread (mmap, mutex); guard held. */
struct up_slot *up_slot_claim(uint32_t tid, pthread_t self);
/* The thread is done with its slot: OWNED -> EXITED.  Context: the owner. */
void up_slot_retire(struct up_slot *slot);
/* Record a name for the slot.  Context: thread (mutex). */
void up_slot_set_name(struct up_slot *slot, const char *name, size_t len);
/* Name the slot owned by `thread` (pthread_setname_np on another thread);
 * nothing if no OWNED slot has it.  Context: thread (mutex). */
void up_slot_set_name_of(pthread_t thread, const char *name);
/* Copy a slot's name if it changed since the writer last wrote it; returns
 * its length, or -1 when unchanged (or the lock is busy: next round).
 * Context: the writer (trylock, never waits). */
int up_slot_take_name(struct up_slot *slot, char out[UP_NAME_MAX]);

/* The table, for the writer and process exit: entries [0, count) are valid
 * slot pointers (count loaded with acquire: partner the release store that
 * publishes a new entry in up_slot_claim). */
extern struct up_slot *up_slots[UP_MAX_SLOTS];
static inline uint32_t up_slot_count(void);
extern _Atomic uint32_t up_slots_used;
static inline uint32_t up_slot_count(void)
{
    return atomic_load_explicit(&up_slots_used, memory_order_acquire);
}

/* fork: the slot table's two locks taken across fork() (bounded: after
 * UP_SLOT_FORK_TRIES tries 0.1 ms apart a prepare gives up), released in
 * the parent and the child; child: 0 if the child may take them again,
 * -EBUSY if the fork could not hold them (the child must stay inert).
 * Context: fork's atfork handlers (thread or signal context). */
#define UP_SLOT_FORK_TRIES 200
void up_slot_fork_prepare(void);
void up_slot_fork_parent(void);
int up_slot_fork_child(void);

#endif /* UP_SLOT_H */
