/* urcu_flavors_mode.h - the driver's `urcu-flavors` and `urcu-op` modes
 * (liburcu bp against memb, urcu_flavors_mode.c). */
#ifndef URCU_FLAVORS_MODE_H
#define URCU_FLAVORS_MODE_H
#include <stdint.h>
/* The bp/memb table; every row interleaves the two flavors in one run. */
int urcu_flavors_table(int rounds);
/* One kernel n times, for callgrind (urcu-flavors.sh). 2 = unknown name. */
int urcu_flavors_op(const char *name, uint64_t n);
#endif
