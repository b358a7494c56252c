/* The core ehu_cfi.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/ehu_cfi.c"
