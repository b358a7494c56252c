/*
 * ehu_cfi.c - the rule for one pc from .eh_frame: find the FDE, parse its
 * CIE, run the CFA program up to the pc, reduce the row to ehu's compact
 * form (x86-64 DWARF registers: 6 = RBP, 7 = RSP, 16 = RA).  Miss path only
 * (thread context); no allocation, no lock of its own.
 *
 * FDE lookup: _dl_find_object (glibc >= 2.35; lock-free, 6-13 ns, 107
 * instructions, ehu_costs.c) gives the object's PT_GNU_EH_FRAME, i.e.
 * .eh_frame_hdr, whose sorted table we binary-search.  libgcc's
 * _Unwind_Find_FDE measured 31-108 ns / 422 instructions per call in the
 * same runs and would tie the module to libgcc_s; dl_iterate_phdr takes the
 * loader lock per call.  Without _dl_find_object (weak, older glibc) we use
 * dl_iterate_phdr (validate.sh runs the suite on that path too).  A whole
 * miss (lookup, parse, CFA program) costs ~200-330 ns.
 *
 * Only RA, RBP, RSP and the CFA are tracked: rules for other registers are
 * parsed and ignored (our walk never needs their values).  Signal frames
 * ('S' CIE) become EHU_K_SIGNAL rows when the code is glibc's x86-64
 * sigreturn trampoline (the check libgcc's fallback makes), else DWARF.  A CFA
 * expression is evaluated symbolically (value = a*RSP + c, c may use the
 * pc); it yields a row when the result is RSP + const: that covers the
 * linker's .plt pattern "rsp + 8 + ((rip & 15) >= 11) * 8".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include "ehu.h"
#include "ehu_cfi.h"

#define R_SAME 0  /* unchanged (also "undefined" for RBP, as libgcc does) */
#define R_UNDEF 1 /* RA only: the outermost frame */
#define R_OFFSET 2
#define R_OTHER 3 /* register/val_offset/expression: not expressible */

struct cfa_state {
    uint8_t cfa_reg, rbp_kind, ra_kind, rsp_ruled;
    int64_t cfa_off, rbp_off, ra_off;
    const uint8_t *cfa_expr; /* non-NULL: CFA given by a DWARF expression */
    uint64_t cfa_expr_len;
};

static uint64_t uleb(const uint8_t **p)
{
    uint64_t v = 0;
    unsigned s = 0;
    uint8_t b;
    do {
        b = *(*p)++;
        if (s < 64)
            v |= (uint64_t)(b & 0x7f) << s;
        s += 7;
    } while (b & 0x80);
    return v;
}

static int64_t sleb(const uint8_t **p)
{
    int64_t v = 0;
    unsigned s = 0;
    uint8_t b;
    do {
        b = *(*p)++;
        if (s < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << s);
        s += 7;
    } while (b & 0x80);
    if (s < 64 && (b & 0x40))
        v |= -((int64_t)1 << s);
    return v;
}

/* Reads a DW_EH_PE-encoded pointer; datarel relative to `dbase`.
 * Returns 0 on an unsupported encoding (*ok = 0). */
static uintptr_t read_enc(const uint8_t **pp, uint8_t enc, uintptr_t dbase, int *ok)
{
    const uint8_t *p = *pp;
    uintptr_t v;
    if (enc == 0xff) /* omit */
        return 0;
    switch (enc & 0x0f) {
    case 0x00: memcpy(&v, p, 8); p += 8; break;
    case 0x01: v = uleb(&p); break;
    case 0x02: { uint16_t x; memcpy(&x, p, 2); v = x; p += 2; break; }
    case 0x03: { uint32_t x; memcpy(&x, p, 4); v = x; p += 4; break; }
    case 0x04: case 0x0c: memcpy(&v, p, 8); p += 8; break;
    case 0x09: v = (uintptr_t)sleb(&p); break;
    case 0x0a: { int16_t x; memcpy(&x, p, 2); v = (uintptr_t)(intptr_t)x; p += 2; break; }
    case 0x0b: { int32_t x; memcpy(&x, p, 4); v = (uintptr_t)(intptr_t)x; p += 4; break; }
    default: *ok = 0; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += (uintptr_t)*pp; break; /* pcrel: the field's address */
    case 0x30: v += dbase; break;
    default: *ok = 0; return 0;
    }
    if (enc & 0x80) /* indirect */
        memcpy(&v, (const void *)v, sizeof v);
    *pp = p;
    return v;
}

