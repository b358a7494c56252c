/*
 * up_name.c - prctl(PR_SET_NAME): a thread naming itself without
 * pthread_setname_np (Python's threading, Go's runtime, many servers).
 * A successful rename re-emits the thread's THREAD record, as
 * pthread_setname_np does (up_thread.c): the writer picks the new name up
 * from the slot at its next drain, after the samples taken before it, so
 * the report names each sample as the thread was named then.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "up_agent.h"
#include "up_real.h"
#include "up_slot.h"
#include "up_tls.h"

/* Context: thread (any; not async-signal-safe when it renames: the slot's
 * name lock).  prctl is variadic: the four optional arguments are read as
 * unsigned longs and passed on, as glibc's own prctl does, to the system
 * call through libc's syscall() (glibc's prctl is that system call: -1 and
 * errno on failure, which syscall() gives the same way).  errno is the
 * call's. */
UP_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long);
    unsigned long a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long);
    unsigned long a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int r = (int)up_real_syscall()(SYS_prctl, (long)option, a2, a3, a4, a5);
    if (option != PR_SET_NAME || r != 0 || !up_is_active() || up_tls.guard != 0)
        return r;
    int saved = errno;
    up_tls.guard++;
    /* Relaxed: the thread's own slot, which only this thread publishes. */
    struct up_slot *s = atomic_load_explicit(&up_tls.slot, memory_order_relaxed);
    const char *name = (const char *)a2;
    /* The kernel took at most 15 bytes (TASK_COMM_LEN - 1) and the call
     * succeeded, so the string was readable that far. */
    if (s)
        up_slot_set_name(s, name, strnlen(name, 15));
    up_tls.guard--;
    errno = saved;
    return r;
}
