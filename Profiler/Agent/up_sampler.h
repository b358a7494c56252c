/*
 * up_sampler.h - per-thread sampling timers and the SIGPROF handler.
 */
#ifndef UP_SAMPLER_H
#define UP_SAMPLER_H

#include "up_slot.h"

/* Install the SIGPROF handler; the disposition it replaces becomes the
 * program's recorded SIGPROF action (up_signal.c).  0 or -errno.
 * Context: the constructor. */
int up_sampler_install(void);
/* Create and arm the calling thread's timer (s is its slot).  0 or -errno.
 * Context: the owning thread, attach. */
int up_timer_start(struct up_slot *s);
/* Delete the slot's timer if nobody did yet.  Context: thread (the owner at
 * exit, or process exit for every slot). */
void up_timer_stop(struct up_slot *s);
/* Process exit: every slot's timer.  Context: thread, phase STOPPING. */
void up_timer_stop_all(void);

#endif /* UP_SAMPLER_H */
