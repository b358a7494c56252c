/*
 * deferred_unwind_variants.h - the core compiled with historical designs.
 *
 * Every du_X function of deferred_unwind.h and du_cookie_seed_seq()
 * exists here as duv_X with the same contract, compiled from the same source
 * files with DU_VARIANTS defined.  duv_select() picks, once, before any
 * duv_thread_attach(), which historical behaviour those functions have.
 * Used by the stress harness (which must catch each bug) and the benchmarks
 * (mutex-dispatch).  Objects of the two libraries must not be mixed: a
 * du_tracer from duv_tracer_register() goes only to duv_ functions.
 *
 * The variants, their descriptions and the races they reintroduce:
 * DUV_VARIANT_LIST in duv_variant_list.h (also `unwind-stress --list`).
 */
#ifndef DEFERRED_UNWIND_VARIANTS_H
#define DEFERRED_UNWIND_VARIANTS_H

#include <stdint.h>
#include "deferred_unwind.h" /* from the CDeferredUnwind target */
#include "duv_variant_list.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Select a variant by name ("none" for the shipped design).  Returns 0 or
 * -EINVAL (unknown name).
 * Context: thread, before any duv_thread_attach(). */
int duv_select(const char *name);
/* The selected variant's name. Context: any. */
const char *duv_selected(void);
/* NULL-terminated list of variant names, "none" first. Context: any. */
const char *const *duv_variant_names(void);

int duv_thread_attach(void);
int duv_thread_detach(void);
int duv_thread_is_attached(void);
int duv_tracer_register(du_callback callback, void *arg, const char *name, du_tracer **out);
int duv_tracer_cancel(du_tracer *tracer);
int duv_tracer_destroy(du_tracer *tracer);
int duv_tracer_bit(const du_tracer *tracer);
int duv_request(du_tracer *tracer, uint64_t *cookie);
int duv_safe_point(void);
uint64_t duv_current_cookie(void);
/* Test hooks: the calling thread's context counter, the thread serials,
 * and the historical designs' per-CPU counters. */
void duv_cookie_seed_seq(uint32_t value);
uint32_t duv_debug_claim_depth(void);
void duv_cookie_seed_serials(uint32_t value);
void duv_cookie_seed_counters(uint32_t value);
/* The white-box end of the calling thread's context (du_debug_reset_context,
 * deferred_unwind_debug.h): the benchmarks' timed first request. */
void duv_debug_reset_context(void);

#ifdef __cplusplus
}
#endif
#endif
