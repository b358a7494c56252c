/* val_check.h - shared by the validation's driver (ehu_validate.c) and its
 * signal samples (val_signal.c). */
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#define MAXF 1024

struct counts {
    long stacks, frames, equal, differ, fallback, incomplete;
};
extern struct counts sig, hnd; /* walks from signal copies, and in the handler */
extern long diffs_printed;   /* at most 200 differences are listed */
extern __thread uintptr_t t_stack_hi;

void val_sym(uintptr_t a, char *buf, size_t n);
long val_compare(struct counts *c, const char *what, void **ref, int nr, int r0, const uintptr_t *got, int ng, int g0,
                 unsigned fl);
void val_check_sample(void);
void val_set_target(pthread_t t);
void val_sampling_start(void);
void val_sampling_stop(void);
long val_check_plt(void);
void val_signal_notes(void);
