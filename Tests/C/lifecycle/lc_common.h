/* lc_common.h - shared by the lifecycle checks (not a public header). */
#ifndef DU_LC_COMMON_H
#define DU_LC_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include "deferred_unwind.h"
#include "deferred_unwind_debug.h"
#include "lifecycle_support.h"

/* Write a failure message (first one wins) and return 1. */
int du_lc_fail(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fork a child that runs fn(arg) and _exit()s with its result; a nonzero
 * result's message travels back through a pipe.  Waits at most
 * DU_LC_CHILD_BOUND_S seconds.  0 when the child returned 0. */
int du_lc_in_child(int (*fn)(void *arg, char *msg, size_t len), void *arg,
                   char *msg, size_t len);
/* Wait for a child forked by the caller, bounded; 0 on exit status 0. */
int du_lc_wait_child(pid_t pid, int errfd, char *msg, size_t len);
/* sem_wait with a bound: 0, or -ETIMEDOUT. */
int du_lc_sem_wait(sem_t *s, int seconds);
/* In a child: attach if needed, register, request, safe point, cancel,
 * detach if we attached; checks each answer.  0 or 1 with msg. */
int du_lc_child_exercise(char *msg, size_t len);
#endif
