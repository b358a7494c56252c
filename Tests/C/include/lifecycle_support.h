/* lifecycle_support.h - process-lifecycle checks in C (fork children, step
 * hooks that block or siglongjmp, concurrent cancel/destroy).  Each returns
 * 0 when every check held, else nonzero with what failed written to msg.
 * Children run C only and leave with _exit(); a child that does not finish
 * within DU_LC_CHILD_BOUND_S seconds is killed and reported as hung. */
#ifndef DU_LIFECYCLE_SUPPORT_H
#define DU_LIFECYCLE_SUPPORT_H
#include <stddef.h>

#define DU_LC_CHILD_BOUND_S 10

/* fork while another thread sleeps inside a callback; the child attaches,
 * requests, registers, cancels (also the sleeping callback's tracer). */
int du_lc_fork_during_callback(char *msg, size_t len);
/* `forks` forks while other threads attach/detach, register/cancel and
 * request/safe-point in loops; each child does the same once. */
int du_lc_fork_during_churn(int forks, char *msg, size_t len);
/* fork while another thread is stopped inside du_request (step point). */
int du_lc_fork_inside_request(char *msg, size_t len);
/* fork with a request accepted on the forking thread: the parent delivers
 * it once, the child never; the child starts a fresh context. */
int du_lc_fork_with_pending(char *msg, size_t len);
/* fork while another thread is stopped inside du_tracer_cancel (step
 * point): the child finishes that cancel and can reuse the bit. */
int du_lc_fork_mid_cancel(char *msg, size_t len);
/* fork from inside a callback with a second tracer still to be called:
 * the child never calls it (the parent does, once). */
int du_lc_fork_from_callback(char *msg, size_t len);
/* fork from inside a callback while another thread cancels its tracer (it
 * deadlocked before issue 8); the child reuses the bit and, with
 * child_threads, cancels the reuser from a new thread while the forking
 * thread is still inside the callback. */
int du_lc_fork_in_callback_during_cancel(int child_threads, char *msg, size_t len);
/* `threads` threads cancel and destroy one tracer at once while its
 * callback sleeps; then every call on the stale handle. */
int du_lc_cancel_destroy_race(int threads, char *msg, size_t len);
/* a handler leaves du_request with siglongjmp (step point): cancel on that
 * thread is -EDEADLK, cancel elsewhere waits without blocking attach and
 * detach, and the thread's next safe point repairs the count. */
int du_lc_longjmp_leak_repair(char *msg, size_t len);
/* a handler leaves du_request with siglongjmp while its thread is inside
 * du_tracer_cancel (step point): that cancel does not wait for itself. */
int du_lc_longjmp_inside_cancel(char *msg, size_t len);
/* Frozen regions and proxy safe points (lc_proxy.c).  A target thread
 * requests X, enters a region and blocks; this thread serves it: one
 * callback on this thread with the target's cookie and a trace that starts
 * in the region's function and equals the target's own backtrace() above
 * it; inside the region the target's safe point and detach answer -EBUSY,
 * a repeat request 1 with the same cookie; after leave its safe point
 * delivers only the new tracer Y.  `report` gets a summary line. */
int du_lc_proxy_delivers_once(char *msg, size_t len, char *report, size_t rlen);
/* The proxy's callback holds until the target has started to leave, then
 * hold_ms more: leave returns 1 (waited) only after the callback ended. */
int du_lc_proxy_leave_waits(int hold_ms, char *msg, size_t len, char *report, size_t rlen);
/* A third thread cancels X while the proxy runs X's callback for the
 * target: cancel returns only after that callback. */
int du_lc_proxy_cancel_waits(char *msg, size_t len, char *report, size_t rlen);
/* pthread_exit below the region's frame: X delivered once (EXITING by the
 * exit, or by the proxy first when serve_first). */
int du_lc_proxy_exit_in_region(int serve_first, char *msg, size_t len);
/* A proxy's callback forks: in the child the serve returns at once (the
 * served thread does not exist there) and the child serves nothing, then
 * requests and delivers on its own; the parent's target goes on. */
int du_lc_proxy_fork_in_callback(char *msg, size_t len);
/* The proxy has read T's todo {A} and unwound; A is cancelled and D takes
 * A's slot meanwhile: the proxy's round must not call D (nor A).  Step
 * points (debug builds); 0 without them. */
int du_lc_proxy_bit_reuse(char *msg, size_t len);
/* -ESRCH unattached, -EINVAL leave outside, -EBUSY nested enter and serve
 * inside a region, -EDEADLK serve from a callback. */
/* The target cannot detach while a proxy is between its peek of the
 * target and its claim (step points only; 0 without them). */
int du_lc_proxy_detach_waits_for_peek(char *msg, size_t len);
int du_lc_proxy_misuse(char *msg, size_t len);
#endif
