/* 200 threads in pthread_cond_wait for 3 s; prints the process's CPU time. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t c = PTHREAD_COND_INITIALIZER; static int go;
static void *w(void *a){ pthread_mutex_lock(&m); while(!go) pthread_cond_wait(&c,&m); pthread_mutex_unlock(&m); return a; }
int main(void){ pthread_t t[200]; for(int i=0;i<200;i++) pthread_create(&t[i],0,w,0); sleep(3); pthread_mutex_lock(&m); go=1; pthread_cond_broadcast(&c); pthread_mutex_unlock(&m); for(int i=0;i<200;i++) pthread_join(t[i],0);
 struct rusage r; getrusage(RUSAGE_SELF,&r); printf("IDLE cpu_ms=%.0f\n",(r.ru_utime.tv_sec+r.ru_stime.tv_sec)*1e3+(r.ru_utime.tv_usec+r.ru_stime.tv_usec)/1e3); return 0;}
