/*
 * agent_transparency.c - one case per run: what a program sees of a call
 * (return value, errno, bytes moved, a checksum of the data, whether a
 * timeout was honoured, whether its own signal interrupted it), printed as
 * one line "CASE <name> ...".  AgentTransparencyTests runs every case with
 * and without the agent (999 Hz) and requires the same line and the same
 * (empty) stderr.  Nothing here depends on timing beyond generous bounds:
 * times are printed only as "timeout honoured: yes/no".
 *
 *   agent_transparency <case>      (agent_transparency list: the cases)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A hang is a failure of the case, not of the test run. */
static void *watchdog(void *arg)
{
    nap_ms((unsigned)(uintptr_t)arg);
    printf("CASE hung (watchdog after %u ms)\n", (unsigned)(uintptr_t)arg);
    fflush(stdout);
    _exit(3);
}

/* With every signal blocked: a process-directed signal (alarm's SIGALRM)
 * must reach the thread that waits for it, never the watchdog (a
 * siglongjmp there would run main's frames on the watchdog's stack). */
static void start_watchdog(unsigned ms)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_create(&t, NULL, watchdog, (void *)(uintptr_t)ms);
    pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static uint32_t sum(const unsigned char *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i < n; i++)
        s = s * 31u + p[i];
    return s;
}

/* ---- blocking transfers that our signal must not cut short ---------------- */

#define BIG (4u << 20)
static int pipefd[2];

static void *slow_reader(void *arg)
{
    (void)arg;
    static unsigned char buf[65536];
    size_t total = 0;
    uint32_t s = 0;
    while (total < BIG) {
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0)
            break;
        s = sum(buf, (size_t)n, s);
        total += (size_t)n;
        nap_ms(1);
    }
    printf("reader: %zu bytes, checksum %08x\n", total, s);
    return NULL;
}

static void *slow_reader_quiet(void *arg)
{
    (void)arg;
    static unsigned char buf[65536];
    while (read(pipefd[0], buf, sizeof buf) > 0)
        nap_ms(10); /* 64 reads: the signal at 200 ms lands mid-write */
    return NULL;
}

/* One 4 MiB write() to a pipe that a slow reader drains: all of it, once. */
static void case_pipe_write(void)
{
    static unsigned char data[BIG];
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 13));
    if (pipe(pipefd) != 0)
        exit(2);
    pthread_t r;
    pthread_create(&r, NULL, slow_reader, NULL);
    ssize_t n = write(pipefd[1], data, BIG);
    int e = n < 0 ? errno : 0;
    close(pipefd[1]);
    pthread_join(r, NULL);
    printf("CASE pipe-write ret=%zd errno=%d\n", n, e);
}

/* The same write, non-blocking: the pipe's capacity at once, whatever the
 * ticks do. */
static void case_pipe_write_nonblock(void)
{
    static unsigned char data[BIG];
    if (pipe(pipefd) != 0)
        exit(2);
    fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
    ssize_t n = write(pipefd[1], data, BIG);
    int e = n < 0 ? errno : 0;
    printf("CASE pipe-write-nonblock ret=%zd errno=%d\n", n, e);
}

/* The same write, interrupted by the program's own signal (SA_RESTART
 * handler) after partial progress: a partial count, as the kernel gives. */
static volatile sig_atomic_t own;
static void on_own(int sig) { (void)sig; own++; }
static void *interrupt_later(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    nap_ms(200);
    pthread_kill(target, SIGUSR2);
    return NULL;
}
static void case_pipe_write_own_signal(void)
{
    static unsigned char data[BIG];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_own;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    if (pipe(pipefd) != 0)
        exit(2);
    pthread_t r, k, self = pthread_self();
    pthread_create(&r, NULL, slow_reader_quiet, NULL);
    pthread_create(&k, NULL, interrupt_later, &self);
    ssize_t n = write(pipefd[1], data, BIG);
    close(pipefd[1]);
    pthread_join(k, NULL);
    pthread_join(r, NULL);
    printf("CASE pipe-write-own-signal partial=%s handler-ran=%d\n", n > 0 && n < (ssize_t)BIG ? "yes" : "no",
           (int)own);
}

/* sendfile of a 4 MiB file into a pipe that a slow reader drains: all of
 * it in one call, as without the agent. */
static void case_sendfile(void)
{
    static unsigned char data[BIG];
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i * 11 + (i >> 9));
    char path[64];
    snprintf(path, sizeof path, "/tmp/agent-transparency-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, BIG) != (ssize_t)BIG)
        exit(2);
    unlink(path);
    if (pipe(pipefd) != 0)
        exit(2);
    pthread_t r;
    pthread_create(&r, NULL, slow_reader, NULL);
    off_t off = 0;
    ssize_t n = sendfile(pipefd[1], fd, &off, BIG);
    int e = n < 0 ? errno : 0;
    close(pipefd[1]);
    pthread_join(r, NULL);
    printf("CASE sendfile ret=%zd errno=%d offset=%lld\n", n, e, (long long)off);
}

static int sv[2];

