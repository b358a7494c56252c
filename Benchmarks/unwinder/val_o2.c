/* val_o2.c - validation workloads built -O2 -fomit-frame-pointer
 * -falign-functions=1 (no padding after a noreturn call: its return address
 * is the next function's first byte).  Each step does its own thing, then
 * calls vstep() (ehu_validate.c), which runs the next step or the probe. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "val.h"

int v_o2_rec(int x)
{
    volatile int local[4] = {x, x + 1, x + 2, x + 3};
    vstep();
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return local[0] + local[3];
}

/* Sibling call: this frame is replaced by vstep's (both unwinders skip it). */
int v_tail(int x)
{
    if (x < 0)
        return x;
    vstep();
    return 0;
}

static __thread jmp_buf *cur_jb;

__attribute__((noreturn, noinline)) void v_noret_fn(void)
{
    vstep();
    longjmp(*cur_jb, 1);
}

/* Ends with a call to a noreturn function: the return address lies past
 * this function's last byte. */
__attribute__((noinline)) void v_noret_mid(int x)
{
    if (x == -12345)
        abort();
    v_noret_fn();
}

int v_noret(int x)
{
    jmp_buf env, *saved = cur_jb;
    cur_jb = &env;
    if (!setjmp(env))
        v_noret_mid(x);
    cur_jb = saved;
    return x;
}

static __thread int *cur_fired;

static int cmp_int(const void *a, const void *b)
{
    if (!*cur_fired) {
        *cur_fired = 1;
        vstep(); /* libc's qsort/bsearch frames are below us */
    }
    return *(const int *)a - *(const int *)b;
}

int v_qsort(int x)
{
    int arr[9] = {5, 3, 8, 1, 9, 2, 7, x, 4}, fired = 0, *saved = cur_fired;
    cur_fired = &fired;
    qsort(arr, 9, sizeof arr[0], cmp_int);
    cur_fired = saved;
    return arr[0];
}

int v_bsearch(int x)
{
    static const int arr[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* Through a pointer: <stdlib.h>'s inline bsearch would hide libc's. */
    void *(*volatile bs)(const void *, const void *, size_t, size_t, int (*)(const void *, const void *)) = bsearch;
    int key = 5 + (x & 1), fired = 0, *saved = cur_fired;
    cur_fired = &fired;
    const int *r = bs(&key, arr, 8, sizeof arr[0], cmp_int);
    cur_fired = saved;
    return r ? *r : 0;
}

/* Calls small libc functions through the PLT in a loop, so that profiling
 * signals land in PLT stubs and libc's assembly, then continues. */
int v_spin(int x)
{
    char buf[64];
    size_t acc = 0;
    memset(buf, 'a', sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    for (int i = 0; i < 3000; i++) {
        char *volatile p = buf + (i & 31);
        acc += strlen(p);
        acc += (size_t)(memchr(p, 'b', 16) != NULL);
        acc += (size_t)abs(x - i);
    }
    vstep();
    __asm__ volatile("" ::: "memory");
    return (int)acc;
}

/* An over-aligned local: GCC realigns sp and keeps CFA = RBP + 16. */
int v_align(int x)
{
    _Alignas(64) volatile char buf[64];
    buf[0] = (char)x;
    vstep();
    __asm__ volatile("" ::: "memory");
    return buf[0];
}

/* Hand-written CFI with a CFA expression (DW_CFA_def_cfa_expression:
 * DW_OP_breg3 (rbx) + 16), as stack-realigning (DRAP) code has: ehu's rows
 * cannot express it, so ehu_backtrace() falls back to backtrace() and a
 * walk from a stack copy stops there (flagged DWARF). */
__asm__(".text\n"
        ".globl v_expr\n"
        ".type v_expr, @function\n"
        "v_expr:\n"
        ".cfi_startproc\n"
        "    pushq %rbx\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_offset rbx, -16\n"
        "    movq %rsp, %rbx\n"
        ".cfi_escape 0x0f, 0x02, 0x73, 0x10\n"
        "    andq $-64, %rsp\n"
        "    call vstep@PLT\n"
        "    movq %rbx, %rsp\n"
        ".cfi_def_cfa rsp, 16\n"
        "    popq %rbx\n"
        ".cfi_def_cfa_offset 8\n"
        ".cfi_restore rbx\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size v_expr, .-v_expr\n");

/* The rest of the chain runs inside a signal handler (raised synchronously,
 * so it is thread context as far as ehu is concerned): both unwinders walk
 * through the kernel's signal frame (__restore_rt). */
static void on_usr1(int sig)
{
    (void)sig;
    vstep();
}

static void install_usr1(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_NODEFER; /* nested steps raise it again */
    sigaction(SIGUSR1, &sa, NULL);
}

int v_signal(int x)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_usr1); /* once: dispositions are per process */
    raise(SIGUSR1);
    return x;
}
