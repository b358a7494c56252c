/* The shipped proxy.c, unchanged, under the dus_ prefix (dus_prefix.h). */
#include "dus_prefix.h"
#include "../../../Sources/CDeferredUnwind/proxy.c"