static void *slow_sender(void *arg)
{
    size_t total = (size_t)(uintptr_t)arg;
    static unsigned char chunk[16384];
    size_t sent = 0;
    while (sent < total) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (unsigned char)((sent + i) * 13);
        ssize_t n = send(sv[1], chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        sent += (size_t)n;
        nap_ms(1);
    }
    return NULL;
}

/* recv(MSG_WAITALL) of 1 MiB sent in 16 KiB pieces: the whole MiB. */
static void case_recv_waitall(void)
{
    const size_t want = 1u << 20;
    static unsigned char buf[1u << 20];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(2);
    pthread_t t;
    pthread_create(&t, NULL, slow_sender, (void *)(uintptr_t)want);
    ssize_t n = recv(sv[0], buf, want, MSG_WAITALL);
    int e = n < 0 ? errno : 0;
    pthread_join(t, NULL);
    printf("CASE recv-waitall ret=%zd errno=%d checksum=%08x\n", n, e, n > 0 ? sum(buf, (size_t)n, 0) : 0);
}

/* ---- calls the kernel never restarts after a handler ---------------------- */

static int semid, msqid;

static void *sem_poster(void *arg)
{
    (void)arg;
    nap_ms(300);
    struct sembuf up = {0, 1, 0};
    semop(semid, &up, 1);
    return NULL;
}

/* semop waiting 300 ms for another thread's post: 0. */
static void case_semop(void)
{
    semid = semget(IPC_PRIVATE, 1, 0600);
    if (semid < 0)
        exit(2);
    pthread_t t;
    pthread_create(&t, NULL, sem_poster, NULL);
    struct sembuf down = {0, -1, 0};
    int r = semop(semid, &down, 1);
    int e = r < 0 ? errno : 0;
    pthread_join(t, NULL);
    semctl(semid, 0, IPC_RMID);
    printf("CASE semop ret=%d errno=%d\n", r, e);
}

/* semtimedop with a 300 ms timeout that expires: -1 EAGAIN, not early. */
static void case_semtimedop(void)
{
    semid = semget(IPC_PRIVATE, 1, 0600);
    if (semid < 0)
        exit(2);
    struct sembuf down = {0, -1, 0};
    struct timespec tmo = {0, 300 * 1000000L};
    uint64_t t0 = now_ns();
    int r = semtimedop(semid, &down, 1, &tmo);
    int e = r < 0 ? errno : 0;
    int honoured = now_ns() - t0 >= 300ull * 1000000ull;
    semctl(semid, 0, IPC_RMID);
    printf("CASE semtimedop ret=%d errno=%d timeout-honoured=%s\n", r, e, honoured ? "yes" : "no");
}

struct msg { long type; char text[64]; };

static void *msg_sender(void *arg)
{
    (void)arg;
    nap_ms(300);
    struct msg m = {1, "hello from another thread"};
    msgsnd(msqid, &m, sizeof m.text, 0);
    return NULL;
}

/* msgrcv waiting 300 ms for a message: its size. */
static void case_msgrcv(void)
{
    msqid = msgget(IPC_PRIVATE, 0600);
    if (msqid < 0)
        exit(2);
    pthread_t t;
    pthread_create(&t, NULL, msg_sender, NULL);
    struct msg m;
    ssize_t r = msgrcv(msqid, &m, sizeof m.text, 0, 0);
    int e = r < 0 ? errno : 0;
    pthread_join(t, NULL);
    msgctl(msqid, IPC_RMID, NULL);
    printf("CASE msgrcv ret=%zd errno=%d text=%s\n", r, e, r > 0 ? m.text : "-");
}

/* ---- the program's own signals, however installed ------------------------- */

/* Declared by glibc only for old standards; still exported. */
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }

static void *send_usr1_later(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    nap_ms(300);
    pthread_kill(target, SIGUSR1);
    return NULL;
}

/* A handler installed by `how`, then pause(): -1 EINTR once it ran. */
static void pause_with(const char *how)
{
    if (strcmp(how, "sigset") == 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        sigset(SIGUSR1, on_usr1);
#pragma GCC diagnostic pop
    }
    else if (strcmp(how, "signal") == 0)
        signal(SIGUSR1, on_usr1);
    else if (strcmp(how, "bsd_signal") == 0)
        bsd_signal(SIGUSR1, on_usr1);
    else if (strcmp(how, "syscall") == 0) {
        /* What a runtime that bypasses libc does (the kernel's sigaction
         * layout: handler, flags, restorer, mask; glibc's restorer). */
        struct sigaction sa, cur;
        memset(&sa, 0, sizeof sa);
        sigaction(SIGUSR2, NULL, &cur); /* glibc fills sa_restorer for us below */
        struct { void *h; unsigned long flags; void *restorer; uint64_t mask; } k = {0};
        struct { void *h; unsigned long flags; void *restorer; uint64_t mask; } probe;
        /* Install through libc once to learn the restorer, then raw. */
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR2, &sa, NULL);
        syscall(SYS_rt_sigaction, SIGUSR2, NULL, &probe, 8);
        sigaction(SIGUSR2, &cur, NULL);
        k.h = (void *)on_usr1;
        k.flags = probe.flags & 0x04000000ul; /* SA_RESTORER */
        k.restorer = probe.restorer;
        if (syscall(SYS_rt_sigaction, SIGUSR1, &k, NULL, 8) != 0)
            exit(2);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
    }
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, send_usr1_later, &self);
    int r = pause();
    int e = r < 0 ? errno : 0;
    pthread_join(t, NULL);
    printf("CASE pause-%s ret=%d errno=%d handler-ran=%d\n", how, r, e, (int)got);
}

