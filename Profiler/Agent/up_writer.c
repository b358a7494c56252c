/*
 * up_writer.c - the writer thread: drains every slot's rings into the file.
 *
 * One thread, started by the constructor with every signal blocked (the
 * program's process-directed signals go to its own threads; no EINTR here).
 * It is an agent thread (up_tls INTERNAL): its own calls are never marked.
 * Every 10-50 ms (up_agent.h: four sampling periods; a futex wait on the
 * stop word, woken at exit or by up_writer_kick) it drains all
 * slots: SAMPLE and STACK records as the rings hold them, a THREAD record
 * when a slot's name changed, a LOST record when a slot's drop counts grew,
 * and it frees the slots of exited threads.  Everything goes through one
 * 64 KiB buffer, flushed after each round with write() (partial writes and
 * EINTR handled).
 *
 * The file: header, META, PROCESS (this process: up_inherit.c), CALL x N
 * (constructor, or a fork child's restart), then MAP x N (start), the
 * drained records and the PROCESS records of children and execs seen, and
 * at process exit MAP x N again, the last LOSTs and END.  A write error (disk full...) stops the output: the agent says
 * so once and the file has no END.  The descriptor is checked before each
 * write (st_dev/st_ino): a program that closes it, or reuses its number,
 * does not get records written into its own file.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "up_calls.h"
#include "up_inherit.h"
#include "up_idle.h"
#include "up_maps.h"
#include "up_real.h"
#include "up_ring.h"
#include "up_thread.h"
#include <deferred_unwind.h>
#include "up_tls.h"
#include "up_writer.h"
#include "up_copy.h"

static int up_fd = -1;
static dev_t up_fd_dev;
static ino_t up_fd_ino;
static int up_failed; /* output stopped (error already reported) */
static unsigned char up_buf[65536];
static size_t up_len;
static uint64_t up_n_samples, up_n_stacks, up_n_lost;
static pthread_t up_writer_thread;
/* The stop word, also the futex the writer sleeps on.  Release store at
 * exit; partner: the writer's acquire load before its last round, so all
 * the exiting thread wrote to its rings before is drained. */
static _Atomic int up_stop;
/* 1 while the writer drains.  Release/acquire: a callback that sees 0 sees
 * a writer that will never drain again (it does not wait then). */
static _Atomic int up_alive;

static void up_fail(const char *what, int err)
{
    if (!up_failed)
        up_log("record file: %s (%s); no more records are written", what, strerror(err));
    up_failed = 1;
    up_len = 0;
}

/* Whether up_fd is still the file we opened: the program may have closed
 * it and reused the number (dup2 onto it, as GLib's spawn child does with
 * its error pipe before exec). */
static int up_fd_ours(void)
{
    struct stat st;
    return up_fd >= 0 && fstat(up_fd, &st) == 0 && st.st_dev == up_fd_dev && st.st_ino == up_fd_ino;
}

/* Close our descriptor, never the program's: a number the program reused
 * is left alone (a glib spawn child's error pipe closed by us made a
 * failed exec look like a success to its parent). */
static void up_close_own(void)
{
    if (up_fd_ours())
        (void)close(up_fd);
    up_fd = -1;
}

static void up_flush(void)
{
    if (up_failed || up_len == 0) {
        up_len = 0;
        return;
    }
    if (!up_fd_ours()) {
        up_fail("the program closed or replaced the file's descriptor", EBADF);
        return;
    }
    size_t off = 0;
    while (off < up_len) {
        ssize_t n = up_real_write()(up_fd, up_buf + off, up_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            up_fail("write failed", n < 0 ? errno : ENOSPC);
            return;
        }
        off += (size_t)n;
    }
    up_len = 0;
}

static void up_emit(const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    while (n > 0) {
        if (up_len == sizeof up_buf)
            up_flush();
        size_t k = sizeof up_buf - up_len < n ? sizeof up_buf - up_len : n;
        memcpy(up_buf + up_len, p, k);
        up_len += k;
        p += k;
        n -= k;
    }
}

void up_writer_record(void *fixed, size_t fixed_len, const void *var, size_t var_len)
{
    static const unsigned char zeros[8];
    uint32_t size = up_rec_size(fixed_len, var_len);
    ((struct up_rec_header *)fixed)->size = size;
    up_emit(fixed, fixed_len);
    if (var_len)
        up_emit(var, var_len);
    up_emit(zeros, size - fixed_len - var_len);
}

void up_writer_stack(void *fixed, size_t fixed_len, const void *ips, size_t ips_len)
{
    up_writer_record(fixed, fixed_len, ips, ips_len);
    up_n_stacks++;
}

static void up_lost_record(uint32_t tid, uint32_t kind, uint64_t now, uint64_t *reported)
{
    if (now == *reported)
        return;
    struct up_rec_lost rec = {.h = {.type = UP_REC_LOST}, .tid = tid, .kind = kind, .count = now - *reported};
    up_writer_record(&rec, sizeof rec, NULL, 0);
    up_n_lost += now - *reported;
    *reported = now;
}

static _Atomic int up_said_bad_ring;

