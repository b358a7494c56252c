/*
 * up_records.h - the record layouts of Docs/ProfileFormat.md, as the agent
 * writes them (little-endian host, asserted in up_agent.h).  Rings hold
 * SAMPLE and STACK records exactly as they go to the file.
 */
#ifndef UP_RECORDS_H
#define UP_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#define UP_FILE_MAGIC "DUPROFIL"
#define UP_FILE_MAJOR 1
#define UP_FILE_MINOR 1 /* 1: SAMPLE grew to 48 bytes (CPU time, state); PROCESS records */

enum up_record_type {
    UP_REC_META = 1,
    UP_REC_SAMPLE = 2,
    UP_REC_STACK = 3,
    UP_REC_THREAD = 4,
    UP_REC_MAP = 5,
    UP_REC_LOST = 6,
    UP_REC_CALL = 7,
    UP_REC_END = 8,
    UP_REC_PROCESS = 9,
};

/* META flags: stacks unwound once per sample (the benchmark baseline agent,
 * `make agent-baseline`); 0 = deferred (the shipped agent). */
#define UP_META_PER_SAMPLE 0x1u
/* SAMPLE flags: du_request()'s answer. */
#define UP_SAMPLE_QUEUED 0x1u  /* returned 0 */
#define UP_SAMPLE_ALREADY 0x2u /* returned 1 */
#define UP_SAMPLE_FAILED 0x4u  /* returned < 0; cookie 0 */
/* Bits 3..15: the timer's overruns before this tick (periods that passed
 * while the signal waited, e.g. for a CPU), capped: the sample stands for
 * 1 + overruns periods. */
#define UP_SAMPLE_OVERRUN_SHIFT 3u
#define UP_SAMPLE_OVERRUN_MAX 8191u
/* SAMPLE cpu_state bits (minor 1). */
#define UP_SAMPLE_CPU_MEASURED 0x1u /* cpu_us holds the thread's CPU time since its previous SAMPLE */
#define UP_SAMPLE_STATE_KNOWN 0x2u  /* the interrupted context was read: bit 2 says blocked or not */
#define UP_SAMPLE_BLOCKED 0x4u      /* the tick woke the thread from a sleeping system call */
#define UP_SAMPLE_SYSCALL 0x8u      /* `syscall` names that call (x86-64 number) */
#define UP_SAMPLE_AT_RETURN 0x10u   /* the tick came as a system call returned (not bit 2) */
/* STACK flags, agent bits (above du_trace_flags). */
#define UP_STACK_FP 0x100u
#define UP_STACK_DWARF 0x200u
/* END flags: how the recording ended, and what it does not contain. */
#define UP_END_EXEC 0x1u   /* the process exec'd another program: the record ends there */
#define UP_END_FORKED 0x2u /* the process forked children: they are not profiled */
/* PROCESS: how a process started (kind) and whose record this file is. */
enum up_process_kind {
    UP_PROC_ROOT = 0,       /* started by `record` */
    UP_PROC_FORK = 1,       /* fork() child, profiled from the fork on */
    UP_PROC_EXEC_FORK = 2,  /* a program exec'd by a fork child */
    UP_PROC_EXEC = 3,       /* a program exec'd in place (same pid) */
    UP_PROC_SPAWN = 4,      /* a program exec'd by a vfork/posix_spawn child */
};
#define UP_PROCESS_SELF 0x1u /* flags: this record describes the file's own process */
/* LOST kinds. */
#define UP_LOST_SAMPLES 0u
#define UP_LOST_STACKS 1u

struct up_file_header {
    char magic[8];
    uint16_t major, minor;
    uint32_t reserved;
};

struct up_rec_header {
    uint16_t type;
    uint16_t flags;
    uint32_t size; /* whole record, header included, multiple of 8 */
};

struct up_rec_meta {
    struct up_rec_header h;
    uint32_t pid, frequency_hz;
    uint64_t start_ns, start_realtime_ns;
    uint32_t signal, cmdline_len;
    /* cmdline bytes follow */
};