/* Symbolic evaluation of a CFA expression: each value is a*RSP + c. */
static int eval_cfa_expr(const uint8_t *p, uint64_t len, uintptr_t pc, int64_t *off)
{
    const uint8_t *end = p + len;
    int64_t a[16], c[16];
    int sp = 0;
    while (p < end) {
        uint8_t op = *p++;
        if (sp >= 15)
            return 0;
        int64_t na = 0, nc;
        if (op >= 0x30 && op <= 0x4f) nc = op - 0x30;                   /* lit0..31 */
        else if (op == 0x77) { na = 1; nc = sleb(&p); }                 /* breg7 rsp */
        else if (op == 0x80) nc = (int64_t)pc + sleb(&p);               /* breg16 rip */
        else if (op == 0x08) nc = *p++;                                  /* const1u */
        else if (op == 0x10) nc = (int64_t)uleb(&p);                     /* constu */
        else if (op == 0x11) nc = sleb(&p);                              /* consts */
        else if (op == 0x23) {                                           /* plus_uconst */
            if (sp < 1) return 0;
            c[sp - 1] += (int64_t)uleb(&p);
            continue;
        } else {
            if (sp < 2)
                return 0;
            int64_t xa = a[sp - 2], xc = c[sp - 2], ya = a[sp - 1], yc = c[sp - 1];
            if (op == 0x22) { xa += ya; xc += yc; }      /* plus */
            else if (op == 0x1c) { xa -= ya; xc -= yc; } /* minus */
            else if (xa || ya) return 0;                 /* others: constants only */
            else if (op == 0x1a) xc &= yc;               /* and */
            else if (op == 0x21) xc |= yc;               /* or */
            else if (op == 0x24) xc = (int64_t)((uint64_t)xc << (yc & 63)); /* shl */
            else if (op == 0x1e) xc *= yc;               /* mul */
            else if (op >= 0x29 && op <= 0x2e) {         /* eq ge gt le lt ne */
                int r[] = {xc == yc, xc >= yc, xc > yc, xc <= yc, xc < yc, xc != yc};
                xc = r[op - 0x29];
            } else
                return 0; /* deref, register reads, branches: not expressible */
            sp -= 2;
            na = xa;
            nc = xc;
        }
        a[sp] = na;
        c[sp] = nc;
        sp++;
    }
    if (sp != 1 || a[0] != 1)
        return 0;
    *off = c[0];
    return 1;
}

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc, has_z, signal, ok;
    const uint8_t *insns, *end;
};

/* RSP (7) has no rule by default: the caller's RSP is the CFA.  Any
 * explicit rule for it (glibc's __longjmp: "register r8") is not
 * expressible, as libgcc would then take the rule, not the CFA. */
static void set_rule(struct cfa_state *s, uint64_t reg, uint8_t kind, int64_t off)
{
    if (reg == 6) { s->rbp_kind = kind; s->rbp_off = off; }
    else if (reg == 16) { s->ra_kind = kind; s->ra_off = off; }
    else if (reg == 7) s->rsp_ruled = kind != R_SAME || off != 0;
}

/* DW_CFA_restore: the rule the CIE's initial instructions gave. */
static void restore_rule(struct cfa_state *s, const struct cfa_state *init, uint64_t reg)
{
    if (reg == 6) { s->rbp_kind = init->rbp_kind; s->rbp_off = init->rbp_off; }
    else if (reg == 16) { s->ra_kind = init->ra_kind; s->ra_off = init->ra_off; }
    else if (reg == 7) s->rsp_ruled = init->rsp_ruled;
}

/* Runs CFA instructions [p, end) from location `loc` while loc <= pc.
 * Returns 0 on an unknown opcode or a state-stack overflow. */
