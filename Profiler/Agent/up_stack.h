/*
 * up_stack.h - the tracer callback (up_stack.c).
 */
#ifndef UP_STACK_H
#define UP_STACK_H

#include <stdint.h>

struct du_trace;
/* Context: thread (a safe point, thread exit, process exit); never a
 * handler.  Registered with du_tracer_register by the constructor. */
void up_stack_callback(const struct du_trace *trace, uint64_t cookie, void *arg);

#endif /* UP_STACK_H */
