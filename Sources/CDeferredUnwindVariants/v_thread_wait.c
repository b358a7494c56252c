/* The core thread_wait.c with DU_VARIANTS branches, under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/thread_wait.c"
