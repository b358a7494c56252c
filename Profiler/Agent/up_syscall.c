/*
 * up_syscall.c - a thread's state at a tick, from its interrupted context
 * (x86-64), and its CPU clock.
 *
 * A timer signal reaches a thread in one of three ways:
 *  - running user code: the timer interrupt returns to user mode with the
 *    signal pending; the context's pc is wherever the thread was;
 *  - running in the kernel (a system call that is working, not sleeping):
 *    the signal is delivered on the call's return to user mode; the call
 *    completed, pc is just after its `syscall` instruction, rax its result;
 *  - asleep in a system call: the signal wakes it and the call gives up with
 *    -ERESTART*; before the handler runs, the kernel either rewinds pc by 2
 *    onto the `syscall` instruction (0f 05) and puts the call's number back
 *    in rax (-ERESTARTSYS with SA_RESTART, as our handler has, and
 *    -ERESTARTNOINTR), or leaves pc after it with rax = -EINTR
 *    (-ERESTARTNOHAND, -ERESTART_RESTARTBLOCK: nanosleep, clock_nanosleep,
 *    poll, futex with a timeout...; the interposers retry those).
 * Measured (Benchmarks/results/2026-12-08/cpu-split-ucontext.txt, 1 kHz):
 * 702 of 704 ticks during waitpid were rewound with rax 61 (wait4), 909 of
 * 909 during a write to a full pipe with rax 1 (write); ticks during
 * clock_nanosleep came back -EINTR after `mov $230,%eax; syscall`; ticks in
 * a CPU loop were neither.
 * A sleeping transfer that already moved bytes (a pipe write that filled
 * the pipe, then slept) returns the partial count instead: pc after 0f 05,
 * rax >= 0, exactly like a call that completed while running.  Those are
 * UP_UC_RETURN: the report lets the thread's CPU time decide (Docs/Profiler.md).
 * So: pc on 0f 05 = blocked, rax its number (a thread interrupted in user
 * code exactly before a syscall instruction looks the same: a window of one
 * instruction); pc after 0f 05 with rax = -EINTR = blocked, the number read
 * from a preceding `mov $imm32,%eax` (b8 imm32) when there is one, as
 * glibc's wrappers have.  A completed call that returned EINTR for another
 * reason at that very tick is miscounted as blocked.
 * Reads stay inside the pc's page: the pc is mapped (the thread executes
 * there), a neighbouring page may not be.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include "up_syscall.h"

#define UP_PAGE 4096u

#if defined(__x86_64__)
static int up_same_page(uintptr_t a, uintptr_t b)
{
    return a / UP_PAGE == b / UP_PAGE;
}
#endif

int up_uc_syscall_state(const void *ucv, int32_t *nr)
{
#if defined(__x86_64__)
    const ucontext_t *uc = ucv;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    int64_t rax = (int64_t)uc->uc_mcontext.gregs[REG_RAX];
    const volatile unsigned char *p = (const volatile unsigned char *)pc;
    if (pc == 0 || pc >= 0x800000000000ull) /* not user text (the vsyscall page is execute-only) */
        return UP_UC_RUNNING;
    if (up_same_page(pc, pc + 1) && p[0] == 0x0f && p[1] == 0x05) {
        *nr = rax >= 0 && rax <= INT32_MAX ? (int32_t)rax : -1;
        return UP_UC_BLOCKED;
    }
    if (up_same_page(pc - 2, pc) && p[-2] == 0x0f && p[-1] == 0x05) {
        *nr = -1;
        if (up_same_page(pc - 7, pc) && p[-7] == 0xb8) {
            uint32_t imm = (uint32_t)p[-6] | (uint32_t)p[-5] << 8 | (uint32_t)p[-4] << 16 | (uint32_t)p[-3] << 24;
            if (imm <= 4095u)
                *nr = (int32_t)imm;
        }
        return rax == -EINTR ? UP_UC_BLOCKED : UP_UC_RETURN;
    }
    return UP_UC_RUNNING;
#else
    (void)ucv;
    (void)nr;
    return UP_UC_UNKNOWN;
#endif
}

uint64_t up_thread_cpu_us(void)
{
    int saved = errno;
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        errno = saved;
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
