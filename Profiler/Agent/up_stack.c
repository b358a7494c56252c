/*
 * up_stack.c - the tracer callback: one STACK record per entry context.
 *
 * Runs on the sampled thread, in thread context: at the safe point after an
 * interposed call returned (up_safe_point), at the thread's exit teardown or
 * at process exit (the core's at-exit delivery; traces then are empty and
 * flagged DU_TRACE_EXITING).  The thread is the only producer of its stack
 * ring (up_ring.h); the guard is raised so nothing it calls is marked.
 *
 * The top of the trace is the agent's own: up_safe_point, the interposer,
 * maybe a resume helper (and the core, linked into the agent).  Every
 * leading address inside the agent's executable segment is cut, so the
 * record starts at the program's call site.  Flag 0x200: the frames come
 * from the core's unwinder (its rule cache, or glibc backtrace()).
 *
 * A proxy's callback (DU_TRACE_PROXY) runs on the writer thread, inside
 * du_proxy_serve (up_writer.c), for a thread still blocked in an
 * interposed call: the cookie's thread half names the thread's slot, and
 * the record goes straight into the file (the writer is the file's only
 * writer; the blocked thread's ring has its own producer).
 *
 * A full ring: wake the writer (up_writer_kick) and wait for it up to
 * UP_STACK_WAIT_MS in 1 ms real sleeps, then count the stack lost (LOST
 * record kind 1).  No wait when the writer has finished (process exit).
 */
#include <deferred_unwind.h>
#include "up_real.h"
#include "up_ring.h"
#include "up_slot.h"
#include "up_stack.h"
#include "up_tls.h"
#include "up_writer.h"

/* At most half the ring per record, so one record never waits for the
 * whole ring to drain. */
#define UP_STACK_MAX_FRAMES ((UP_STACK_RING_BYTES / 2 - sizeof(struct up_rec_stack)) / 8)

static int up_in_agent(uintptr_t ip)
{
    return ip >= up_config.text_start && ip < up_config.text_end;
}

static uint32_t up_skip_agent(const struct du_trace *trace)
{
    uint32_t skip = 0;
    while (skip < trace->nr && up_in_agent(trace->ips[skip]))
        skip++;
    return skip;
}

/* Context: the writer thread, inside du_proxy_serve. */
static void up_stack_proxied(const struct du_trace *trace, uint64_t cookie)
{
    uint32_t serial = du_cookie_thread_half(cookie);
    struct up_slot *s = NULL;
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n && !s; i++)
        /* Acquire on the state: the slot's tid (up_slot.h); du_serial was
         * written by the owner before its region (the core's claim orders it). */
        if (atomic_load_explicit(&up_slots[i]->state, memory_order_acquire) == UP_SLOT_OWNED &&
            atomic_load_explicit(&up_slots[i]->du_serial, memory_order_relaxed) == serial)
            s = up_slots[i];
    if (!s)
        return; /* the thread's samples count as stack lost */
    uint32_t skip = up_skip_agent(trace);
    uint32_t nr = trace->nr - skip;
    uint32_t flags = trace->flags | UP_STACK_DWARF;
    if (nr > UP_STACK_MAX_FRAMES) {
        nr = UP_STACK_MAX_FRAMES;
        flags |= DU_TRACE_TRUNCATED;
    }
    struct up_rec_stack rec = {
        .h = {.type = UP_REC_STACK, .flags = 0},
        .tid = s->tid,
        .flags = flags,
        .cookie = cookie,
        .nr = nr,
        .reserved = 0,
    };
    up_writer_stack(&rec, sizeof rec, nr ? (const void *)(trace->ips + skip) : NULL, (size_t)nr * 8);
}

void up_stack_callback(const struct du_trace *trace, uint64_t cookie, void *arg)
{
    (void)arg;
    if (trace->flags & DU_TRACE_PROXY) {
        up_tls.guard++;
        int phase = up_phase_get();
        if (phase == UP_ACTIVE || phase == UP_STOPPING)
            up_stack_proxied(trace, cookie);
        up_tls.guard--;
        return;
    }
    up_tls.guard++;
    int phase = up_phase_get();
    struct up_slot *s = atomic_load_explicit(&up_tls.slot, memory_order_relaxed); /* own thread */
    /* discarding, or a stale context delivered by exit: the call a jump
     * abandoned gets no stack (up_call.h). */
    if (!s || up_tls.warming || up_tls.discarding || atomic_load_explicit(&up_tls.stale, memory_order_relaxed) ||
        (phase != UP_ACTIVE && phase != UP_STOPPING))
        goto out;
    uint32_t skip = up_skip_agent(trace);
    uint32_t nr = trace->nr - skip;
    uint32_t flags = trace->flags | UP_STACK_DWARF;
    if (nr > UP_STACK_MAX_FRAMES) { /* a core with a deeper cache: keep the innermost */
        nr = UP_STACK_MAX_FRAMES;
        flags |= DU_TRACE_TRUNCATED;
    }
    struct up_rec_stack rec = {
        .h = {.type = UP_REC_STACK, .flags = 0, .size = up_rec_size(sizeof rec, (size_t)nr * 8)},
        .tid = s->tid,
        .flags = flags,
        .cookie = cookie,
        .nr = nr,
        .reserved = 0,
    };
    const uint64_t *ips = nr ? (const uint64_t *)(trace->ips + skip) : NULL;
    for (int waited = 0;; waited++) {
        if (up_stack_push(s, &rec, ips) == 0)
            break;
        if (waited >= UP_STACK_WAIT_MS || !up_writer_running()) {
            /* Only this thread writes its stack count (relaxed: the writer's
             * read is ordered by the slot state, up_ring.h). */
            uint64_t lost = atomic_load_explicit(&s->k_lost, memory_order_relaxed);
            atomic_store_explicit(&s->k_lost, lost + 1, memory_order_relaxed);
            break;
        }
        if (waited == 0)
            up_writer_kick(); /* a round now, not at the end of its period */
        struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
        (void)up_real_nanosleep()(&ms, NULL); /* an EINTR just shortens one step */
    }
out:
    up_tls.guard--;
}
