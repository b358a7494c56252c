/*
 * agent_futex_race.c - a FUTEX_WAKE that lands while a profiler tick has
 * the waiter out of its FUTEX_WAIT.  Rounds: the main thread clears the
 * word, starts a round, checks that the word is still 0 and waits on it
 * (raw syscall, no timeout); the helper sleeps 1 ms, sets the word to 1
 * and wakes one waiter.  A wait that began with the word at 0 and returns
 * EAGAIN saw the word change while it was not waiting: without a profiler
 * that needs the wake to land in the few instructions between the check
 * and the kernel's own compare; with one, in any tick's handler (the
 * kernel restarts the wait after an SA_RESTART handler and the restart
 * compares again).  Prints
 *   FUTEX rounds=<n> woken=<0 results> eagain=<EAGAIN after a 0 check> late=<word 1 before the call>
 *   agent_futex_race [rounds]      (default 1000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint32_t word, round_no;
static int rounds = 1000;

static long futex(_Atomic uint32_t *w, int op, uint32_t val)
{
    return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *waker(void *arg)
{
    for (uint32_t seen = 0; seen < (uint32_t)rounds;) {
        uint32_t r = atomic_load(&round_no);
        if (r == seen) {
            futex(&round_no, FUTEX_WAIT_PRIVATE, r);
            continue;
        }
        seen = r;
        struct timespec ms = {0, 1000000};
        while (nanosleep(&ms, &ms) != 0)
            ;
        atomic_store(&word, 1);
        futex(&word, FUTEX_WAKE_PRIVATE, 1);
    }
    return arg;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    pthread_t t;
    if (rounds <= 0 || pthread_create(&t, NULL, waker, NULL) != 0)
        return 2;
    int woken = 0, eagain = 0, late = 0;
    for (int i = 0; i < rounds; i++) {
        atomic_store(&word, 0);
        atomic_fetch_add(&round_no, 1);
        futex(&round_no, FUTEX_WAKE_PRIVATE, 1);
        int first = 1;
        while (atomic_load(&word) == 0 || first) {
            if (atomic_load(&word) != 0) {
                late++;
                break;
            }
            long r = futex(&word, FUTEX_WAIT_PRIVATE, 0);
            if (first && r == 0)
                woken++;
            else if (first && r < 0 && errno == EAGAIN)
                eagain++;
            first = 0;
        }
    }
    pthread_join(t, NULL);
    printf("FUTEX rounds=%d woken=%d eagain=%d late=%d\n", rounds, woken, eagain, late);
    return 0;
}
