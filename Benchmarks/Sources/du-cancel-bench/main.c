/*
 * du-cancel-bench - (7a) and (7b) alone, public API only, so that
 * Scripts/bench/cancel-ab.sh can build it against an older core as well and run
 * the two binaries interleaved.  The calling thread is attached, as in
 * du-bench-driver.
 *   du-cancel-bench cancel-idle [SAMPLES [OTHERS]]   default 2000, 1
 *   du-cancel-bench cancel-sleep [REPS [MS]]         default 21, 100
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cancel_bench.h"
#include "deferred_unwind.h"

int main(int argc, char **argv)
{
    int r = du_thread_attach();
    if (r < 0) {
        fprintf(stderr, "attach: %d\n", r);
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "cancel-idle") == 0)
        return cancel_idle_main(argc >= 3 ? atoi(argv[2]) : 2000, argc >= 4 ? atoi(argv[3]) : 1);
    if (argc >= 2 && strcmp(argv[1], "cancel-sleep") == 0)
        return cancel_sleep_main(argc >= 3 ? atoi(argv[2]) : 21, argc >= 4 ? (unsigned)atoi(argv[3]) : 100);
    fprintf(stderr, "usage: %s cancel-idle [SAMPLES [OTHERS]] | cancel-sleep [REPS [MS]]\n", argv[0]);
    return 2;
}
