/* The core dispatch.c under the duv_ prefix, followed by its historical
 * designs (variant_dispatch.h), which reuse its static helpers. */
#include "prefix.h"
#include "../CDeferredUnwind/dispatch.c"
#include "variant_dispatch.h"
