/*
 * dus_prefix.h - the shipped core (root Sources/CDeferredUnwind, every .c
 * file but step.c; no DU_VARIANTS, so the hooks of hooks.h are the shipped
 * no-ops; no step points) compiled into the benchmark under the dus_
 * prefix, with the test hooks (DU_TEST_HOOKS), so the timed first-request
 * loop can end the context with du_debug_reset_context (the shipped .so
 * hides its test hooks and du_self).  The renames are the variants'
 * (rename.h).
 */
#ifndef DUS_PREFIX_H
#define DUS_PREFIX_H
#define DU_RENAME(name) dus_##name
#include "../../../Sources/CDeferredUnwindVariants/rename.h"
#endif
