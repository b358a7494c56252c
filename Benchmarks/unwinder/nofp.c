/* nofp.c - a function built without a frame pointer (-fomit-frame-pointer,
 * as Debian's libc and `swiftc -O` code are): the frame-pointer walk cannot
 * see its caller. */
#include <stdint.h>
int nofp_middle(int (*next)(int), int x)
{
    /* Calls through a pointer, so no tail call: this frame is live. */
    int r = next(x + 1);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}
