/* val_o0.c - a validation workload built -O0 (RBP-based frames). */
#include "val.h"

int v_o0_rec(int x)
{
    int a = x * 3, b = x + 7;
    vstep();
    return a + b;
}
