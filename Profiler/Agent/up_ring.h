/*
 * up_ring.h - the two single-producer single-consumer rings of a slot.
 *
 * Sample ring: fixed 40-byte SAMPLE records.  Producer: the thread's SIGPROF
 * handler, and nothing else (SIGPROF is blocked while its handler runs, so
 * it never nests with itself; the trampolines of the program's handlers
 * never touch it).  Consumer: the writer thread.
 *
 * Stack ring: variable-size STACK records (32 + 8 x nr bytes).  Producer:
 * the thread in thread context (the tracer callback).  A separate ring,
 * because the handler can interrupt the thread in the middle of a write.
 * Consumer: the writer thread.
 *
 * Indices are free-running 32-bit counters (entries for the sample ring,
 * bytes for the stack ring); the capacities are powers of two, so
 * head - tail is the fill level across the wrap.  The protocol, per ring:
 *
 *   producer: t = tail (acquire)     partner: consumer's release store of tail
 *             write the record at head   (plain stores: the index protocol
 *                                         makes them race-free)
 *             head += n (release)    partner: consumer's acquire load of head
 *   consumer: h = head (acquire)     the records before h are complete
 *             copy out [tail, h)
 *             tail = h (release)     our reads are done before the producer
 *                                    may overwrite those bytes
 *
 * Without the acquire on head the writer could copy a record before its
 * bytes landed; without the release on tail the producer could overwrite a
 * record the writer is still copying.  Lost counts: written only by the
 * producer (load + store, relaxed: one producer, never nested), read by the
 * writer relaxed (a count; the slot's EXITED acquire makes the final value
 * visible, up_slot.h).
 */
#ifndef UP_RING_H
#define UP_RING_H

#include <errno.h>
#include <string.h>
#include "up_slot.h"

#define UP_SAMPLE_MASK (UP_SAMPLE_ENTRIES - 1u)
#define UP_STACK_MASK (UP_STACK_RING_BYTES - 1u)

/* Returns 0, or -ENOSPC when the ring is full (the record is dropped and
 * counted in s_lost).  Context: the slot's SIGPROF handler only;
 * async-signal-safe, lock-free. */
static inline int up_sample_push(struct up_slot *s, const struct up_rec_sample *rec)
{
    uint32_t head = atomic_load_explicit(&s->s_head, memory_order_relaxed); /* ours */
    uint32_t tail = atomic_load_explicit(&s->s_tail, memory_order_acquire);
    if (head - tail >= UP_SAMPLE_ENTRIES) {
        uint64_t lost = atomic_load_explicit(&s->s_lost, memory_order_relaxed);
        atomic_store_explicit(&s->s_lost, lost + 1, memory_order_relaxed);
        return -ENOSPC;
    }
    s->samples[head & UP_SAMPLE_MASK] = *rec;
    atomic_store_explicit(&s->s_head, head + 1, memory_order_release);
    return 0;
}

static inline void up_stack_copy_in(unsigned char *ring, uint32_t pos, const void *src, uint32_t n)
{
    uint32_t off = pos & UP_STACK_MASK;
    uint32_t first = UP_STACK_RING_BYTES - off < n ? UP_STACK_RING_BYTES - off : n;
    memcpy(ring + off, src, first);
    memcpy(ring, (const unsigned char *)src + first, n - first);
}

/* One STACK record: `rec` (size already set) then rec->nr addresses.
 * Returns 0, or -ENOSPC when the ring lacks room (nothing written).
 * Context: the slot's thread, thread context; lock-free. */
static inline int up_stack_push(struct up_slot *s, const struct up_rec_stack *rec, const uint64_t *ips)
{
    uint32_t size = rec->h.size;
    uint32_t head = atomic_load_explicit(&s->k_head, memory_order_relaxed); /* ours */
    uint32_t tail = atomic_load_explicit(&s->k_tail, memory_order_acquire);
    if (UP_STACK_RING_BYTES - (head - tail) < size)
        return -ENOSPC;
    up_stack_copy_in(s->stacks, head, rec, sizeof *rec);
    up_stack_copy_in(s->stacks, head + (uint32_t)sizeof *rec, ips, size - (uint32_t)sizeof *rec);
    atomic_store_explicit(&s->k_head, head + size, memory_order_release);
    return 0;
}

/* Where the consumer puts what it drains (the writer's output buffer). */
typedef void up_emit_fn(const void *bytes, size_t n);

/* Copies every complete SAMPLE record to emit.  Returns how many.
 * Context: the writer only. */
static inline uint32_t up_sample_drain(struct up_slot *s, up_emit_fn *emit)
{
    uint32_t tail = atomic_load_explicit(&s->s_tail, memory_order_relaxed); /* ours */
    uint32_t head = atomic_load_explicit(&s->s_head, memory_order_acquire);
    uint32_t n = head - tail;
    if (n == 0)
        return 0;
    uint32_t off = tail & UP_SAMPLE_MASK;
    uint32_t first = UP_SAMPLE_ENTRIES - off < n ? UP_SAMPLE_ENTRIES - off : n;
    emit(&s->samples[off], first * sizeof(struct up_rec_sample));
    if (n > first)
        emit(&s->samples[0], (n - first) * sizeof(struct up_rec_sample));
    atomic_store_explicit(&s->s_tail, head, memory_order_release);
    return n;
}

/* Copies every complete STACK record to emit.  Returns how many.  *bad is
 * set if a record header is malformed: the rest of the ring is dropped
 * then (only a bug can do that, and the file must stay well-formed).
 * Context: the writer only. */
static inline uint32_t up_stack_drain(struct up_slot *s, up_emit_fn *emit, int *bad)
{
    uint32_t tail = atomic_load_explicit(&s->k_tail, memory_order_relaxed); /* ours */
    uint32_t head = atomic_load_explicit(&s->k_head, memory_order_acquire);
    uint32_t count = 0;
    while (tail != head) {
        struct up_rec_header h; /* 8 bytes at an 8-aligned offset: never wraps */
        memcpy(&h, s->stacks + (tail & UP_STACK_MASK), sizeof h);
        if (h.type != UP_REC_STACK || h.size < sizeof(struct up_rec_stack) || h.size % 8 != 0 ||
            h.size > head - tail) {
            *bad = 1;
            tail = head;
            break;
        }
        uint32_t off = tail & UP_STACK_MASK;
        uint32_t first = UP_STACK_RING_BYTES - off < h.size ? UP_STACK_RING_BYTES - off : h.size;
        emit(s->stacks + off, first);
        if (h.size > first)
            emit(s->stacks, h.size - first);
        tail += h.size;
        count++;
    }
    atomic_store_explicit(&s->k_tail, tail, memory_order_release);
    return count;
}

#endif /* UP_RING_H */
