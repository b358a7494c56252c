/* variant_window.h - widen a historical race window so the stress harness
 * hits it within seconds on two cores.  Only the duv_ library has it. */
#ifndef DUV_VARIANT_WINDOW_H
#define DUV_VARIANT_WINDOW_H
#include <sched.h>

/* About a microsecond of spinning, then a yield: a signal or a preempting
 * thread on the same CPU lands inside the window often enough. */
static inline void duv_window(void)
{
    for (int i = 0; i < 512; i++)
        __asm__ __volatile__("pause" ::: "memory");
    sched_yield();
}

static inline void duv_claim_window(void) { duv_window(); }
#endif
