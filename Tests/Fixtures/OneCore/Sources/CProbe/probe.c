/* probe.c - see probe.h. */
#include "probe.h"
#include <deferred_unwind.h>

int probe_attached(void) { return du_thread_is_attached(); }
