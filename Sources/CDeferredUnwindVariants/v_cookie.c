/* The core cookie.c with DU_VARIANTS branches, under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/cookie.c"
