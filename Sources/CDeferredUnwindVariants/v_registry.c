/* The core registry.c with DU_VARIANTS branches, under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/registry.c"
