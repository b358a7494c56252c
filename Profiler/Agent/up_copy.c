/*
 * up_copy.c - the stack copies of on-CPU samples (up_copy.h): taken in the
 * SIGPROF handler, unwound by the writer.
 *
 * The window: [sp - 128, min(sp + UP_COPY_WINDOW, stack top)).  The 128
 * bytes below sp are the red zone, where GCC's CFI may still say a register
 * is saved in an epilogue (ehu.h).  The stack is the thread's
 * (pthread_getattr_np at claim, up_slot.c); when sp is outside it (an
 * alternate signal stack, a coroutine's stack), only the rest of sp's page
 * is copied: nothing beyond it is known to be mapped.  The red zone is
 * copied only when it lies in sp's page or the stack is known (the page
 * below a thread stack's lowest is its guard).
 *
 * A truncated window ends the walk where a frame's CFA leaves the copy
 * (EHU_F_BADREAD): the innermost frames are kept, the outer ones lost, and
 * the STACK says DU_TRACE_TRUNCATED.
 */
#include <string.h>
#include <ucontext.h>
#include "up_copy.h"
#include "up_writer.h"
#include "../../Sources/CDeferredUnwind/ehu.h"
#include <deferred_unwind.h>

#define UP_COPY_MASK (UP_COPY_RING_BYTES - 1u)
#define UP_COPY_REDZONE 128u
#define UP_COPY_PAGE 4096u
#define UP_COPY_MAX_FRAMES 256
/* STACK agent flag: the frames were unwound from a stack copy. */
#define UP_STACK_COPY 0x400u

_Static_assert(sizeof(struct up_copy_rec) == 56, "copy record header is 56 bytes");
_Static_assert((UP_COPY_RING_BYTES & UP_COPY_MASK) == 0, "copy ring is a power of 2");
_Static_assert(UP_COPY_WINDOW + UP_COPY_REDZONE + 2 * sizeof(struct up_copy_rec) <= UP_COPY_RING_BYTES / 2,
               "a copy fits half the ring");

uint64_t up_copy_take(struct up_slot *s, const void *ucv)
{
#if defined(__x86_64__)
    if (UP_COPY_WINDOW == 0) /* built without copies (the cost benchmark's baseline) */
        return 0;
    const ucontext_t *uc = ucv;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t top = s->stack_hi;
    uintptr_t page_end = (sp & ~(uintptr_t)(UP_COPY_PAGE - 1)) + UP_COPY_PAGE;
    /* From sp up to the top the thread's stack is mapped (a thread stack
     * wholly; the main thread's from its lowest use up). */
    int known = sp >= s->stack_lo && sp < top;
    uintptr_t hi = known ? (top - sp > UP_COPY_WINDOW ? sp + UP_COPY_WINDOW : top) : page_end;
    uintptr_t lo = sp - UP_COPY_REDZONE;
    if (!known && lo / UP_COPY_PAGE != sp / UP_COPY_PAGE)
        lo = sp & ~(uintptr_t)(UP_COPY_PAGE - 1);
    if (known && lo < s->stack_lo)
        lo = s->stack_lo;
    if (sp < UP_COPY_REDZONE || hi <= lo)
        return 0;
    uint32_t len = (uint32_t)(hi - lo) & ~7u;
    uint32_t size = (uint32_t)sizeof(struct up_copy_rec) + len;
    /* Relaxed: ours (single producer); acquire: partner the writer's
     * release of c_tail after it read the records it frees. */
    uint32_t head = atomic_load_explicit(&s->c_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&s->c_tail, memory_order_acquire);
    uint32_t off = head & UP_COPY_MASK;
    uint32_t pad = UP_COPY_RING_BYTES - off < size ? UP_COPY_RING_BYTES - off : 0;
    if (UP_COPY_RING_BYTES - (head - tail) < pad + size)
        return 0; /* full: the sample keeps its pc alone */
    if (pad) {
        struct up_copy_rec p = {.size = 0};
        memcpy(s->copies + off, &p, sizeof p.size);
        head += pad;
        off = 0;
    }
    uint64_t cookie = (1ull << 63) | ++s->c_serial;
    struct up_copy_rec rec = {
        .size = size,
        .tid = s->tid,
        .cookie = cookie,
        .pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP],
        .sp = sp,
        .bp = (uint64_t)uc->uc_mcontext.gregs[REG_RBP],
        .lo = lo,
        .len = len,
    };
    memcpy(s->copies + off, &rec, sizeof rec);
    memcpy(s->copies + off + sizeof rec, (const void *)lo, len);
    atomic_store_explicit(&s->c_head, head + size, memory_order_release); /* partner: drain's acquire */
    return cookie;
#else
    (void)s;
    (void)ucv;
    return 0;
#endif
}

/* The writer's copy of one window, 8-aligned (the unwinder reads words). */
static uint64_t up_copy_buf[(UP_COPY_WINDOW + UP_COPY_REDZONE) / 8 + 1];

uint32_t up_copy_drain(struct up_slot *s)
{
    uint32_t tail = atomic_load_explicit(&s->c_tail, memory_order_relaxed); /* ours */
    uint32_t head = atomic_load_explicit(&s->c_head, memory_order_acquire); /* partner: take's release */
    uint32_t count = 0;
    while (tail != head) {
        uint32_t off = tail & UP_COPY_MASK;
        struct up_copy_rec rec;
        memcpy(&rec.size, s->copies + off, sizeof rec.size);
        if (rec.size == 0) { /* pad to the ring's end */
            tail += UP_COPY_RING_BYTES - off;
            continue;
        }
        memcpy(&rec, s->copies + off, sizeof rec);
        if (rec.size != sizeof rec + rec.len || rec.len > sizeof up_copy_buf || rec.size > head - tail)
            break; /* only a bug: drop the rest, the samples keep their pc */
        memcpy(up_copy_buf, s->copies + off + sizeof rec, rec.len);
        struct ehu_regs regs = {.rip = rec.pc, .rsp = rec.sp, .rbp = rec.bp};
        struct ehu_stack st = {.lo = rec.lo, .hi = rec.lo + rec.len,
                               .delta = (intptr_t)((uintptr_t)up_copy_buf - rec.lo)};
        uintptr_t ips[UP_COPY_MAX_FRAMES];
        unsigned fl = 0;
        int n = ehu_backtrace_from(&regs, &st, ips, UP_COPY_MAX_FRAMES, EHU_O_EXACT_PC, &fl);
        if (n < 0)
            n = 0;
        uint32_t flags = UP_STACK_DWARF | UP_STACK_COPY;
        if (fl & EHU_F_COMPLETE)
            flags |= DU_TRACE_COMPLETE;
        else if (fl & (EHU_F_BADREAD | EHU_F_TRUNCATED))
            flags |= DU_TRACE_TRUNCATED; /* the window (or the frame limit) ended it */
        struct up_rec_stack out = {
            .h = {.type = UP_REC_STACK, .flags = 0},
            .tid = rec.tid,
            .flags = flags,
            .cookie = rec.cookie,
            .nr = (uint32_t)n,
            .reserved = 0,
        };
        up_writer_stack(&out, sizeof out, n ? (const void *)ips : NULL, (size_t)n * 8);
        tail += rec.size;
        count++;
    }
    atomic_store_explicit(&s->c_tail, head, memory_order_release); /* partner: take's acquire */
    return count;
}
