/* The core thread.c under the duv_ prefix (hooks: variant_hooks.c). */
#include "prefix.h"
#include "../CDeferredUnwind/thread.c"