struct up_rec_sample {
    struct up_rec_header h;
    uint32_t tid, call;
    uint64_t time_ns, cookie, pc;
    uint32_t cpu_us;                /* CPU time since the thread's previous SAMPLE, saturated */
    uint16_t syscall, cpu_state;    /* UP_SAMPLE_CPU_MEASURED ... */
};

struct up_rec_stack {
    struct up_rec_header h;
    uint32_t tid, flags;
    uint64_t cookie;
    uint32_t nr, reserved;
    /* uint64_t ips[nr] follow */
};

struct up_rec_thread {
    struct up_rec_header h;
    uint32_t tid, name_len;
};

struct up_rec_map {
    struct up_rec_header h;
    uint64_t start, end, bias, file_offset;
    uint16_t build_id_len, path_len;
    uint32_t reserved;
};

struct up_rec_lost {
    struct up_rec_header h;
    uint32_t tid, kind;
    uint64_t count;
};

struct up_rec_call {
    struct up_rec_header h;
    uint32_t id, name_len;
};

struct up_rec_end {
    struct up_rec_header h;
    uint64_t time_ns, samples, stacks, lost;
};

/* 9 PROCESS: the file's own process (flag SELF, right after META), or a
 * child this process started / a program it exec'd (written when seen). */
struct up_rec_process {
    struct up_rec_header h;
    uint32_t pid, ppid;
    uint32_t kind, path_len; /* kind: enum up_process_kind */
    /* path bytes follow (the program, for the exec kinds; may be empty) */
};

_Static_assert(sizeof(struct up_file_header) == 16, "file header is 16 bytes");
_Static_assert(sizeof(struct up_rec_header) == 8, "record header is 8 bytes");
_Static_assert(sizeof(struct up_rec_meta) == 40, "META fixed part is 40 bytes");
_Static_assert(offsetof(struct up_rec_meta, start_ns) == 16, "META.start_ns at 16");
_Static_assert(offsetof(struct up_rec_meta, signal) == 32, "META.signal at 32");
_Static_assert(sizeof(struct up_rec_sample) == 48, "SAMPLE is 48 bytes");
_Static_assert(offsetof(struct up_rec_sample, cpu_us) == 40, "SAMPLE.cpu_us at 40");
_Static_assert(offsetof(struct up_rec_sample, cpu_state) == 46, "SAMPLE.cpu_state at 46");
_Static_assert(offsetof(struct up_rec_sample, time_ns) == 16, "SAMPLE.time_ns at 16");
_Static_assert(offsetof(struct up_rec_sample, pc) == 32, "SAMPLE.pc at 32");
_Static_assert(sizeof(struct up_rec_stack) == 32, "STACK fixed part is 32 bytes");
_Static_assert(offsetof(struct up_rec_stack, nr) == 24, "STACK.nr at 24");
_Static_assert(sizeof(struct up_rec_thread) == 16, "THREAD fixed part is 16 bytes");
_Static_assert(sizeof(struct up_rec_map) == 48, "MAP fixed part is 48 bytes");
_Static_assert(offsetof(struct up_rec_map, build_id_len) == 40, "MAP.build_id_len at 40");
_Static_assert(sizeof(struct up_rec_lost) == 24, "LOST is 24 bytes");
_Static_assert(sizeof(struct up_rec_call) == 16, "CALL fixed part is 16 bytes");
_Static_assert(sizeof(struct up_rec_end) == 40, "END is 40 bytes");
_Static_assert(sizeof(struct up_rec_process) == 24, "PROCESS fixed part is 24 bytes");
_Static_assert(sizeof(uintptr_t) == sizeof(uint64_t), "STACK ips are 64-bit addresses");

/* Size of a record with `fixed` + `var` bytes, padded to 8. */
static inline uint32_t up_rec_size(size_t fixed, size_t var)
{
    return (uint32_t)((fixed + var + 7) & ~(size_t)7);
}

#endif /* UP_RECORDS_H */
