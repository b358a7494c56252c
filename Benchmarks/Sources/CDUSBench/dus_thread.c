/* The shipped thread.c, unchanged, under the dus_ prefix (dus_prefix.h). */
#include "dus_prefix.h"
#include "../../../Sources/CDeferredUnwind/thread.c"
