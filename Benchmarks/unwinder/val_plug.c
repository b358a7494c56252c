/* val_plug.c - the dlopen/dlclose object, built twice: FRAME=200 (a) and
 * FRAME=2000 (b).  Both imm32-encoded: the two objects have the same code
 * layout (same return-address offsets) but different CFA offsets, so a
 * stale cached row of (a) used for (b) gives a wrong caller. */
#ifndef FRAME
#define FRAME 200
#endif
void vstep(void);

__attribute__((noinline)) int plug_call(int x)
{
    volatile char buf[FRAME];
    buf[0] = (char)x;
    buf[FRAME - 1] = 1;
    vstep(); /* through this object's PLT */
    return buf[0] + buf[FRAME - 1];
}
