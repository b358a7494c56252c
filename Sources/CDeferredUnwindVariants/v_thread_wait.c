/* The core thread_wait.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/thread_wait.c"
