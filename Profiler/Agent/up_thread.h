/*
 * up_thread.h - attaching threads and their exit (up_thread.c).
 * The lazy attach and the stale-mark discard used by every interposer are in
 * up_call.h, next to the inline code that calls them.
 */
#ifndef UP_THREAD_H
#define UP_THREAD_H

/* Create the key whose destructor detaches an exiting thread.  0 or
 * -errno.  Context: the constructor, once. */
int up_thread_init(void);
/* Attach the thread running the constructor (main), if recording.
 * Context: the constructor. */
void up_thread_attach_self(void);
/* Mark the calling thread as the agent's own (the writer): never sampled
 * nor attached.  Context: the writer thread, at its start. */
void up_thread_mark_internal(void);

#endif
