/* ehu_cfi.h - internal: the rule for one pc, computed from .eh_frame. */
#ifndef EHU_CFI_H
#define EHU_CFI_H
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

enum ehu_kind {
    EHU_K_EMPTY = 0, /* never stored */
    EHU_K_RSP,       /* CFA = RSP + cfa_off */
    EHU_K_RBP,       /* CFA = RBP + cfa_off */
    EHU_K_END,       /* RA undefined: the outermost frame */
    EHU_K_DWARF,     /* not expressible: needs a full DWARF step */
    EHU_K_NOFDE,     /* no FDE covers the pc */
    EHU_K_SIGNAL,    /* x86-64 Linux signal trampoline: sp points at the ucontext_t */
};

struct ehu_rule {
    uint8_t kind;      /* enum ehu_kind */
    uint8_t rbp_saved; /* 1: RBP saved at CFA + rbp_off; 0: unchanged */
    int16_t rbp_off;
    int32_t cfa_off;
};

/* Thread context (reads loaded objects' .eh_frame_hdr/.eh_frame via
 * _dl_find_object, lock-free; no allocation).  `pc` is the lookup address
 * (a return address minus 1, or an exact interrupted pc). */
void ehu_cfi_rule(uintptr_t pc, struct ehu_rule *out);

/* ehu_fork.c: dl_iterate_phdr, never in progress across a fork; the
 * writers' lock (held across fork).  Thread context. */
struct dl_phdr_info;
int ehu__iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);
void ehu__lock_fill(void);
void ehu__unlock_fill(void);

#pragma GCC visibility pop
#endif