static void up_drain_slot(struct up_slot *s)
{
    /* Acquire, before the drains: partner the owner's release of OWNED
     * (tid) and of EXITED (its last records and counts, up_slot.h). */
    uint32_t state = atomic_load_explicit(&s->state, memory_order_acquire);
    if (state != UP_SLOT_OWNED && state != UP_SLOT_EXITED)
        return;
    up_n_samples += up_sample_drain(s, up_emit);
    int bad = 0;
    up_n_stacks += up_stack_drain(s, up_emit, &bad);
    (void)up_copy_drain(s); /* on-CPU stack copies, unwound here (up_copy.c); counted by up_writer_stack */
    if (bad && !atomic_exchange_explicit(&up_said_bad_ring, 1, memory_order_relaxed))
        up_log("internal error: malformed stack ring of thread %u dropped", s->tid);
    char name[UP_NAME_MAX];
    int len = up_slot_take_name(s, name);
    if (len >= 0) {
        struct up_rec_thread rec = {.h = {.type = UP_REC_THREAD}, .tid = s->tid, .name_len = (uint32_t)len};
        up_writer_record(&rec, sizeof rec, name, (size_t)len);
    }
    /* Relaxed: counts; the acquire above ordered the final ones. */
    up_lost_record(s->tid, UP_LOST_SAMPLES, atomic_load_explicit(&s->s_lost, memory_order_relaxed),
                   &s->s_lost_reported);
    up_lost_record(s->tid, UP_LOST_STACKS, atomic_load_explicit(&s->k_lost, memory_order_relaxed),
                   &s->k_lost_reported);
    if (state == UP_SLOT_EXITED) {
        /* Drained for good: the indices meet, the counts are reported.  The
         * name's generation is caught up so the next owner's name shows.
         * Partner of this release: the claimer's acquire CAS. */
        s->name_gen_written = atomic_load_explicit(&s->name_gen, memory_order_relaxed);
        atomic_store_explicit(&s->state, UP_SLOT_FREE, memory_order_release);
    }
}

static void up_drain_all(void)
{
    uint32_t n = up_slot_count();
    for (uint32_t i = 0; i < n; i++)
        up_drain_slot(up_slots[i]);
}

/* The proxy: deliver the contexts of threads blocked in interposed calls
 * (frozen regions, up_call.h) from here, once per period, so a thread that
 * stays blocked still gets its stacks; and once more at the end, for the
 * threads still blocked then.  The callbacks write their STACK records
 * here (up_stack.c).  A thread's leave waits while we serve it: the
 * callbacks only format into the buffer (a flush is a write). */
static int up_writer_proxy; /* attached to the core: du_proxy_serve works */

static void up_serve_frozen(void)
{
    if (up_writer_proxy)
        (void)du_proxy_serve();
}

void up_writer_kick(void)
{
    /* The writer sleeps in FUTEX_WAIT on up_stop (its loop below); a wake
     * ends that sleep early and the loop drains.  No order needed: the
     * ring's own release/acquire pair publishes what the writer drains. */
    (void)up_real_syscall()(SYS_futex, (long)&up_stop, (long)FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L);
}

/* The round's period (up_agent.h): UP_WRITER_TICKS sampling periods,
 * within [UP_WRITER_PERIOD_MIN_NS, UP_WRITER_PERIOD_MAX_NS]. */
static long up_writer_period_ns(void)
{
    long ns = (long)(UP_WRITER_TICKS * 1000000000ull / (up_config.frequency_hz ? up_config.frequency_hz : 1));
    return ns < UP_WRITER_PERIOD_MIN_NS ? UP_WRITER_PERIOD_MIN_NS
           : ns > UP_WRITER_PERIOD_MAX_NS ? UP_WRITER_PERIOD_MAX_NS : ns;
}

static void *up_writer_main(void *arg)
{
    (void)arg;
    up_thread_mark_internal();
    up_tls.guard++; /* nothing the core calls here is marked */
    up_writer_proxy = du_thread_attach() == 0;
    up_tls.guard--;
    up_maps_emit();
    up_flush();
    for (;;) {
        int stop = atomic_load_explicit(&up_stop, memory_order_acquire);
        up_drain_all();
        up_process_events_drain();
        up_n_samples += up_idle_serve(up_emit, stop); /* parked threads' periods (up_idle.c) */
        up_serve_frozen();
        up_flush();
        if (stop)
            break;
        struct timespec period = {.tv_sec = 0, .tv_nsec = up_writer_period_ns()};
        (void)up_real_syscall()(SYS_futex, (long)&up_stop, (long)FUTEX_WAIT_PRIVATE, 0L, (long)&period, 0L, 0L);
    }
    if (up_writer_proxy)
        (void)du_thread_detach();
    up_maps_emit();
    struct up_rec_end end = {
        .h = {.type = UP_REC_END,
              .flags = (uint16_t)atomic_load_explicit(&up_end_flags, memory_order_relaxed)},
        .time_ns = up_monotonic_ns(),
        .samples = up_n_samples,
        .stacks = up_n_stacks,
        .lost = up_n_lost,
    };
    up_writer_record(&end, sizeof end, NULL, 0);
    up_flush();
    up_close_own();
    atomic_store_explicit(&up_alive, 0, memory_order_release);
    /* A fatal signal's handler may wait for this (up_writer_finish_bounded). */
    (void)up_real_syscall()(SYS_futex, (long)&up_alive, (long)FUTEX_WAKE_PRIVATE, (long)INT_MAX, 0L, 0L, 0L);
    return NULL;
}

