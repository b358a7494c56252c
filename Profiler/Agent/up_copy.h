/*
 * up_copy.h - on-CPU stacks without unwinding in the handler: the SIGPROF
 * handler of a running thread copies its interrupted registers and a
 * bounded window of its stack into the slot's copy ring; the writer thread
 * unwinds each copy later with the core's table-driven unwinder
 * (ehu_backtrace_from over the copy, as `perf --call-graph dwarf` does
 * offline) and writes one STACK per copy.  The SAMPLE carries the copy's
 * cookie (bit 63 set: never a core cookie, whose thread half is a serial
 * below 2^31), so the report stitches it as any deferred stack.
 *
 * Copy ring: single producer = the slot's SIGPROF handler (never nested
 * with itself), single consumer = the writer; the protocol of the sample
 * ring (up_ring.h): c_head free-running bytes, release-stored after the
 * record is written, acquire-loaded by the writer; c_tail the reverse.
 * Records are 8-aligned, never split at the ring's end (a record that
 * would straddle it is preceded by a pad record filling the end).
 */
#ifndef UP_COPY_H
#define UP_COPY_H

#include <stdint.h>
#include "up_slot.h"

/* Bytes of stack above the interrupted sp copied per sample (the red zone
 * below sp, 128 bytes, is copied too).  Overridable for measurements
 * (-DUP_COPY_WINDOW=0: no copies, on-CPU samples keep their pc alone). */
#ifndef UP_COPY_WINDOW
#define UP_COPY_WINDOW 8192u
#endif

struct up_copy_rec {
    uint32_t size;    /* whole record, 8-aligned; 0 = pad to the ring's end */
    uint32_t tid;
    uint64_t cookie;
    uint64_t pc, sp, bp;
    uint64_t lo;      /* stack address of the first copied byte */
    uint32_t len;     /* bytes copied (follow the record header) */
    uint32_t reserved;
};

/* Copies the interrupted context `ucv` (sp within the thread's stack, whose
 * top is s->stack_hi when known) into the copy ring.  Returns the copy's
 * cookie, or 0 when nothing was copied (ring full, no window, not x86-64).
 * Context: the slot's SIGPROF handler; async-signal-safe (memory reads of
 * the thread's own mapped stack and stores into the ring only). */
uint64_t up_copy_take(struct up_slot *s, const void *ucv);

/* Unwinds every copy in the slot's ring and writes its STACK record.
 * Returns how many STACKs it wrote.  Context: the writer thread. */
uint32_t up_copy_drain(struct up_slot *s);

#endif /* UP_COPY_H */
