/* Public header of the duv_ build: the root one. */
#include "../../../../Sources/CDeferredUnwindVariants/include/deferred_unwind_variants.h"
