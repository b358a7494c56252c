/* The root CDeferredUnwindVariants source, compiled here (no product exports it). */
#include "../../../Sources/CDeferredUnwindVariants/variant_hooks.c"