/* SA_RESETHAND with flags and a mask: the old action after one delivery. */
static void case_resethand(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESETHAND | SA_RESTART | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR1, NULL, &old);
    printf("CASE resethand before: handler=%s flags=%#x usr2-masked=%d\n",
           old.sa_handler == on_usr1 ? "on_usr1" : "other", (unsigned)old.sa_flags,
           sigismember(&old.sa_mask, SIGUSR2));
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    printf("CASE resethand after: handler=%s flags=%#x usr2-masked=%d ran=%d\n",
           old.sa_handler == SIG_DFL ? "SIG_DFL" : old.sa_handler == on_usr1 ? "on_usr1" : "other",
           (unsigned)old.sa_flags, sigismember(&old.sa_mask, SIGUSR2), (int)got);
}

/* Round trips of sigaction for flag sets and SIG_IGN/SIG_DFL. */
static void on_info(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; got++; }
static void case_sigaction_roundtrip(void)
{
    const int flags[] = {0, SA_RESTART, SA_SIGINFO, SA_NODEFER, SA_ONSTACK | SA_RESTART, SA_SIGINFO | SA_NODEFER};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        if (flags[i] & SA_SIGINFO)
            sa.sa_sigaction = on_info;
        else
            sa.sa_handler = on_usr1;
        sa.sa_flags = flags[i];
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGTERM);
        sigaction(SIGUSR2, &sa, NULL);
        sigaction(SIGUSR2, NULL, &old);
        raise(SIGUSR2);
        printf("CASE roundtrip flags=%#x -> %#x term-masked=%d\n", (unsigned)flags[i], (unsigned)old.sa_flags,
               sigismember(&old.sa_mask, SIGTERM));
    }
    void (*const disp[])(int) = {SIG_IGN, SIG_DFL};
    for (int i = 0; i < 2; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = disp[i];
        sigaction(SIGUSR2, &sa, NULL);
        sigaction(SIGUSR2, NULL, &old);
        printf("CASE roundtrip %s -> %s\n", i ? "SIG_DFL" : "SIG_IGN",
               old.sa_handler == SIG_IGN ? "SIG_IGN" : old.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
    }
}

/* The program installs a SIGPROF handler: nothing appears on its streams. */
static void case_sigprof_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    int r = sigaction(SIGPROF, &sa, NULL);
    printf("CASE sigprof-handler ret=%d\n", r);
}

/* alarm + siglongjmp out of a blocking read (the classic timeout idiom),
 * then on-CPU work: the program sees the jump; the profile must show the
 * work on-CPU (AgentTransparencyTests reads the record). */
static sigjmp_buf jb;
static void on_alarm(int sig) { (void)sig; siglongjmp(jb, 1); }
static void case_longjmp_read(void)
{
    int p[2];
    if (pipe(p) != 0)
        exit(2);
    signal(SIGALRM, on_alarm);
    volatile int jumped = 0;
    if (sigsetjmp(jb, 1) == 0) {
        alarm(1);
        char c;
        (void)read(p[0], &c, 1); /* nobody writes */
    } else {
        jumped = 1;
    }
    volatile uint64_t x = 0;
    uint64_t end = now_ns() + 1000000000ull;
    while (now_ns() < end)
        for (int i = 0; i < 1000; i++)
            x += (uint64_t)i * 2654435761u;
    printf("CASE longjmp-read jumped=%d\n", jumped);
}

static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    {"pipe-write", case_pipe_write},
    {"pipe-write-nonblock", case_pipe_write_nonblock},
    {"pipe-write-own-signal", case_pipe_write_own_signal},
    {"recv-waitall", case_recv_waitall},
    {"sendfile", case_sendfile},
    {"semop", case_semop},
    {"semtimedop", case_semtimedop},
    {"msgrcv", case_msgrcv},
    {"resethand", case_resethand},
    {"sigaction-roundtrip", case_sigaction_roundtrip},
    {"sigprof-handler", case_sigprof_handler},
    {"longjmp-read", case_longjmp_read},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s <case>|list\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            printf("%s\n", cases[i].name);
        printf("pause-sigaction\npause-signal\npause-sigset\npause-bsd_signal\npause-syscall\n");
        return 0;
    }
    /* A test runner's signal mask and ignored signals are inherited across
     * exec: start from the defaults for every signal a case uses. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    start_watchdog(20000);
    if (strncmp(argv[1], "pause-", 6) == 0) {
        pause_with(argv[1] + 6);
        return 0;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            return 0;
        }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
