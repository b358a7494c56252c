/* step_table_support.h - the step table (DU_STEP_TABLE,
 * deferred_unwind_debug.h) as data, and one pass of every operation with
 * the steps it reaches, for StepTableTests (the code's side of the check
 * against the model's step map, Model/steps.tsv). */
#ifndef DU_STEP_TABLE_SUPPORT_H
#define DU_STEP_TABLE_SUPPORT_H

/* One row of the table: DU_STEP_<id>, its du_step_name(), the core file
 * whose DU_STEP() reaches it, the model label. */
struct st_row {
    const char *id;
    const char *name;
    const char *file;
    const char *label;
};

/* The number of rows (DU_STEP_COUNT), and row i (0 <= i < count). */
int st_step_count(void);
struct st_row st_step_row(int i);

/* The operations st_record_ops runs, in this order, and their names. */
enum { ST_OPS = 11 };
const char *st_op_name(int op);

/* On the calling thread, detached on entry and on return: attach, then
 * register a tracer, request it (the first request of a context), run the
 * safe point (delivers, ends the context), cancel it, register a second,
 * request it, detach (delivers it with an exiting trace).  Every step
 * reached is stored in out[] (its enum value), with -1 after each of the
 * ST_OPS operations.  Returns the number stored, or -errno.  DU_STEP_POINTS
 * builds only (returns -ENOSYS otherwise). */
int st_record_ops(int *out, int max);
#endif
