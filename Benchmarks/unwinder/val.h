/* val.h - validation workloads (ehu_validate.c drives them). */
#ifdef __cplusplus
extern "C" {
#endif
void vstep(void);
int v_o2_rec(int x);
int v_tail(int x);
int v_noret(int x);
int v_qsort(int x);
int v_bsearch(int x);
int v_spin(int x);
int v_align(int x);
int v_expr(int x);
int v_signal(int x);
int v_o0_rec(int x);
int v_cxx_sort(int x);
int v_cxx_once(int x);
int v_cxx_stream(int x);
int v_swift_rec(int x);
int v_swift_describe(int x);
int v_swift_class(int x);
#ifdef __cplusplus
}
#endif
