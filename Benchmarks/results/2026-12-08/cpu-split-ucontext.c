#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ucontext.h>
#include <sys/wait.h>
#include <sys/syscall.h>
static volatile long restart_n, eintr_n, run_n, total; static volatile long lastnr=-1, lasteintr_mov=-1;
static volatile long long cpu_cost_ns;
static void h(int s, siginfo_t *si, void *u){ ucontext_t *uc=u; unsigned char *ip=(unsigned char*)uc->uc_mcontext.gregs[REG_RIP];
 struct timespec a,b; clock_gettime(CLOCK_MONOTONIC,&a); struct timespec c; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&c); clock_gettime(CLOCK_MONOTONIC,&b);
 cpu_cost_ns += (b.tv_sec-a.tv_sec)*1000000000LL+(b.tv_nsec-a.tv_nsec);
 total++; long rax=uc->uc_mcontext.gregs[REG_RAX];
 if(ip[0]==0x0f&&ip[1]==0x05){restart_n++; lastnr=rax;}
 else if(ip[-2]==0x0f&&ip[-1]==0x05&&rax==-4){eintr_n++; if(ip[-7]==0xb8) lasteintr_mov=*(int*)(ip-6);}
 else run_n++;}
static void rep(const char*w){printf("%-10s total %ld restart %ld (nr %ld) eintr %ld (mov %ld) run %ld  clock_gettime(THREAD_CPUTIME) ~%lld ns\n",w,total,restart_n,lastnr,eintr_n,lasteintr_mov,run_n,total?cpu_cost_ns/total:0);restart_n=eintr_n=run_n=total=0;lastnr=-1;lasteintr_mov=-1;cpu_cost_ns=0;}
int main(int argc,char**argv){struct sigaction sa={0};sa.sa_sigaction=h;sa.sa_flags=SA_SIGINFO|SA_RESTART;sigaction(SIGPROF,&sa,0);
 struct sigevent ev={0};ev.sigev_notify=SIGEV_THREAD_ID;ev.sigev_signo=SIGPROF;ev._sigev_un._tid=gettid();timer_t t;timer_create(CLOCK_MONOTONIC,&ev,&t);
 struct itimerspec its={{0,1000000},{0,1000000}};timer_settime(t,0,&its,0);
 volatile double x=0; struct timespec s0,s1; clock_gettime(CLOCK_MONOTONIC,&s0); do{for(int i=0;i<100000;i++)x+=i; clock_gettime(CLOCK_MONOTONIC,&s1);}while(s1.tv_sec-s0.tv_sec<1); rep("cpu");
 int p[2]; pipe(p); pid_t pid=fork(); if(!pid){sleep(1);_exit(0);} char buf[65536]={0}; 
 pid_t c2=fork(); if(!c2){close(p[0]); FILE*f=fdopen(p[1],"w"); for(long i=0;i<100;i++)fwrite(buf,1,sizeof buf,f); _exit(0);} 
 waitpid(pid,0,0); rep("wait4");
 // child c2 blocked writing; read slowly
 close(p[1]); 
 // blocked write is in child; test our own blocked pipe write:
 int q[2]; pipe(q); memset(buf,1,sizeof buf); write(q[1],buf,65536); /* full */ pid_t r=fork(); if(!r){sleep(1); char b[65536]; read(q[0],b,sizeof b); read(q[0],b,sizeof b); _exit(0);} 
 write(q[1],buf,100); rep("pipewrite");
 struct timespec ts={1,0}; nanosleep(&ts,0); rep("nanosleep");
 syscall(SYS_futex,&x,0,*(int*)&x,&ts,0,0); rep("futex-to");
 kill(c2,9); return 0;}
