/*
 * agent_matrix_calls.h - the matrix's waits: sleeps, semaphores, SysV IPC,
 * futex, pthread waits, children, signals.  Part of agent_matrix.c (included
 * once, after its harness: the helper, the events, struct out).
 *
 * Each c_<call>(nonblock) sets `provide` (the event the helper gives once
 * the call blocks) and, where the answer or the cleanup needs the helper to
 * be done, `after`; it returns the call's ret, errno and data.
 */

/* Sleeps: short without a signal of the program; 5 s when one comes, so it
 * always lands inside the sleep however loaded the machine is. */
static long sleep_ms(void) { return strcmp(variant, "plain") == 0 ? 100 : 5000; }

static struct out c_nanosleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long ms = sleep_ms();
    long r = nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_clock_nanosleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long ms = sleep_ms();
    long r = clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    AFTER_CALL();
    return (struct out){r, r, 0};
}
static struct out c_usleep(int nb)
{
    (void)nb;
    provide = ev_none;
    long r = usleep((useconds_t)(sleep_ms() < 1000 ? sleep_ms() * 1000 : 999999));
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
/* sleep(1) without a signal (0: slept it all); sleep(5) when one comes: the
 * whole seconds left are 4 unless the signal came a second late, so ret is
 * 1 for "some left, fewer than asked" (0 or 5 would be wrong answers). */
static struct out c_sleep(int nb)
{
    (void)nb;
    provide = ev_none;
    unsigned s = sleep_ms() < 1000 ? 1 : 5;
    errno = 0;
    long r = sleep(s);
    AFTER_CALL();
    int e = errno;
    return (struct out){r >= 1 && r < (long)s ? 1 : r, e, 0};
}

static struct out c_sem_wait(int nb)
{
    (void)nb;
    sem_init(&psem, 0, 0);
    provide = ev_post;
    long r = sem_wait(&psem);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
/* sem_timedwait (CLOCK_REALTIME) and sem_clockwait (CLOCK_MONOTONIC): the
 * event within 5 s, or none and a 200 ms timeout. */
static struct out sem_timed(int clockwait, long ms, void (*ev)(void))
{
    sem_init(&psem, 0, 0);
    provide = ev;
    struct timespec ts = abs_in(clockwait ? CLOCK_MONOTONIC : CLOCK_REALTIME, ms);
    long r = clockwait ? sem_clockwait(&psem, CLOCK_MONOTONIC, &ts) : sem_timedwait(&psem, &ts);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_sem_timedwait(int nb) { (void)nb; return sem_timed(0, 5000, ev_post); }
static struct out c_sem_clockwait(int nb) { (void)nb; return sem_timed(1, 5000, ev_post); }
static struct out c_sem_timedwait_tmo(int nb) { (void)nb; return sem_timed(0, TMO_MS, ev_none); }
static struct out c_sem_clockwait_tmo(int nb) { (void)nb; return sem_timed(1, TMO_MS, ev_none); }

/* SysV IPC: the set or queue is removed once the helper is done (its
 * event may come after an interruption). */
static void after_sem(struct out *o) { (void)o; semctl(semid, 0, IPC_RMID); }
static void after_msg(struct out *o)
{
    struct msqid_ds ds;
    if (msgctl(msqid, IPC_STAT, &ds) == 0)
        o->data = (long)ds.msg_qnum;
    msgctl(msqid, IPC_RMID, NULL);
}
static struct out c_semop(int nb)
{
    (void)nb;
    semid = semget(IPC_PRIVATE, 1, 0600);
    provide = ev_semop;
    after = after_sem;
    long r = semop(semid, &(struct sembuf){0, -1, 0}, 1);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out semtimed(long ms, void (*ev)(void))
{
    semid = semget(IPC_PRIVATE, 1, 0600);
    provide = ev;
    after = after_sem;
    long r = semtimedop(semid, &(struct sembuf){0, -1, 0}, 1, &(struct timespec){ms / 1000, (ms % 1000) * 1000000L});
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_semtimedop(int nb) { (void)nb; return semtimed(5000, ev_semop); }
static struct out c_semtimedop_tmo(int nb) { (void)nb; return semtimed(TMO_MS, ev_none); }

/* msgrcv: data is the messages left (0: it took the helper's). */
static struct out c_msgrcv(int nb)
{
    (void)nb;
    msqid = msgget(IPC_PRIVATE, 0600);
    provide = ev_msg;
    after = after_msg;
    struct { long t; char x[8]; } m;
    long r = msgrcv(msqid, &m, sizeof m.x, 0, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    return (struct out){r, e, 0};
}
/* msgsnd on a queue filled to its msg_qbytes (1 KiB messages, IPC_NOWAIT
 * until it refuses); the helper takes one.  data: messages left once the
 * helper is done. */
static void ev_msg_take(void) { struct { long t; char x[1024]; } m; msgrcv(msqid, &m, sizeof m.x, 0, 0); }
static struct out c_msgsnd(int nb)
{
    (void)nb;
    msqid = msgget(IPC_PRIVATE, 0600);
    static struct { long t; char x[1024]; } m = {1, "msg"};
    for (int i = 0; i < 4096 && msgsnd(msqid, &m, sizeof m.x, IPC_NOWAIT) == 0; i++)
        ;
    provide = ev_msg_take;
    after = after_msg;
    long r = msgsnd(msqid, &m, sizeof m.x, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

static struct out c_futex(int nb)
{
    (void)nb;
    atomic_store(&futex_word, 0);
    provide = ev_futex;
    long r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}
static struct out c_futex_tmo(int nb)
{
    (void)nb;
    atomic_store(&futex_word, 0);
    provide = ev_none;
    struct timespec ts = {0, TMO_MS * 1000000L};
    long r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* pthread_cond_wait, _timedwait (CLOCK_REALTIME), _clockwait (MONOTONIC):
 * until the helper's signal (or the timeout: ETIMEDOUT, no event). */
static struct out cond_waits(int kind, long ms, void (*ev)(void))
{
    cv_ready = 0;
    provide = ev;
    pthread_mutex_lock(&mu);
    struct timespec ts = abs_in(kind == 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME, ms);
    long r = 0;
    while (!cv_ready && r == 0)
        r = kind == 0 ? pthread_cond_wait(&cv, &mu)
            : kind == 1 ? pthread_cond_timedwait(&cv, &mu, &ts)
                        : pthread_cond_clockwait(&cv, &mu, CLOCK_MONOTONIC, &ts);
    AFTER_CALL();
    pthread_mutex_unlock(&mu);
    return (struct out){r, (int)r, 0};
}
static struct out c_cond_wait(int nb) { (void)nb; return cond_waits(0, 0, ev_cond); }
static struct out c_cond_timedwait(int nb) { (void)nb; return cond_waits(1, 5000, ev_cond); }
static struct out c_cond_clockwait(int nb) { (void)nb; return cond_waits(2, 5000, ev_cond); }
static struct out c_cond_timedwait_tmo(int nb) { (void)nb; return cond_waits(1, TMO_MS, ev_none); }
static struct out c_cond_clockwait_tmo(int nb) { (void)nb; return cond_waits(2, TMO_MS, ev_none); }

static atomic_int holding;
static void *holder_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    atomic_store(&holding, 1);
    while (!atomic_load(&event_done))
        nap_ms(5);
    pthread_mutex_unlock(&held);
    return NULL;
}
static struct out c_mutex_lock(int nb)
{
    (void)nb;
    provide = ev_none;
    pthread_t t;
    atomic_store(&holding, 0);
    pthread_create(&t, NULL, holder_main, NULL);
    while (!atomic_load(&holding))
        nap_ms(1);
    long r = pthread_mutex_lock(&held); /* held by the holder until the event */
    AFTER_CALL();
    pthread_mutex_unlock(&held);
    pthread_join(t, NULL);
    return (struct out){r, (int)r, 0};
}
static struct out c_join(int nb)
{
    (void)nb;
    provide = ev_none;
    pthread_create(&joinee, NULL, joinee_main, NULL);
    long r = pthread_join(joinee, NULL);
    AFTER_CALL();
    return (struct out){r, (int)r, 0};
}

/* waitpid(child) and wait(): a child that pauses until the helper kills
 * it.  data: its signal. */
static struct out waits(int any)
{
    child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    provide = ev_child;
    int st = 0;
    long r = any ? wait(&st) : waitpid(child, &st, 0);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    if (r < 0) { /* interrupted: reap it once it is killed */
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
    }
    return (struct out){r > 0 ? (r == child) : r, e, WIFSIGNALED(st) ? WTERMSIG(st) : -1};
}
static struct out c_waitpid(int nb) { (void)nb; return waits(0); }
static struct out c_wait(int nb) { (void)nb; return waits(1); }

/* ---- signals: SIGUSR2 from the helper ------------------------------------- */

/* SIGUSR2 blocked for the call; once the helper is done, one still pending
 * (the call was interrupted first) is discarded (SIG_IGN) and the mask
 * restored. */
static sigset_t usr2_old;
static sigset_t block_usr2(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, &usr2_old);
    return s;
}
static void after_usr2(struct out *o)
{
    (void)o;
    signal(SIGUSR2, SIG_IGN);
    pthread_sigmask(SIG_SETMASK, &usr2_old, NULL);
}

/* sigwaitinfo, sigtimedwait (5 s, or 200 ms and no event: EAGAIN),
 * sigwait (glibc retries its EINTR).  data: the signal taken. */
static struct out sigwaits(int kind, long ms, void (*ev)(void))
{
    sigset_t s = block_usr2();
    provide = ev;
    after = after_usr2;
    siginfo_t si = {0};
    int sig = 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    long r = kind == 0 ? sigwaitinfo(&s, &si) : kind == 1 ? sigtimedwait(&s, &si, &ts) : sigwait(&s, &sig);
    AFTER_CALL();
    int e = kind == 2 ? (int)r : r < 0 ? errno : 0;
    return (struct out){r, e, kind == 2 ? sig : si.si_signo};
}
static struct out c_sigwaitinfo(int nb) { (void)nb; return sigwaits(0, 0, ev_sigusr2); }
static struct out c_sigtimedwait(int nb) { (void)nb; return sigwaits(1, 5000, ev_sigusr2); }
static struct out c_sigtimedwait_tmo(int nb) { (void)nb; return sigwaits(1, TMO_MS, ev_none); }
static struct out c_sigwait(int nb) { (void)nb; return sigwaits(2, 0, ev_sigusr2); }

static struct out c_pause(int nb)
{
    (void)nb;
    provide = ev_sigusr2;
    signal(SIGUSR2, SIG_IGN); /* an ignored signal does not end pause */
    long r = strcmp(variant, "plain") == 0 || strcmp(variant, "nonblock") == 0 ? 0 : pause();
    AFTER_CALL();
    return (struct out){r, r < 0 ? errno : 0, 0};
}

/* sigsuspend with SIGUSR2 (handled) unblocked only inside it.  data: the
 * SIGUSR2 handler's runs when it returned. */
static volatile sig_atomic_t usr2_runs;
static void on_usr2(int sig) { (void)sig; usr2_runs++; }
static struct out c_sigsuspend(int nb)
{
    (void)nb;
    block_usr2();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    usr2_runs = 0;
    provide = ev_sigusr2;
    after = after_usr2;
    sigset_t during = usr2_old;
    sigdelset(&during, SIGUSR2);
    long r = sigsuspend(&during);
    AFTER_CALL();
    int e = r < 0 ? errno : 0;
    return (struct out){r, e, usr2_runs};
}
