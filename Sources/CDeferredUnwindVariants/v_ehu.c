/* The core ehu.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/ehu.c"
