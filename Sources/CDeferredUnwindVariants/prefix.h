/*
 * prefix.h - rename the core's external symbols to duv_ so this library and
 * CDeferredUnwind can live in one process.  Included first by every file
 * here, before the core source it wraps or the core headers (hooks.h, whose
 * DU_VARIANTS half this target defines: variant_*.c, variant_dispatch.h).
 */
#ifndef DUV_PREFIX_H
#define DUV_PREFIX_H
#define du_thread_attach duv_thread_attach
#define du_thread_detach duv_thread_detach
#define du_thread_is_attached duv_thread_is_attached
#define du_thread_footprint duv_thread_footprint
#define du_trace_cache_bytes duv_trace_cache_bytes
#define du_trace_capacity duv_trace_capacity
#define du_tracer_register duv_tracer_register
#define du_tracer_cancel duv_tracer_cancel
#define du_tracer_destroy duv_tracer_destroy
#define du_tracer_bit duv_tracer_bit
#define du_tracer_name duv_tracer_name
#define du_request duv_request
#define du_safe_point duv_safe_point
#define du_current_cookie duv_current_cookie
#define du_cookie_seed_seq duv_cookie_seed_seq
#define du_cookie_seed_serials duv_cookie_seed_serials
#define du_debug_claim_depth duv_debug_claim_depth
#define du_cookie_seed_counters duv_cookie_seed_counters
#define du_debug_step_points_built duv_debug_step_points_built
/* internal */
#define du_self duv_self
#define du_cookie_get duv_cookie_get
#define du_serial_next duv_serial_next
#define du_registry_call duv_registry_call
#define du_rcu_synchronize duv_rcu_synchronize
#define du_dispatch duv_dispatch
#define du_threads_scrub duv_threads_scrub
#define du_threads_wait_requests duv_threads_wait_requests
#define du_threads_wait_callbacks duv_threads_wait_callbacks
#define du_threads_count_gone duv_threads_count_gone
#define du_threads_forget_gone duv_threads_forget_gone
#define du_have_membarrier duv_have_membarrier
#define du_unwind duv_unwind
#define du_cache_free duv_cache_free
#define du_unwind_warm_up duv_unwind_warm_up
#define du_tracer_slots duv_tracer_slots
#define du_registry_fork_prepare duv_registry_fork_prepare
#define du_registry_fork_parent duv_registry_fork_parent
#define du_registry_fork_child duv_registry_fork_child
#define du_membarrier_register duv_membarrier_register
#define du_library_init duv_library_init
#define du_threads_fork_prepare duv_threads_fork_prepare
#define du_threads_fork_parent duv_threads_fork_parent
#define du_threads_fork_child duv_threads_fork_child
#define du_fork_init duv_fork_init
#define du_fork_epoch duv_fork_epoch
#define du_threads_lock duv_threads_lock
#define du_threads duv_threads
/* the hooks (../CDeferredUnwind/hooks.h), defined by this target */
#define du_hook_cookie_may_be_unset duv_hook_cookie_may_be_unset
#define du_hook_claim duv_hook_claim
#define du_hook_round duv_hook_round
#define du_hook_completed duv_hook_completed
#define du_hook_reset duv_hook_reset
#define du_hook_lookup_unlocked duv_hook_lookup_unlocked
#define du_hook_callbacks_begin duv_hook_callbacks_begin
#define du_hook_callbacks_end duv_hook_callbacks_end
#define du_hook_cancel_skips_waits duv_hook_cancel_skips_waits
#define du_hook_cancel_wait_dispatch duv_hook_cancel_wait_dispatch
#define du_hook_cancel_skips_scrub duv_hook_cancel_skips_scrub
#define du_hook_exit_drops_pending duv_hook_exit_drops_pending
#define du_hook_fork_handlers duv_hook_fork_handlers

/* Which historical design runs (variant.c). */
enum duv_variant {
    DUV_NONE,
    DUV_COOKIE48,
    DUV_RETURN_LOCAL,
    DUV_NAIVE_PERCPU,
    DUV_PENDING_LATE,
    DUV_NONATOMIC_CLAIM,
    DUV_PLAIN_RESET,
    DUV_NO_COMPLETED,
    DUV_CANCEL_NO_WAIT,
    DUV_CANCEL_NO_SCRUB,
    DUV_EXIT_DROPS_PENDING,
    DUV_MUTEX_DISPATCH,
    DUV_COUNT
};
extern enum duv_variant duv_variant;
#define DUV_IS(v) (duv_variant == DUV_##v)
#endif
