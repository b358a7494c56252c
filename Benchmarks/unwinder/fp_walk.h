#include <stdint.h>
struct fp_stack { uintptr_t lo, hi; };
enum { FP_STOP_END, FP_STOP_BAD_FRAME, FP_STOP_BAD_RA };
void fp_walk_init(struct fp_stack *st);
int fp_walk(const struct fp_stack *st, uintptr_t *ips, int max, int *stop);
