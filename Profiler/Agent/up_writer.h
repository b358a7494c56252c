/*
 * up_writer.h - the record file and the writer thread (up_writer.c).
 */
#ifndef UP_WRITER_H
#define UP_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Open the file and put the header, META, this process's PROCESS record
 * and the CALL records in the buffer (the counts and buffer start empty).
 * 0 or -errno.  Context: the constructor or a fork child's restart, before
 * the writer runs. */
int up_writer_open(const char *path, const char *cmdline, size_t cmdline_len);
/* Start the writer thread (every signal blocked in it).  0 or -errno.
 * Context: the constructor. */
int up_writer_start(void);
/* Stop the writer: last drain, MAPs, LOSTs, END, close; waits for it.
 * Context: process exit. */
void up_writer_finish(void);
/* The same from a fatal signal's handler: stop the writer and wait at most
 * timeout_ns for its END.  0, -ESRCH (no writer) or -ETIMEDOUT.
 * Context: signal handler (atomics, futex, clock_gettime). */
int up_writer_finish_bounded(int64_t timeout_ns);
/* UP_END_* bits for the END record's flags (any thread; relaxed fetch-or:
 * read by the writer at the end, after up_writer_finish's release). */
extern _Atomic uint32_t up_end_flags;
/* Whether the writer still drains (a full ring is worth waiting for).
 * Context: any thread. */
int up_writer_running(void);

/* Wake the writer for a round now (a full stack ring).  Context: thread or
 * signal context (one futex syscall); any thread but the writer. */
void up_writer_kick(void);
/* Forget the file without writing anything more: close our descriptor,
 * mark the writer gone.  Context: a fork child's atfork handler (the
 * parent's file is not ours there), or a start that failed. */
void up_writer_forget(void);
/* Append a record: `fixed` (whose header's type/flags are set; size is
 * filled in) then `var` bytes, zero-padded to 8.  Context: the writer
 * thread (or the constructor before it starts). */
void up_writer_record(void *fixed, size_t fixed_len, const void *var, size_t var_len);

/* A STACK record a proxy's callback made on the writer thread (up_stack.c):
 * written and counted at once.  Context: the writer thread. */
void up_writer_stack(void *fixed, size_t fixed_len, const void *ips, size_t ips_len);
#endif /* UP_WRITER_H */
