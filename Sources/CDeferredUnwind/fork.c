/*
 * fork.c - the library across fork(): pthread_atfork handlers.
 *
 * What the child gets (the kernel initialises a forked task's unwind state
 * the same way): the forking thread stays attached with a fresh entry
 * context - requests pending at fork belong to the parent, which delivers
 * them; the child never does - every other thread's state is dropped (those
 * threads do not exist in the child), registered tracers stay registered,
 * and cancels that were in progress on vanished threads are finished.  The
 * child can attach, request, register and cancel at once: none of our locks
 * is left held and liburcu's registry holds only the forking thread.
 *
 * liburcu-bp's limit (0.13.2 and upstream): urcu_bp_before_fork takes its
 * grace-period and registry locks but not its init_lock, which every thread
 * registration and every registered thread's exit holds for a few
 * instructions.  A fork that lands in that window leaves init_lock held in
 * the child, which then hangs at its first new thread's attach or at exit.
 * Nothing outside liburcu can take that lock; not seen in the harness's
 * fork storms (Docs/Lifecycle.md).
 *
 * How: prepare takes every lock the child would need, in the one order
 * that cannot deadlock against the library's own lock holders -
 *   1. liburcu-bp's locks (urcu_bp_before_fork, through the fork hub below:
 *      grace-period and registry locks; it also blocks all signals until
 *      after fork).  First, because
 *      a thread in synchronize_rcu() holds the grace-period lock while it
 *      waits for readers, and a reader (a callback) may be waiting for our
 *      registry lock in du_tracer_register(): taking ours first would close
 *      that cycle.  Nothing holds one of our locks while it waits for a
 *      liburcu lock.
 *   2. the registry lock, 3. the thread-list lock (never held together
 *      elsewhere; cancel drops each before it waits).
 * The parent releases them in reverse; the child releases them after
 * rebuilding its state as above.
 *
 * fork() from inside a tracer callback while another thread cancels that
 * tracer is fine: callbacks run outside the read-side section, and the
 * canceller waits on the thread's `calling` word holding no lock (the child
 * clears `calling` when it finishes that cancel; registry.c).
 *
 * Several copies of the core in one process (Docs/Lifecycle.md, "One copy
 * of the core"): e.g. libdeferred_unwind.so from `make` next to a Swift
 * package's static copy, or the same library dlopen()ed twice from two
 * paths.  Each copy has its own state and its own atfork handlers, but
 * liburcu-bp is ONE shared library, and its fork hooks do not nest:
 * urcu_bp_before_fork() blocks every signal and locks its grace-period
 * mutex (rcu_gp_lock, a default mutex), then its registry mutex; a second
 * call on the same thread, from the next copy's prepare handler, waits
 * forever on rcu_gp_lock, which that thread already holds, with every
 * signal blocked (only SIGKILL ends it).  So the copies share one *fork hub*
 * and nest: the first before_fork of a forking thread calls liburcu's and
 * makes the thread the hub's owner; a nested one (the next copy's prepare
 * on that thread) only counts; the after-fork hooks count down and the last
 * one calls liburcu's.  atfork runs prepare handlers in reverse
 * registration order and parent/child handlers in order, so every copy's
 * own locks are taken after liburcu's and released before liburcu's, as
 * with one copy.
 *
 * Finding the hub needs no exported symbol (the C library exports exactly
 * the header's functions, a static copy in an executable exports nothing,
 * and a dlopen(RTLD_LOCAL)ed copy is invisible to dlsym(RTLD_DEFAULT)): every
 * copy carries an ELF note (PT_NOTE, read-only, no relocation) whose
 * descriptor holds the link-time offset from the note to the copy's
 * published hub pointer.  At initialisation - the constructor, which the
 * loader runs for one object at a time, under its lock for dlopen - a copy
 * walks every loaded object's notes (dl_iterate_phdr) and adopts the first
 * hub another copy published, or its own, then publishes the one it uses.
 * All copies converge on the first initialised copy's hub, which stays
 * mapped (-z nodelete; the static copy of an executable always is).  A copy
 * of a core older than this file has no note and calls liburcu's hooks
 * itself: it cannot share a process with a second copy that forks.
 *
 * The variants library (the harness's second copy of the core) registers
 * no fork handlers and joins no hub (du_hook_fork_handlers, hooks.h): its
 * own locks would have to be taken after liburcu's, which the order of two
 * libraries' atfork handlers cannot promise for a copy that does not nest.
 * The harness forks only with the core's API (Docs/Races.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>
#include <link.h>
#include "ehu.h"
#include "internal.h"
#include "hooks.h"

/* Bumped in each child.  Written only by the child's single thread (in the
 * child handler), read by that same thread's dispatch: relaxed. */
