/* The core cookie.c with DU_VARIANTS branches, under the duv_ prefix.
 * _GNU_SOURCE: the historical per-CPU designs call sched_getcpu(). */
#define _GNU_SOURCE
#include "prefix.h"
#include "../CDeferredUnwind/cookie.c"
