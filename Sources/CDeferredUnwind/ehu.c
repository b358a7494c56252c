/*
 * ehu.c - the rule cache and the walk (see ehu.h; rules from ehu_cfi.c).
 *
 * Cache: ONE global open-addressed table, read without locks.  Per-thread
 * tables were rejected: 16 K rows x 16 B = 256 KiB per thread (too big for
 * TLS, an allocation per thread, and every thread would pay the same cold
 * misses: the profiled program's threads mostly run the same code).  Writers
 * (the fill path, the flush) are serialized by fill_lock (ehu_fork.c: held
 * across fork) and run in thread context only; readers never write.
 *
 * Slot = {tag, row}, two 64-bit atomics: tag = key << 16 | ver, key = the
 * lookup pc (< 2^47 in user space), ver a 16-bit per-slot version whose
 * low bit says "being written".  It is a per-slot seqlock:
 *   writer: tag = old|odd (relaxed); fence(release); row = r (relaxed);
 *           tag = key<<16|even (release)
 *   reader: t1 = tag (acquire); row (relaxed); fence(acquire); t2 = tag
 *           (relaxed); use the row iff t1 == t2, key matches, t1 even.
 * Partners: the reader's acquire load of tag pairs with the writer's final
 * release store (the row it then reads is that write's or newer); the
 * writer's release fence pairs with the reader's acquire fence (a row read
 * from a newer write forces t2 to see that write's odd tag or later, so
 * t1 != t2).  The version makes an A->B->A rewrite of one slot within one
 * read visible (it would take 2^15 writes of that slot inside one lookup).
 * Linear probing, at most EHU_PROBE slots; a full window evicts in place (a
 * rewrite under the same protocol), so probe chains never get holes except
 * by a whole-table flush.
 *
 * dlopen/dlclose: a row is only valid for the object it was computed from.
 * Every walk without EHU_O_NOGEN reads the loader's generation
 * (dlpi_adds + dlpi_subs, from ONE dl_iterate_phdr callback) and flushes
 * the table if it moved past the generation the table was built under.
 * Measured (ehu_costs.c, callgrind in unwinder.sh): dl_iterate_phdr 15-25
 * ns; ehu_sync() ~310 instructions of a 20-frame walk's ~1,750; a flush
 * (16 K slots) ~7 us, once per dlopen/dlclose.  It is the one lock a walk
 * takes (the loader lock, uncontended unless a dlopen runs): glibc exposes
 * no lock-free counter of loads and unloads.  Rejected: _dl_find_object
 * per frame (lock-free, 6-13 ns, i.e. 120-260 ns per 20-frame stack, and it
 * still cannot tell an object reloaded at the same address, even at the
 * same link_map allocation, from the old one); interposing dlopen/dlclose
 * alone (misses glibc's internal __libc_dlopen/__libc_dlclose: gconv, NSS).
 * The async-signal-safe mode (EHU_O_NOGEN) uses the table as of the last
 * ehu_sync(): the owner calls ehu_sync() after each dlopen/dlclose it sees.
 * A walk that started before an unload uses the old rows for its own
 * stack, which cannot hold frames of an object loaded after it started.
 * A miss computes its row outside fill_lock and inserts it only if no flush
 * ran meanwhile (table_gen unchanged).
 */
#define _GNU_SOURCE
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include "ehu.h"
#include "ehu_cfi.h"

#define EHU_LOG2 14
#define EHU_SLOTS (1u << EHU_LOG2)
#define EHU_PROBE 8
#define EHU_KEY_MAX ((uintptr_t)1 << 48)

_Static_assert(sizeof(uintptr_t) == 8 && sizeof(void *) == 8, "x86-64 LP64");
_Static_assert(sizeof(struct ehu_rule) == 8 && offsetof(struct ehu_rule, kind) == 0 &&
                   offsetof(struct ehu_rule, rbp_saved) == 1 && offsetof(struct ehu_rule, rbp_off) == 2 &&
                   offsetof(struct ehu_rule, cfa_off) == 4 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "a rule packs into one 64-bit row, decoded by shifts in walk()");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics are lock-free");
_Static_assert(REG_RIP == 16 && REG_RSP == 15 && REG_RBP == 10 && NGREG == 23, "ucontext gregs layout");

struct slot {
    _Atomic uint64_t tag, row;
};
_Static_assert(sizeof(struct slot) == 16, "16-byte slots");