DU_HIDDEN _Atomic unsigned du_fork_epoch;

/* ---- the process's fork hub: liburcu-bp's fork hooks, nested ----------- */

/* One per process, shared by every copy of the core (the first initialised
 * copy's).  `owner` is pthread_self() of the thread inside fork() that called
 * liburcu's before_fork, 0 when none: read and written only by threads
 * inside fork(), and it equals pthread_self() only for the thread that
 * stored it, so relaxed is enough.  `depth` is touched only by the owner,
 * under liburcu's fork locks.  A second thread's fork waits in liburcu's
 * before_fork, as with one copy.  Layout fixed by DU_NOTE_MAGIC. */
struct du_fork_hub {
    atomic_ulong owner;
    unsigned depth;
};
_Static_assert(sizeof(pthread_t) == sizeof(unsigned long), "pthread_t is stored in an atomic_ulong");

static struct du_fork_hub du_own_hub;
/* The hub this copy uses, published (release) at initialisation for copies
 * initialised later; NULL until then.  Named by this copy's note. */
__attribute__((used)) static _Atomic(struct du_fork_hub *) du_hub_link;
/* Written once at initialisation, before the handlers are registered. */
static struct du_fork_hub *du_hub = &du_own_hub;

/* The note: name "DU", type DU_NOTE_TYPE, descriptor = 8-byte magic (names
 * the hub layout) + 8-byte offset from the offset field to du_hub_link,
 * resolved by the static linker (no dynamic relocation in a read-only
 * segment).  Sizes chosen so that 4- and 8-byte note alignment parse it
 * alike: header 12 + name 4 = 16, descriptor 16.  SHT_NOTE sections are
 * kept by --gc-sections. */
#define DU_NOTE_TYPE 0x4455u
#define DU_NOTE_MAGIC 0x3130627568554475ull /* "uDuHub01", little-endian */
__asm__(".pushsection .note.deferred_unwind, \"a\", @note\n"
        ".balign 4\n"
        ".long 3\n"          /* namesz: "DU\0" */
        ".long 16\n"         /* descsz */
        ".long 0x4455\n"     /* DU_NOTE_TYPE */
        ".asciz \"DU\"\n"
        ".balign 4\n"
        ".quad 0x3130627568554475\n" /* DU_NOTE_MAGIC */
        ".quad du_hub_link - .\n"
        ".popsection\n");

struct du_hub_scan {
    struct du_fork_hub *found; /* first hub another copy published */
    unsigned others;           /* other copies seen (published or not) */
};

