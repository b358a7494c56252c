/* The core proxy.c under the duv_ prefix. */
#include "prefix.h"
#include "../CDeferredUnwind/proxy.c"
