/*
 * ehu.h - a compact unwind-rule cache built from .eh_frame (x86-64 Linux).
 *
 * One row per return address: CFA = RSP+off or RBP+off, RA at CFA-8, RBP
 * saved at CFA+k or unchanged.  Rows live in a global open-addressed table
 * read without locks (per-slot seqlock, see ehu.c); a miss parses the FDE
 * (ehu_cfi.c) in thread context and inserts the row.  Rows the table cannot
 * express (DWARF expressions other than the PLT pattern, a CFA in another
 * register, unusual register rules) make ehu_backtrace() fall back to glibc
 * backtrace() for the whole stack; ehu_backtrace_from() stops there instead.
 * Signal frames (glibc's __restore_rt, 'S' CIE) are walked through: the
 * interrupted registers are read from the kernel's ucontext_t on the stack.
 *
 * Contexts: ehu_backtrace() and ehu_backtrace_from() without EHU_O_NOFILL
 * are thread context only (a miss takes ehu's fill mutex; the per-walk
 * dlclose check takes the loader lock inside dl_iterate_phdr).  With
 * EHU_O_NOFILL | EHU_O_NOGEN the walk takes no lock and calls nothing but
 * memory reads: async-signal-safe (misses end the walk, flagged MISS).
 * Such a walk is only as fresh as the last ehu_sync(): the owner must call
 * ehu_sync() right after every dlopen/dlclose it can see (the core would
 * from interposed dlopen/dlclose, and at each safe point); the validation
 * suite found the stale rows a NOGEN walk uses otherwise.
 */
#ifndef EHU_H
#define EHU_H
#include <stdint.h>
#include <ucontext.h>

/* Every ehu_ symbol is hidden: internal to whichever copy of the core
 * links it (a second copy, the variants library, renames them with
 * rename.h); the asm entry stub in ehu.c says .hidden itself. */
#pragma GCC visibility push(hidden)

/* Result flags: which unwinder produced the frames, and how the walk ended. */
enum {
    EHU_F_EHU = 1u << 0,       /* frames from the rule cache walk */
    EHU_F_BACKTRACE = 1u << 1, /* fell back to glibc backtrace() (whole stack) */
    EHU_F_COMPLETE = 1u << 2,  /* reached the outermost frame (RA undefined) */
    EHU_F_TRUNCATED = 1u << 3, /* `max` frames reached before the end */
    EHU_F_DWARF = 1u << 4,     /* a frame needs a full DWARF step */
    EHU_F_NOFDE = 1u << 5,     /* a pc without an FDE ended the walk */
    EHU_F_BADREAD = 1u << 6,   /* a read outside [lo, hi) or a CFA not above sp */
    EHU_F_MISS = 1u << 7,      /* EHU_O_NOFILL: a cache miss ended the walk */
};

/* Options of ehu_backtrace_from(). */
enum {
    EHU_O_EXACT_PC = 1u << 0, /* regs->rip is an interrupted pc, not a return address */
    EHU_O_NOFILL = 1u << 1,   /* never fill on a miss (no lock) */
    EHU_O_NOGEN = 1u << 2,    /* skip the dlopen/dlclose generation check (no lock) */
};

struct ehu_regs {
    uintptr_t rip, rsp, rbp;
};

/* Bounded stack reader: addresses [lo, hi) of the unwound thread's stack
 * are readable at addr + delta (delta = 0: the live stack; a stack copy
 * taken at `lo` into buf: delta = buf - lo).  Every read is checked.
 * For an interrupted context (a signal's ucontext) take lo = rsp - 128:
 * in an epilogue, after `pop %rbp`, GCC's CFI still says "RBP saved at
 * CFA-k" (it emits no .cfi_restore), a slot now in the red zone below sp,
 * intact, and read by libgcc too. */
struct ehu_stack {
    uintptr_t lo, hi;
    intptr_t delta;
};

/* Captures the current pc/sp/bp (use with EHU_O_EXACT_PC). */
#define EHU_CAPTURE(r)                                                          \
    __asm__ volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2"   \
                     : "=r"((r)->rip), "=r"((r)->rsp), "=r"((r)->rbp))

/* The caller's stack, starting at the return address into the caller (the
 * same frames as glibc backtrace()).  Thread context. */
int ehu_backtrace(uintptr_t *ips, int max, unsigned *flags);

/* A captured register set and a bounded stack (a signal's ucontext, a
 * frozen thread, a stack copy).  Never falls back to backtrace(). */
int ehu_backtrace_from(const struct ehu_regs *regs, const struct ehu_stack *st, uintptr_t *ips,
                       int max, unsigned opts, unsigned *flags);

void ehu_regs_from_ucontext(const ucontext_t *uc, struct ehu_regs *out);

/* The top of the calling thread's stack (pthread_getattr_np once per
 * thread, then a TLS read).  Thread context the first time (it may
 * allocate: the main thread's bounds come from /proc/self/maps). */
uintptr_t ehu_stack_hi(void);

/* Thread context: flush the table if objects were loaded/unloaded since the
 * last check.  Called by every walk without EHU_O_NOGEN. */
void ehu_sync(void);

struct ehu_stats {
    unsigned long fills, flushes, evictions, dwarf_rows, nofde_rows, fallbacks;
};
void ehu_get_stats(struct ehu_stats *out);

/* Fork (fork.c registers them in every copy of the core): hold fills and
 * dl_iterate_phdr off across fork (ehu_fork.c).  Thread context (atfork). */
void ehu_fork_prepare(void);
void ehu_fork_after(void);

/* Hooks of the validation suite (Benchmarks/unwinder, built with
 * -DEHU_TEST_HOOKS, which defines the two variables): skip the dlclose
 * check (its control run must see stale rows) and take the FDE lookup
 * path of glibc < 2.35 (dl_iterate_phdr instead of _dl_find_object).
 * Every other build sees constants. */
#ifdef EHU_TEST_HOOKS
extern int ehu_test_skip_generation, ehu_test_no_dl_find_object;
static inline int ehu_hook_skip_generation(void) { return ehu_test_skip_generation; }
static inline int ehu_hook_no_dl_find_object(void) { return ehu_test_no_dl_find_object; }
#else
static inline int ehu_hook_skip_generation(void) { return 0; }
static inline int ehu_hook_no_dl_find_object(void) { return 0; }
#endif

#pragma GCC visibility pop

#endif
