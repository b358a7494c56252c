/*
 * up_slot.c - the slot table (up_slot.h): claim, retire, names.
 *
 * Locks: up_slot_grow_lock serialises appending a new slot to the table
 * (claims of FREE slots are a CAS and take no lock); up_name_lock guards
 * every slot's thread/name fields.  Both are taken with the real
 * pthread_mutex_lock, only in thread context, never nested, never in a
 * handler.  fork: the prepare handler takes both (bounded, below), so a
 * child that restarts the agent finds them free; a child whose fork could
 * not take them (a holder slower than the bound, or the forking thread
 * itself interrupted while holding one) stays inert and never takes them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "up_real.h"
#include "up_slot.h"

UP_HIDDEN struct up_slot *up_slots[UP_MAX_SLOTS];
UP_HIDDEN _Atomic uint32_t up_slots_used;
static pthread_mutex_t up_slot_grow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t up_name_lock = PTHREAD_MUTEX_INITIALIZER;

static void up_lock(pthread_mutex_t *m) { (void)up_real_pthread_mutex_lock()(m); }
static void up_unlock(pthread_mutex_t *m) { (void)pthread_mutex_unlock(m); }

/* Which locks this fork's prepare took (1: grow, 2: name); the forking
 * thread's only (prepare, parent and child run on it). */
static int up_slot_fork_held;

/* Trylock with a bound: holders copy a name or map a slot (microseconds);
 * a thread that forks from a handler that interrupted its own hold would
 * wait forever, hence no blocking lock.  nanosleep: async-signal-safe. */
static int up_try_bounded(pthread_mutex_t *m)
{
    for (int i = 0; i < UP_SLOT_FORK_TRIES; i++) {
        if (pthread_mutex_trylock(m) == 0)
            return 1;
        struct timespec ts = {0, 100000}; /* 0.1 ms */
        nanosleep(&ts, NULL);
    }
    return 0;
}

void up_slot_fork_prepare(void)
{
    up_slot_fork_held = up_try_bounded(&up_slot_grow_lock);
    if (up_slot_fork_held && up_try_bounded(&up_name_lock))
        up_slot_fork_held |= 2;
}

void up_slot_fork_parent(void)
{
    if (up_slot_fork_held & 2)
        up_unlock(&up_name_lock);
    if (up_slot_fork_held & 1)
        up_unlock(&up_slot_grow_lock);
    up_slot_fork_held = 0;
}

int up_slot_fork_child(void)
{
    int both = up_slot_fork_held == 3;
    /* The child's one thread held them across fork: unlocking is its own
     * release (glibc's mutexes have no owner check for the default kind). */
    up_slot_fork_parent();
    return both ? 0 : -EBUSY;
}

static struct up_slot *up_slot_new(void)
{
    up_lock(&up_slot_grow_lock);
    /* Relaxed: only this lock's holders write the count. */
    uint32_t n = atomic_load_explicit(&up_slots_used, memory_order_relaxed);
    struct up_slot *s = NULL;
    if (n < UP_MAX_SLOTS) {
        void *mem = mmap(NULL, UP_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem != MAP_FAILED) {
            s = mem; /* zero-filled: indices, counts, name 0 */
            s->samples = (struct up_rec_sample *)((unsigned char *)mem + UP_SLOT_CONTROL_BYTES);
            s->stacks = (unsigned char *)mem + UP_SLOT_CONTROL_BYTES +
                        UP_SAMPLE_ENTRIES * sizeof(struct up_rec_sample);
            s->copies = s->stacks + UP_STACK_RING_BYTES;
            /* Relaxed: published by the release store of the count below. */
            atomic_store_explicit(&s->state, UP_SLOT_CLAIMED, memory_order_relaxed);
            up_slots[n] = s;
            /* Partner: up_slot_count()'s acquire load (writer, process exit):
             * the entry and the slot's initial fields are visible with it. */
            atomic_store_explicit(&up_slots_used, n + 1, memory_order_release);
        }
    }
    up_unlock(&up_slot_grow_lock);
    return s;
}

