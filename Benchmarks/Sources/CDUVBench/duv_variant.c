#include "../../../Sources/CDeferredUnwindVariants/variant.c"
