/* probe.h - a C target that depends on the DeferredUnwind product only. */
#ifndef ONECORE_PROBE_H
#define ONECORE_PROBE_H
/* du_thread_is_attached(), through the header the Swift product brings. */
int probe_attached(void);
#endif
