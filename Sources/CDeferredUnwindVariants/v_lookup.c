/* The core lookup.c with DU_VARIANTS branches, under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/lookup.c"
