/* The core unwind.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/unwind.c"