int up_writer_open(const char *path, const char *cmdline, size_t cmdline_len)
{
    /* A fork child's restart starts from the parent's copy of all this. */
    up_len = 0;
    up_failed = 0;
    up_n_samples = up_n_stacks = up_n_lost = 0;
    atomic_store_explicit(&up_stop, 0, memory_order_relaxed); /* no writer yet */
    up_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (up_fd < 0)
        return -errno;
    struct stat st;
    if (fstat(up_fd, &st) != 0) {
        int err = errno;
        (void)close(up_fd);
        up_fd = -1;
        return -err;
    }
    up_fd_dev = st.st_dev;
    up_fd_ino = st.st_ino;
    struct up_file_header fh = {.major = UP_FILE_MAJOR, .minor = UP_FILE_MINOR, .reserved = 0};
    memcpy(fh.magic, UP_FILE_MAGIC, sizeof fh.magic);
    up_emit(&fh, sizeof fh);
    struct up_rec_meta meta = {
#ifdef UP_BASELINE_PER_SAMPLE /* benchmark-only agent (up_sampler.c) */
        .h = {.type = UP_REC_META, .flags = UP_META_PER_SAMPLE},
#else
        .h = {.type = UP_REC_META, .flags = 0},
#endif
        .pid = (uint32_t)up_config.pid,
        .frequency_hz = up_config.frequency_hz,
        .start_ns = up_config.start_ns,
        .start_realtime_ns = up_config.start_realtime_ns,
        .signal = UP_SIGNAL,
        .cmdline_len = (uint32_t)cmdline_len,
    };
    up_writer_record(&meta, sizeof meta, cmdline, cmdline_len);
    size_t exe_len;
    const char *exe = up_inherit_exe(&exe_len);
    struct up_rec_process self = {
        .h = {.type = UP_REC_PROCESS, .flags = UP_PROCESS_SELF},
        .pid = (uint32_t)up_config.pid,
        .ppid = up_self.ppid,
        .kind = up_self.kind,
        .path_len = (uint32_t)exe_len,
    };
    up_writer_record(&self, sizeof self, exe, exe_len);
    static const char *const names[] = {
#define UP_CALL_NAME(id, name) name,
        UP_CALLS(UP_CALL_NAME)
#undef UP_CALL_NAME
    };
    for (uint32_t id = 1; id < UP_CALL_END; id++) {
        const char *name = names[id - 1];
        struct up_rec_call rec = {.h = {.type = UP_REC_CALL}, .id = id, .name_len = (uint32_t)strlen(name)};
        up_writer_record(&rec, sizeof rec, name, rec.name_len);
    }
    return 0;
}

int up_writer_start(void)
{
    sigset_t all, saved;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &saved);
    atomic_store_explicit(&up_alive, 1, memory_order_relaxed); /* before the thread exists */
    int r = up_real_pthread_create()(&up_writer_thread, NULL, up_writer_main, NULL);
    (void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (r != 0) {
        atomic_store_explicit(&up_alive, 0, memory_order_relaxed);
        return -r;
    }
    return 0;
}

void up_writer_finish(void)
{
    atomic_store_explicit(&up_stop, 1, memory_order_release);
    (void)up_real_syscall()(SYS_futex, (long)&up_stop, (long)FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L);
    (void)up_real_pthread_join()(up_writer_thread, NULL);
}

int up_writer_finish_bounded(int64_t timeout_ns)
{
    /* Acquire: partner the writer's release store of 0 (its END is out). */
    if (!atomic_load_explicit(&up_alive, memory_order_acquire))
        return -ESRCH;
    atomic_store_explicit(&up_stop, 1, memory_order_release); /* as up_writer_finish */
    (void)up_real_syscall()(SYS_futex, (long)&up_stop, (long)FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L);
    uint64_t deadline = up_monotonic_ns() + (uint64_t)timeout_ns;
    while (atomic_load_explicit(&up_alive, memory_order_acquire)) {
        uint64_t now = up_monotonic_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct timespec left = {.tv_sec = (time_t)((deadline - now) / 1000000000u),
                                .tv_nsec = (long)((deadline - now) % 1000000000u)};
        (void)up_real_syscall()(SYS_futex, (long)&up_alive, (long)FUTEX_WAIT_PRIVATE, 1L, (long)&left, 0L, 0L);
    }
    return 0;
}

_Atomic uint32_t up_end_flags;

int up_writer_running(void) { return atomic_load_explicit(&up_alive, memory_order_acquire); }

void up_writer_forget(void)
{
    atomic_store_explicit(&up_alive, 0, memory_order_relaxed); /* one thread */
    up_close_own();
    up_failed = 1;
    up_len = 0;
}