static int run_cfa(const uint8_t *p, const uint8_t *end, const struct cie *ci, const struct cfa_state *init,
                   struct cfa_state *s, uintptr_t loc, uintptr_t pc, uintptr_t dbase)
{
    struct cfa_state stack[8];
    int depth = 0, ok = 1;
    while (p < end) {
        uint8_t op = *p++, low = op & 0x3f;
        uint64_t reg, delta = 0;
        switch (op >> 6) {
        case 1: delta = low; goto advance;
        case 2: set_rule(s, low, R_OFFSET, (int64_t)uleb(&p) * ci->data_align); continue;
        case 3: restore_rule(s, init, low); continue;
        }
        switch (op) {
        case 0x00: break; /* nop */
        case 0x01: loc = read_enc(&p, ci->fde_enc, dbase, &ok); if (!ok || loc > pc) return ok; break;
        case 0x02: delta = *p++; goto advance;
        case 0x03: { uint16_t x; memcpy(&x, p, 2); p += 2; delta = x; goto advance; }
        case 0x04: { uint32_t x; memcpy(&x, p, 4); p += 4; delta = x; goto advance; }
        case 0x05: reg = uleb(&p); set_rule(s, reg, R_OFFSET, (int64_t)uleb(&p) * ci->data_align); break;
        case 0x06: restore_rule(s, init, uleb(&p)); break;
        case 0x07: reg = uleb(&p); set_rule(s, reg, reg == 16 ? R_UNDEF : R_SAME, 0); break;
        case 0x08: reg = uleb(&p); set_rule(s, reg, R_SAME, 0); break;
        case 0x09: reg = uleb(&p); (void)uleb(&p); set_rule(s, reg, R_OTHER, 0); break;
        case 0x0a: if (depth == 8) return 0; stack[depth++] = *s; break;
        case 0x0b: /* restore_state: the whole row, CFA included (as libgcc does) */
            if (depth == 0)
                return 0;
            *s = stack[--depth];
            break;
        case 0x0c: s->cfa_reg = (uint8_t)uleb(&p); s->cfa_off = (int64_t)uleb(&p); s->cfa_expr = NULL; break;
        case 0x0d: s->cfa_reg = (uint8_t)uleb(&p); s->cfa_expr = NULL; break;
        case 0x0e: s->cfa_off = (int64_t)uleb(&p); break;
        case 0x0f: s->cfa_expr_len = uleb(&p); s->cfa_expr = p; p += s->cfa_expr_len; break;
        case 0x10: case 0x16: reg = uleb(&p); delta = uleb(&p); p += delta; delta = 0;
            set_rule(s, reg, R_OTHER, 0); break;
        case 0x11: reg = uleb(&p); set_rule(s, reg, R_OFFSET, sleb(&p) * ci->data_align); break;
        case 0x12: s->cfa_reg = (uint8_t)uleb(&p); s->cfa_off = sleb(&p) * ci->data_align; s->cfa_expr = NULL; break;
        case 0x13: s->cfa_off = sleb(&p) * ci->data_align; break;
        case 0x14: reg = uleb(&p); (void)uleb(&p); set_rule(s, reg, R_OTHER, 0); break;
        case 0x15: reg = uleb(&p); (void)sleb(&p); set_rule(s, reg, R_OTHER, 0); break;
        case 0x2e: (void)uleb(&p); break; /* GNU_args_size: no effect on the CFA */
        case 0x2f: reg = uleb(&p); set_rule(s, reg, R_OFFSET, -(int64_t)uleb(&p) * ci->data_align); break;
        default: return 0;
        }
        continue;
    advance:
        loc += delta * ci->code_align;
        if (loc > pc)
            return 1;
    }
    return 1;
}

/* Parses the CIE at `c` (after its length field: `c` points at the id). */
static void parse_cie(const uint8_t *c, const uint8_t *end, uintptr_t dbase, struct cie *ci)
{
    memset(ci, 0, sizeof *ci);
    const uint8_t *p = c + 4;
    uint8_t version = *p++;
    const char *aug = (const char *)p;
    p += strlen(aug) + 1;
    if (version != 1 && version != 3 && version != 4)
        return;
    if (aug[0] == 'e' && aug[1] == 'h')
        p += 8;
    if (version == 4)
        p += 2; /* address_size, segment_size */
    ci->code_align = uleb(&p);
    ci->data_align = sleb(&p);
    if (version == 1) p++; else (void)uleb(&p); /* return register */
    const uint8_t *after_aug = NULL;
    int ok = 1;
    for (const char *a = aug; *a; a++) {
        switch (*a) {
        case 'z': { uint64_t n = uleb(&p); after_aug = p + n; ci->has_z = 1; break; }
        case 'R': ci->fde_enc = *p++; break;
        case 'L': p++; break;
        case 'P': { uint8_t e = *p++; (void)read_enc(&p, e & 0x7f, dbase, &ok); break; }
        case 'S': ci->signal = 1; break;
        case 'e': case 'h': break;
        default: if (!after_aug) return; goto done; /* unknown: 'z' data length skips it */
        }
        if (!ok)
            return;
    }
done:
    ci->insns = after_aug ? after_aug : p;
    ci->end = end;
    ci->ok = 1;
}

/* The .eh_frame_hdr of the object containing pc (and its datarel base). */
struct hdr_find { uintptr_t pc; const uint8_t *hdr; };

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct hdr_find *f = arg;
    const uint8_t *hdr = NULL;
    int in = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->pc >= lo && f->pc < lo + ph->p_memsz)
            in = 1;
        if (ph->p_type == PT_GNU_EH_FRAME)
            hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    }
    if (in)
        f->hdr = hdr;
    return in;
}

extern int _dl_find_object(void *, struct dl_find_object *) __attribute__((weak));