static struct slot table[EHU_SLOTS] __attribute__((aligned(64)));
static _Atomic uint64_t table_gen; /* loader generation the rows are valid for */
static struct ehu_stats stats;     /* written under fill_lock */
/* Initial-exec: no __tls_get_addr (and no allocation) on first use. */
static __thread __attribute__((tls_model("initial-exec"))) uintptr_t stack_hi;

static inline uint64_t pack(const struct ehu_rule *r)
{
    uint64_t v;
    memcpy(&v, r, sizeof v);
    return v;
}

static inline uint32_t hash(uintptr_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - EHU_LOG2));
}

/* Hit path: lock-free, async-signal-safe.  Returns the packed row (a
 * struct ehu_rule, little-endian: byte 0 kind, 1 rbp_saved, 2-3 rbp_off,
 * 4-7 cfa_off), 0 on a miss (kind EHU_K_EMPTY is never stored). */
static inline uint64_t lookup(uintptr_t key)
{
    uint32_t h = hash(key);
    for (int i = 0; i < EHU_PROBE; i++) {
        struct slot *s = &table[(h + i) & (EHU_SLOTS - 1)];
        uint64_t t1 = atomic_load_explicit(&s->tag, memory_order_acquire);
        if ((t1 >> 16) != key) {
            if ((t1 >> 16) == 0)
                return 0; /* empty: end of the probe chain */
            continue;
        }
        uint64_t r = atomic_load_explicit(&s->row, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t t2 = atomic_load_explicit(&s->tag, memory_order_relaxed);
        if (t1 != t2 || (t1 & 1))
            return 0; /* a write in progress: treat as a miss */
        return r;
    }
    return 0;
}

/* Writer side; fill_lock held. */
static void slot_write(struct slot *s, uint64_t key, uint64_t row)
{
    uint64_t t = atomic_load_explicit(&s->tag, memory_order_relaxed); /* only writers store */
    uint64_t ver = t & 0xffff;
    atomic_store_explicit(&s->tag, (t & ~(uint64_t)0xffff) | ((ver + 1) & 0xffff), memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* partner: lookup()'s acquire fence */
    atomic_store_explicit(&s->row, row, memory_order_relaxed);
    atomic_store_explicit(&s->tag, key << 16 | ((ver + 2) & 0xffff), memory_order_release); /* partner: lookup()'s acquire load */
}

static void insert(uintptr_t key, uint64_t row)
{
    uint32_t h = hash(key);
    for (int i = 0; i < EHU_PROBE; i++) {
        struct slot *s = &table[(h + i) & (EHU_SLOTS - 1)];
        uint64_t k = atomic_load_explicit(&s->tag, memory_order_relaxed) >> 16;
        if (k == key)
            return; /* another thread filled it meanwhile */
        if (k == 0) {
            slot_write(s, key, row);
            return;
        }
    }
    stats.evictions++;
    slot_write(&table[(h + (key >> 4) % EHU_PROBE) & (EHU_SLOTS - 1)], key, row);
}

/* Miss path: thread context only (_dl_find_object, .eh_frame, fill_lock).
 * The rule is computed before taking fill_lock: the dl_iterate_phdr path of
 * ehu_cfi.c takes the loader lock, and a walk from a constructor runs with
 * the loader lock held (fill_lock -> loader lock in one thread and
 * loader lock -> fill_lock in another would deadlock). */
static __attribute__((noinline, cold)) uint64_t fill(uintptr_t key)
{
    struct ehu_rule ru;
    /* Acquire pairs with ehu_sync()'s release store: if a flush happens
     * while we compute (an unload ran meanwhile), the row may describe the
     * unloaded object: it is used for this walk but not inserted. */
    uint64_t g0 = atomic_load_explicit(&table_gen, memory_order_acquire);
    ehu_cfi_rule(key, &ru);
    uint64_t row = pack(&ru);
    ehu__lock_fill();
    stats.fills++;
    stats.dwarf_rows += ru.kind == EHU_K_DWARF;
    stats.nofde_rows += ru.kind == EHU_K_NOFDE;
    if (atomic_load_explicit(&table_gen, memory_order_relaxed) == g0) /* table_gen is written under fill_lock */
        insert(key, row); /* no-op if another thread inserted it meanwhile */
    ehu__unlock_fill();
    return row;
}

static int gen_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uint64_t *)arg = info->dlpi_adds + info->dlpi_subs;
    return 1; /* the counters are global: the first object is enough */
}

