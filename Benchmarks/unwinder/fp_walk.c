/*
 * fp_walk.c - a frame-pointer walk bounded by the thread's stack, with the
 * per-frame checks a shipped walker would need.  Benchmark-only: the core
 * unwinds with glibc backtrace() (DWARF CFI); Docs/Performance.md,
 * "Unwinder cost per frame", says why this walk is not shipped.
 *
 * Checks per frame (x86_64 SysV): the frame address lies inside
 * [current sp, stack top) and is 16-byte aligned, frames strictly increase,
 * and the return address lies in an executable segment of a loaded object
 * (ranges collected once with dl_iterate_phdr).  A failed check ends the
 * walk and reports it (a real walker would fall back to DWARF there).
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "fp_walk.h"

#define FP_MAX_RANGES 256
static struct { uintptr_t lo, hi; } fp_ranges[FP_MAX_RANGES];
static int fp_nranges;

static int fp_collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size; (void)arg;
    for (int i = 0; i < info->dlpi_phnum && fp_nranges < FP_MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            fp_ranges[fp_nranges].lo = info->dlpi_addr + ph->p_vaddr;
            fp_ranges[fp_nranges].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            fp_nranges++;
        }
    }
    return 0;
}

void fp_walk_init(struct fp_stack *st)
{
    fp_nranges = 0;
    dl_iterate_phdr(fp_collect, NULL);
    pthread_attr_t attr;
    void *addr;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    st->lo = (uintptr_t)addr;
    st->hi = (uintptr_t)addr + size;
}

static int fp_in_text(uintptr_t ip)
{
    for (int i = 0; i < fp_nranges; i++)
        if (ip >= fp_ranges[i].lo && ip < fp_ranges[i].hi)
            return 1;
    return 0;
}

__attribute__((noinline)) int fp_walk(const struct fp_stack *st, uintptr_t *ips, int max, int *stop)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)&fp;
    int n = 0;
    *stop = FP_STOP_END;
    while (n < max) {
        if (fp == 0)
            break; /* the outermost frame: clean end */
        if (fp < lo || fp + 16 > st->hi || (fp & 15) != 0) {
            *stop = FP_STOP_BAD_FRAME;
            break;
        }
        uintptr_t next = ((const uintptr_t *)fp)[0];
        uintptr_t ra = ((const uintptr_t *)fp)[1];
        if (!fp_in_text(ra)) {
            *stop = FP_STOP_BAD_RA;
            break;
        }
        ips[n++] = ra;
        if (next != 0 && next <= fp) {
            *stop = FP_STOP_BAD_FRAME;
            break;
        }
        lo = fp + 16;
        fp = next;
    }
    return n;
}
