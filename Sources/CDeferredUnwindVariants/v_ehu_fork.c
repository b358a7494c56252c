/* The core ehu_fork.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/ehu_fork.c"
