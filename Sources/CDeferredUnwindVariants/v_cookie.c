/* The core cookie.c under the duv_ prefix; its historical designs are in
 * variant_cookie.c (the hooks of ../CDeferredUnwind/hooks.h). */
#include "prefix.h"
#include "../CDeferredUnwind/cookie.c"
