/*
 * dus_prefix.h - the shipped request path (root Sources/CDeferredUnwind
 * request.c and cookie.c, no DU_VARIANTS, no step points) compiled into the
 * benchmark under the dus_ prefix, so the timed first-request loop can reset
 * the context by hand (the shipped .so hides du_self).  Only the symbols the
 * two files define or use are renamed; the rest of internal.h's declarations
 * are never referenced here.
 */
#ifndef DUS_PREFIX_H
#define DUS_PREFIX_H
#define du_request dus_request
#define du_current_cookie dus_current_cookie
#define du_cookie_get dus_cookie_get
#define du_serial_next dus_serial_next
#define du_self dus_self
#define du_have_membarrier dus_have_membarrier
#define du_tracer_slots dus_tracer_slots
#endif
