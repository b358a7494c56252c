/* The core fork.c under the duv_ prefix (hooks: variant_hooks.c). */
#include "prefix.h"
#include "../CDeferredUnwind/fork.c"
