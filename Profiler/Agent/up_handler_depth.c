/*
 * up_handler_depth.c - the depth of the program's handlers running on a
 * thread (the trampolines of up_signal.c count them), and its repair after
 * a handler was left by a jump.  Interposers called from inside a handler
 * pass straight through (no attach, no safe point: it unwinds); a depth a
 * siglongjmp left raised would make every later call of the thread pass
 * through, so an interposed call (and the SIGPROF handler) compares the
 * stack pointer with the frames the trampolines recorded and pops those
 * that are gone.  Context: each function's own comment; all touch only
 * this thread's up_tls words (relaxed: same-thread partners, signal
 * fences where a handler reads them).
 */
#include <signal.h>
#include <ucontext.h>
#include "up_call.h"
#include "up_signal.h"
#include "up_tls.h"

/* A program handler starts on this thread: count it (an interposed call it
 * interrupted compares the count when its real call returns: same thread,
 * up_call_ours) and record the trampoline's frame, and its alternate stack
 * if it runs on one, for up_handler_repair.  Context: handler. */
void up_handler_enter(const void *ucv, uintptr_t frame, int count)
{
    if (count)
        atomic_fetch_add_explicit(&up_tls.foreign, 1, memory_order_relaxed);
    uint32_t d = atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed);
    if (d < 8) {
        const ucontext_t *uc = ucv;
        uintptr_t lo = 0, hi = 0;
        if (uc && !(uc->uc_stack.ss_flags & SS_DISABLE) && uc->uc_stack.ss_size) {
            lo = (uintptr_t)uc->uc_stack.ss_sp;
            hi = lo + uc->uc_stack.ss_size;
            if (frame < lo || frame >= hi)
                lo = hi = 0; /* not on it */
        }
        up_tls.tramp_sp[d] = frame;
        up_tls.tramp_alt_lo[d] = lo;
        up_tls.tramp_alt_hi[d] = hi;
    }
    atomic_signal_fence(memory_order_seq_cst); /* the record before the depth */
    atomic_store_explicit(&up_tls.in_handler, d + 1, memory_order_relaxed);
}

void up_handler_leave(void)
{
    uint32_t d = atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed);
    if (d)
        atomic_store_explicit(&up_tls.in_handler, d - 1, memory_order_relaxed);
}

int up_handler_repair(void) { return up_handler_repair_at((uintptr_t)__builtin_frame_address(0)); }

int up_handler_repair_at(uintptr_t sp)
{
    uint32_t d = atomic_load_explicit(&up_tls.in_handler, memory_order_relaxed);
    while (d > 0 && d <= 8) {
        uint32_t i = d - 1;
        int inside = up_tls.tramp_alt_lo[i]
                         ? sp >= up_tls.tramp_alt_lo[i] && sp < up_tls.tramp_alt_hi[i]
                         : sp < up_tls.tramp_sp[i];
        if (inside)
            break;
        d--; /* that handler's frame is gone: a jump left it */
    }
    atomic_store_explicit(&up_tls.in_handler, d, memory_order_relaxed);
    return d == 0;
}
