/* The core fork.c with DU_VARIANTS branches, under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/fork.c"
