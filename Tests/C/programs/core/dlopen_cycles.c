/* dlopen_cycles.c - load the library with dlopen, use it, let a thread exit
 * attached, dlclose, and again; then exit with threads still attached.
 * Built and run by the Swift tests:  dlopen_cycles <path to the .so> <cycles>
 * Exits 0 when every call answered as documented and nothing crashed.
 * Tracers are left registered on purpose: the library stays loaded
 * (-z nodelete), so its registry fills only if cycles > 61. */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct du_trace;
typedef void (*du_callback)(const struct du_trace *, uint64_t, void *);
struct api {
    int (*attach)(void);
    int (*reg)(du_callback, void *, const char *, void **);
    int (*request)(void *, uint64_t *);
    int (*safe_point)(void);
};

static unsigned calls;
static void on_stack(const struct du_trace *t, uint64_t c, void *a)
{
    (void)t;
    (void)c;
    (void)a;
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
}

static struct api api;
static void *tracer;
static sem_t closed;

/* Attaches, requests, and exits attached with the request pending: the
 * library's key destructor delivers it - after the dlclose below for the
 * second thread, which the nodelete link keeps valid. */
static void *worker(void *arg)
{
    uint64_t c;
    if (api.attach() != 0 || api.request(tracer, &c) != 0)
        exit(4);
    if (arg)
        sem_wait(&closed); /* stay attached until the library was dlclose()d */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int cycles = atoi(argv[2]);
    sem_init(&closed, 0, 0);
    for (int i = 0; i < cycles; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 3;
        }
        api.attach = (int (*)(void))dlsym(h, "du_thread_attach");
        api.reg = (int (*)(du_callback, void *, const char *, void **))dlsym(h, "du_tracer_register");
        api.request = (int (*)(void *, uint64_t *))dlsym(h, "du_request");
        api.safe_point = (int (*)(void))dlsym(h, "du_safe_point");
        if (!api.attach || !api.reg || !api.request || !api.safe_point)
            return 5;
        if (api.reg(on_stack, NULL, "dl", &tracer) != 0)
            return 6;
        unsigned before = calls;
        pthread_t th;
        pthread_create(&th, NULL, worker, NULL);
        pthread_join(th, NULL); /* delivered by the thread-exit destructor */
        if (calls != before + 1) {
            fprintf(stderr, "cycle %d: %u callbacks at thread exit\n", i, calls - before);
            return 7;
        }
        /* A thread that stays attached across the dlclose and exits after:
         * its exit destructor must still find the library mapped. */
        pthread_create(&th, NULL, worker, &closed);
        dlclose(h);
        sem_post(&closed);
        pthread_join(th, NULL);
    }
    /* Two callbacks per cycle: both threads exited with a request pending.
     * The main thread then exits the process attached (the library's exit
     * destructor runs after the last dlclose). */
    if (calls != 2u * (unsigned)cycles) {
        fprintf(stderr, "%u callbacks for %d cycles\n", calls, cycles);
        return 9;
    }
    if (api.attach() != 0)
        return 10;
    printf("cycles %d callbacks %u\n", cycles, calls);
    return 0;
}
