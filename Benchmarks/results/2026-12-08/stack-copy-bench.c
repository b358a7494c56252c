/* Fixed work on the main thread (a recursive walk 12 frames deep around a
 * loop), then its own CPU time and the process's (the agent's writer
 * included). */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
static double ns(clockid_t c){struct timespec t;clock_gettime(c,&t);return t.tv_sec*1e9+t.tv_nsec;}
__attribute__((noinline)) static double work(int depth, long n){ if(depth) return work(depth-1,n)+1; volatile double x=0; for(long i=0;i<n;i++) x+=i*0.5; return x;}
int main(void){ double s=0; for(int r=0;r<600;r++) s+=work(12, 1000000); printf("BENCH main_cpu_ms=%.1f process_cpu_ms=%.1f %g\n", ns(CLOCK_THREAD_CPUTIME_ID)/1e6, ns(CLOCK_PROCESS_CPUTIME_ID)/1e6, s>0?1.0:0.0); return 0;}