void ehu_sync(void)
{
    uint64_t g = 0;
    if (ehu_hook_skip_generation())
        return;
    ehu__iterate_phdr(gen_cb, &g); /* the loader lock, once per walk */
    /* Acquire pairs with the release store below (another thread's flush). */
    if (g <= atomic_load_explicit(&table_gen, memory_order_acquire))
        return;
    ehu__lock_fill();
    if (g > atomic_load_explicit(&table_gen, memory_order_relaxed)) {
        for (unsigned i = 0; i < EHU_SLOTS; i++)
            if (atomic_load_explicit(&table[i].tag, memory_order_relaxed) >> 16)
                slot_write(&table[i], 0, 0);
        stats.flushes++;
        /* Release: a walk that sees g also sees the emptied slots. */
        atomic_store_explicit(&table_gen, g, memory_order_release);
    }
    ehu__unlock_fill();
}

/* A signal frame (pc = __restore_rt): the handler returned to it with sp
 * at the kernel's ucontext_t; the interrupted registers are in it.  (A
 * handler on a sigaltstack is outside [lo, hi): the read fails.) */
static int signal_frame(struct ehu_regs *r, uintptr_t lo, uintptr_t span, intptr_t delta)
{
    enum { RIP = offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]),
           RSP = offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]),
           RBP = offsetof(ucontext_t, uc_mcontext.gregs[REG_RBP]) };
    _Static_assert(RIP == 168 && RSP == 160 && RBP == 120, "x86-64 Linux ucontext_t");
    uintptr_t uc = r->rsp;
    if ((uc & 7) || uc + RIP - lo > span || uc + RBP - lo > span)
        return 0;
    r->rip = *(const uintptr_t *)(uc + RIP + delta);
    r->rbp = *(const uintptr_t *)(uc + RBP + delta);
    r->rsp = *(const uintptr_t *)(uc + RSP + delta);
    return r->rip != 0;
}

/* The walk.  Records pc, then steps with the row of pc (pc - 1 for return
 * addresses: a call to a noreturn function may be the last instruction, so
 * the return address can lie past the function's end).  Reads: RA at
 * CFA-8 and RBP at CFA+k, k a multiple of 8 (ehu_cfi.c); both are checked
 * against [lo, hi) with one unsigned compare each, and the CFA must be
 * 8-aligned and above the frame's sp (progress: the walk always ends). */
static int walk(struct ehu_regs r, const struct ehu_stack *st, uintptr_t *ips, int max, unsigned opts,
                unsigned *flags)
{
    int n = 0;
    uintptr_t adj = (opts & EHU_O_EXACT_PC) ? 0 : 1;
    const uintptr_t lo = st->lo, span = st->hi - st->lo - 8; /* addr ok iff addr - lo <= span */
    const intptr_t delta = st->delta;
    unsigned fl = EHU_F_EHU;
    if (st->hi < st->lo + 8) {
        *flags = fl | EHU_F_BADREAD;
        return 0;
    }
    for (;;) {
        if (n == max) {
            fl |= EHU_F_TRUNCATED;
            break;
        }
        ips[n++] = r.rip;
        uintptr_t key = r.rip - adj;
        if (__builtin_expect(key - 1 >= EHU_KEY_MAX - 1, 0)) {
            fl |= EHU_F_NOFDE;
            break;
        }
        uint64_t row = lookup(key);
        if (__builtin_expect(!row, 0)) {
            if (opts & EHU_O_NOFILL) {
                fl |= EHU_F_MISS;
                break;
            }
            row = fill(key);
        }
        adj = 1;
        unsigned kind = (unsigned)(row & 0xff);
        if (__builtin_expect(kind > EHU_K_RBP, 0)) {
            if (kind == EHU_K_SIGNAL && signal_frame(&r, lo, span, delta)) {
                adj = 0; /* the interrupted pc is exact */
                continue;
            }
            fl |= kind == EHU_K_END      ? EHU_F_COMPLETE
                  : kind == EHU_K_DWARF  ? EHU_F_DWARF
                  : kind == EHU_K_SIGNAL ? EHU_F_BADREAD
                                         : EHU_F_NOFDE;
            break;
        }
        int rbp_saved = (row >> 8) & 1;
        uintptr_t cfa = (kind == EHU_K_RSP ? r.rsp : r.rbp) + (intptr_t)(int32_t)(row >> 32);
        uintptr_t bpa = cfa + (intptr_t)(int16_t)(row >> 16);
        if (__builtin_expect(cfa <= r.rsp || (cfa & 7) || cfa - 8 - lo > span || (rbp_saved && bpa - lo > span), 0)) {
            fl |= EHU_F_BADREAD;
            break;
        }
        uintptr_t ra = *(const uintptr_t *)(cfa - 8 + delta);
        if (rbp_saved)
            r.rbp = *(const uintptr_t *)(bpa + delta);
        r.rip = ra;
        r.rsp = cfa;
        if (ra == 0) { /* no outermost-frame CFI but a zeroed RA: backtrace drops it too */
            fl |= EHU_F_COMPLETE;
            break;
        }
    }
    *flags = fl;
    return n;
}