static const uint8_t *find_hdr(uintptr_t pc)
{
    if (_dl_find_object && !ehu_hook_no_dl_find_object()) {
        struct dl_find_object fo;
        if (_dl_find_object((void *)pc, &fo) != 0)
            return NULL;
        return fo.dlfo_eh_frame;
    }
    struct hdr_find f = {pc, NULL};
    ehu__iterate_phdr(phdr_cb, &f);
    return f.hdr;
}

void ehu_cfi_rule(uintptr_t pc, struct ehu_rule *out)
{
    memset(out, 0, sizeof *out);
    out->kind = EHU_K_NOFDE;
    const uint8_t *hdr = find_hdr(pc);
    if (!hdr || hdr[0] != 1 || hdr[3] != 0x3b) /* table: datarel sdata4 */
        return;
    uintptr_t dbase = (uintptr_t)hdr;
    const uint8_t *p = hdr + 4;
    int ok = 1;
    (void)read_enc(&p, hdr[1], dbase, &ok);
    uintptr_t count = read_enc(&p, hdr[2], dbase, &ok);
    if (!ok || count == 0)
        return;
    const int32_t *tab = (const int32_t *)p;
    if (pc < dbase + (intptr_t)tab[0])
        return;
    size_t lo = 0, hi = count; /* last entry with initial_loc <= pc */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (dbase + (intptr_t)tab[2 * mid] <= pc) lo = mid; else hi = mid;
    }
    const uint8_t *fde = (const uint8_t *)(dbase + (intptr_t)tab[2 * lo + 1]);
    uint32_t len32;
    memcpy(&len32, fde, 4);
    if (len32 == 0xffffffffu)
        return; /* 64-bit DWARF .eh_frame: not produced on x86-64 Linux */
    const uint8_t *fend = fde + 4 + len32, *q = fde + 4;
    uint32_t cie_off;
    memcpy(&cie_off, q, 4);
    const uint8_t *cie = q - cie_off; /* the CIE's length field */
    uint32_t clen;
    memcpy(&clen, cie, 4);
    struct cie ci;
    parse_cie(cie + 4, cie + 4 + clen, dbase, &ci);
    out->kind = EHU_K_DWARF;
    if (!ci.ok)
        return;
    q += 4;
    uintptr_t begin = read_enc(&q, ci.fde_enc, dbase, &ok);
    uintptr_t range = read_enc(&q, ci.fde_enc & 0x0f, dbase, &ok);
    if (!ok)
        return;
    if (pc < begin || pc - begin >= range) {
        out->kind = EHU_K_NOFDE;
        return;
    }
    if (ci.signal) { /* 'S': glibc's __restore_rt (checked as libgcc does: its code) */
        static const uint8_t sigreturn[9] = {0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05}; /* mov $15,%rax; syscall */
        for (uintptr_t start = pc + 1; start + 8 >= pc + 1 && start >= begin; start--) /* pc anywhere in it */
            if (start + 9 <= begin + range && memcmp((const void *)start, sigreturn, 9) == 0) {
                out->kind = EHU_K_SIGNAL;
                break;
            }
        return;
    }
    if (ci.has_z) {
        uint64_t n = uleb(&q);
        q += n;
    }
    struct cfa_state init = {.cfa_reg = 7, .cfa_off = 8, .ra_kind = R_SAME}, s;
    if (!run_cfa(ci.insns, ci.end, &ci, &init, &init, 0, UINTPTR_MAX, dbase))
        return;
    s = init;
    if (!run_cfa(q, fend, &ci, &init, &s, begin, pc, dbase))
        return;
    if (s.ra_kind == R_UNDEF) {
        out->kind = EHU_K_END;
        return;
    }
    int64_t off = s.cfa_off;
    if (s.cfa_expr) {
        if (!eval_cfa_expr(s.cfa_expr, s.cfa_expr_len, pc, &off))
            return;
        s.cfa_reg = 7;
    }
    if ((s.cfa_reg != 7 && s.cfa_reg != 6) || s.rsp_ruled || s.ra_kind != R_OFFSET || s.ra_off != -8 ||
        s.rbp_kind == R_OTHER || (s.rbp_kind == R_OFFSET && (s.rbp_off & 7)) || off < 8 || off > INT32_MAX || s.rbp_off < INT16_MIN || s.rbp_off > INT16_MAX)
        return;
    out->kind = s.cfa_reg == 7 ? EHU_K_RSP : EHU_K_RBP;
    out->cfa_off = (int32_t)off;
    out->rbp_saved = s.rbp_kind == R_OFFSET;
    out->rbp_off = (int16_t)s.rbp_off;
}
