/* The shipped fork.c, unchanged, under the dus_ prefix (dus_prefix.h). */
#include "dus_prefix.h"
#include "../../../Sources/CDeferredUnwind/fork.c"