int ehu_backtrace_from(const struct ehu_regs *regs, const struct ehu_stack *st, uintptr_t *ips, int max,
                       unsigned opts, unsigned *flags)
{
    if (!(opts & EHU_O_NOGEN))
        ehu_sync();
    return walk(*regs, st, ips, max, opts, flags);
}

void ehu_regs_from_ucontext(const ucontext_t *uc, struct ehu_regs *out)
{
    out->rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    out->rsp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    out->rbp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
}

static uintptr_t thread_stack_hi(void)
{
    if (!stack_hi) { /* once per thread (thread context) */
        pthread_attr_t attr;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) != 0)
            return UINTPTR_MAX;
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
        stack_hi = (uintptr_t)addr + size;
    }
    return stack_hi;
}

uintptr_t ehu_stack_hi(void) { return thread_stack_hi(); }

/* Whole-stack fallback: backtrace() from here, cut at the caller's frame. */
static __attribute__((noinline)) int fallback(uintptr_t rip, uintptr_t *ips, int max, unsigned *flags)
{
    enum { OWN = 8, CAP = 4096 + OWN };
    int want = max + OWN < CAP ? max + OWN : CAP;
    void *bt[want]; /* thread context: up to 32 KiB of stack */
    int n = backtrace(bt, want), start = -1;
    for (int i = 0; i < n && i < OWN; i++)
        if ((uintptr_t)bt[i] == rip) {
            start = i;
            break;
        }
    ehu__lock_fill();
    stats.fallbacks++;
    ehu__unlock_fill();
    *flags = (*flags & ~EHU_F_EHU) | EHU_F_BACKTRACE;
    if (start < 0)
        return 0;
    int m = n - start < max ? n - start : max;
    memcpy(ips, &bt[start], (size_t)m * sizeof *ips);
    if (n == want || m == max)
        *flags |= EHU_F_TRUNCATED;
    return m;
}

/* Entered from the stub below with the caller's rip/rsp/rbp as it will
 * see them after our return. */
__attribute__((visibility("hidden"), used, noinline)) int ehu__entry(uintptr_t *ips, int max, unsigned *flags,
                                                                      uintptr_t rip, uintptr_t rsp, uintptr_t rbp)
{
    struct ehu_regs r = {rip, rsp, rbp};
    struct ehu_stack st = {rsp, thread_stack_hi(), 0};
    ehu_sync();
    int n = walk(r, &st, ips, max, 0, flags);
    /* BADREAD on the live stack: a handler on a sigaltstack (outside the
     * thread's stack bounds) or a broken frame: backtrace() decides. */
    if (*flags & (EHU_F_DWARF | EHU_F_BADREAD))
        return fallback(rip, ips, max, flags);
    return n;
}

/* ehu_backtrace(ips, max, flags): rip = our return address, rsp = the
 * caller's sp after the return, rbp untouched by the call; tail-jumps to
 * ehu__entry with them as arguments 4-6.  The names go through the
 * preprocessor: a second copy of the core renames both (rename.h). */
#define EHU_STR_(x) #x
#define EHU_STR(x) EHU_STR_(x)
__asm__(".text\n"
        ".globl " EHU_STR(ehu_backtrace) "\n"
        ".hidden " EHU_STR(ehu_backtrace) "\n"
        ".type " EHU_STR(ehu_backtrace) ", @function\n"
        EHU_STR(ehu_backtrace) ":\n"
        ".cfi_startproc\n"
        "    movq (%rsp), %rcx\n"
        "    leaq 8(%rsp), %r8\n"
        "    movq %rbp, %r9\n"
        "    jmp " EHU_STR(ehu__entry) "\n"
        ".cfi_endproc\n"
        ".size " EHU_STR(ehu_backtrace) ", .-" EHU_STR(ehu_backtrace) "\n");

void ehu_get_stats(struct ehu_stats *out)
{
    ehu__lock_fill();
    *out = stats;
    ehu__unlock_fill();
}
