/* The shipped ehu_cfi.c, unchanged, under the dus_ prefix (dus_prefix.h). */
#include "dus_prefix.h"
#include "../../../Sources/CDeferredUnwind/ehu_cfi.c"