static size_t du_note_align(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/* dl_iterate_phdr callback: every copy's note in one loaded object. */
static int du_hub_scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct du_hub_scan *scan = arg;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        size_t align = ph->p_align == 8 ? 8 : 4;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while ((size_t)(end - p) >= 12) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p, 4);
            memcpy(&descsz, p + 4, 4);
            memcpy(&type, p + 8, 4);
            size_t desc_off = du_note_align(12 + (size_t)namesz, align);
            size_t next_off = desc_off + du_note_align(descsz, align);
            if (namesz > (size_t)(end - p) || descsz > (size_t)(end - p) || next_off > (size_t)(end - p))
                break;
            const unsigned char *desc = p + desc_off;
            uint64_t magic;
            int64_t offset;
            if (type == DU_NOTE_TYPE && namesz == 3 && memcmp(p + 12, "DU", 3) == 0 && descsz == 16 &&
                (memcpy(&magic, desc, 8), magic == DU_NOTE_MAGIC)) {
                memcpy(&offset, desc + 8, 8);
                _Atomic(struct du_fork_hub *) *link =
                    (_Atomic(struct du_fork_hub *) *)(uintptr_t)((uintptr_t)(desc + 8) + (uintptr_t)offset);
                if (link != &du_hub_link) {
                    scan->others++;
                    struct du_fork_hub *hub = atomic_load_explicit(link, memory_order_acquire);
                    if (hub && !scan->found)
                        scan->found = hub;
                }
            }
            p += next_off;
        }
    }
    return 0;
}

/* Context: initialisation, once, before the handlers are registered. */
static void du_hub_join(void)
{
    struct du_hub_scan scan = {NULL, 0};
    dl_iterate_phdr(du_hub_scan_object, &scan);
    du_hub = scan.found ? scan.found : &du_own_hub;
    atomic_store_explicit(&du_hub_link, du_hub, memory_order_release);
}

/* liburcu's before_fork, once per fork however many copies call it. */
static void du_hub_before_fork(void)
{
    struct du_fork_hub *hub = du_hub;
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load_explicit(&hub->owner, memory_order_relaxed) == self) {
        hub->depth++;
        return;
    }
    urcu_bp_before_fork();
    atomic_store_explicit(&hub->owner, self, memory_order_relaxed);
    hub->depth = 1;
}

/* Whether this after-fork hook is the outermost one (call liburcu's). */
static int du_hub_unnest(void)
{
    struct du_fork_hub *hub = du_hub;
    if (atomic_load_explicit(&hub->owner, memory_order_relaxed) != (unsigned long)pthread_self())
        return 1; /* unbalanced: let liburcu see it */
    if (--hub->depth > 0)
        return 0;
    atomic_store_explicit(&hub->owner, 0, memory_order_relaxed);
    return 1;
}

static void du_hub_after_fork_parent(void)
{
    if (du_hub_unnest())
        urcu_bp_after_fork_parent();
}

static void du_hub_after_fork_child(void)
{
    if (du_hub_unnest())
        urcu_bp_after_fork_child();
}

static void du_fork_prepare(void)
{
    du_hub_before_fork();
    du_registry_fork_prepare();
    du_threads_fork_prepare();
}

static void du_fork_parent(void)
{
    du_threads_fork_parent();
    du_registry_fork_parent();
    du_hub_after_fork_parent();
}

static void du_fork_child(void)
{
    int saved_errno = errno;
    /* A dispatch that forked from a callback stops calling the parent's
     * tracers for the parent's context (registry.c, du_registry_call). */
    atomic_fetch_add_explicit(&du_fork_epoch, 1, memory_order_relaxed);
    du_registry_fork_child();
    du_threads_fork_child();
    /* The child is one thread: whatever it decides here is seen by every
     * later request of it.  Registration is per process (mm). */
    du_membarrier_register();
    du_hub_after_fork_child();
    errno = saved_errno;
}

/* Context: library initialisation (thread.c), once.  0 or -errno. */
int du_fork_init(void)
{
    /* The unwinder's handlers, in every copy (the variants library too):
     * registered first, so its prepare runs after ours and its after-fork
     * handlers before ours.  Its locks are leaves (ehu_fork.c). */
    int err = pthread_atfork(ehu_fork_prepare, ehu_fork_after, ehu_fork_after);
    if (err)
        return -err;
    if (!du_hook_fork_handlers()) /* the variants library */
        return 0;
    du_hub_join();
    return -pthread_atfork(du_fork_prepare, du_fork_parent, du_fork_child);
}