/* The thread's stack [lo, hi), for its handler's stack copies (up_copy.c);
 * 0, 0 when unknown.  For the main thread glibc reads /proc/self/maps
 * (it allocates): thread context only. */
static void up_slot_stack_bounds(struct up_slot *s, pthread_t self)
{
    s->stack_lo = s->stack_hi = 0;
    pthread_attr_t a;
    if (pthread_getattr_np(self, &a) != 0)
        return;
    void *addr;
    size_t size;
    if (pthread_attr_getstack(&a, &addr, &size) == 0) {
        s->stack_lo = (uintptr_t)addr;
        s->stack_hi = (uintptr_t)addr + size;
    }
    (void)pthread_attr_destroy(&a);
}

struct up_slot *up_slot_claim(uint32_t tid, pthread_t self)
{
    struct up_slot *s = NULL;
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n && !s; i++) {
        uint32_t expect = UP_SLOT_FREE;
        /* Acquire: partner the writer's release store of FREE after it
         * reset the slot (up_writer.c). */
        if (atomic_load_explicit(&up_slots[i]->state, memory_order_relaxed) == UP_SLOT_FREE &&
            atomic_compare_exchange_strong_explicit(&up_slots[i]->state, &expect, UP_SLOT_CLAIMED,
                                                    memory_order_acquire, memory_order_relaxed))
            s = up_slots[i];
    }
    if (!s)
        s = up_slot_new();
    if (!s)
        return NULL;
    s->tid = tid;
    atomic_store_explicit(&s->du_serial, 0, memory_order_relaxed); /* the owner sets it at attach */
    up_slot_stack_bounds(s, self); /* the claimer is the thread (up_thread.c) */
    up_lock(&up_name_lock);
    s->thread = self;
    s->name_len = 0;
    up_unlock(&up_name_lock);
    /* Partner: the writer's acquire load of the state (it reads tid after). */
    atomic_store_explicit(&s->state, UP_SLOT_OWNED, memory_order_release);
    return s;
}

void up_slot_retire(struct up_slot *s)
{
    /* Partner: the writer's acquire load before its last drain (up_slot.h). */
    atomic_store_explicit(&s->state, UP_SLOT_EXITED, memory_order_release);
}

static void up_slot_name_locked(struct up_slot *s, const char *name, size_t len)
{
    if (len > UP_NAME_MAX - 1)
        len = UP_NAME_MAX - 1;
    memcpy(s->name, name, len);
    s->name_len = (uint32_t)len;
    /* Relaxed: the data is ordered by the lock; this is the writer's hint. */
    uint32_t gen = atomic_load_explicit(&s->name_gen, memory_order_relaxed);
    atomic_store_explicit(&s->name_gen, gen + 1, memory_order_relaxed);
}

void up_slot_set_name(struct up_slot *s, const char *name, size_t len)
{
    up_lock(&up_name_lock);
    up_slot_name_locked(s, name, len);
    up_unlock(&up_name_lock);
}

void up_slot_set_name_of(pthread_t thread, const char *name)
{
    uint32_t n = up_slot_count();
    up_lock(&up_name_lock);
    for (uint32_t i = 0; i < n; i++) {
        struct up_slot *s = up_slots[i];
        /* Relaxed: `thread` is read under the lock that claim wrote it under. */
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == UP_SLOT_OWNED &&
            pthread_equal(s->thread, thread)) {
            up_slot_name_locked(s, name, strnlen(name, UP_NAME_MAX - 1));
            break;
        }
    }
    up_unlock(&up_name_lock);
}

int up_slot_take_name(struct up_slot *s, char out[UP_NAME_MAX])
{
    if (atomic_load_explicit(&s->name_gen, memory_order_relaxed) == s->name_gen_written)
        return -1;
    /* The writer never waits for a namer: busy means next round (a namer
     * interrupted by a handler that calls exit() would otherwise hang the
     * writer's last round, and with it the exit). */
    if (pthread_mutex_trylock(&up_name_lock) != 0)
        return -1;
    int len = (int)s->name_len;
    memcpy(out, s->name, (size_t)len);
    s->name_gen_written = atomic_load_explicit(&s->name_gen, memory_order_relaxed);
    up_unlock(&up_name_lock);
    return len;
}
