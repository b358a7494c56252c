/*
 * urcu_flavors_mode.c - liburcu bp vs memb, measured in one run.
 *
 *   du-bench-driver urcu-flavors [ROUNDS]   the table (bp/memb per row)
 *   du-bench-driver urcu-op NAME N          one kernel, for callgrind
 *
 * Timings on this machine are shared and noisy, so each row alternates the
 * two flavors (and swaps which goes first every round) and reports the
 * ratio of medians taken in the same run.  Runs before anything of
 * DeferredUnwind is initialised: the library's own memb registration of the
 * main thread would otherwise be in the way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "urcu_flavors.h"
#include "urcu_flavors_mode.h"

typedef uint64_t (*fl_kernel)(uint64_t n);
static volatile uint64_t fl_sink;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, int p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[(n - 1) * p / 100];
}

/* Median and min ns/op of `rounds` blocks of n operations per kernel; the
 * kernels take turns block by block, in an order that rotates each round. */
static void interleave(fl_kernel *k, int nk, uint64_t n, int rounds, double *med, double *min)
{
    double *v = calloc((size_t)(nk * rounds), sizeof *v);
    for (int i = 0; i < nk; i++)
        fl_sink += k[i](n / 10 + 1); /* warm-up */
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < nk; j++) {
            int i = (j + r) % nk;
            uint64_t t0 = fl_now_ns();
            fl_sink += k[i](n);
            v[i * rounds + r] = (double)(fl_now_ns() - t0) / (double)n;
        }
    for (int i = 0; i < nk; i++) {
        med[i] = pct(v + i * rounds, rounds, 50);
        min[i] = v[i * rounds];
    }
    free(v);
}

/* Per-call synchronize_rcu() latency (us): each round runs `per` calls of
 * one flavor, then `per` of the other (order swapped every round).  With a
 * reading peer, the peer is switched to the flavor being measured first. */
static void sync_row(const char *name, int reader, int rounds, int per)
{
    static const fl_kernel sync[2] = {k_memb_sync, k_bp_sync};
    int n = rounds * per, cnt[2] = {0, 0}, ran[2] = {0, 0};
    double *v[2] = {calloc((size_t)n, sizeof(double)), calloc((size_t)n, sizeof(double))};
    for (int f = 0; f < 2; f++) {
        if (reader)
            fl_peer_read_flavor(f);
        fl_sink += sync[f](per); /* warm-up */
    }
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < 2; j++) {
            int f = (j + r) % 2;
            if (reader)
                fl_peer_read_flavor(f);
            for (int i = 0; i < per; i++) {
                uint64_t i0 = reader ? fl_peer_iterations() : 0;
                uint64_t t0 = fl_now_ns();
                fl_sink += sync[f](1);
                v[f][cnt[f]++] = (double)(fl_now_ns() - t0) / 1000.0;
                ran[f] += reader && fl_peer_iterations() != i0;
            }
        }
    double p50[2], p90[2];
    for (int f = 0; f < 2; f++) {
        p50[f] = pct(v[f], n, 50);
        p90[f] = pct(v[f], n, 90);
    }
    printf("%-46s %10.2f %10.2f %8.2f   p90 %.2f / %.2f (%.2f)\n", name, p50[0], p50[1],
           p50[1] / p50[0], p90[0], p90[1], p90[1] / p90[0]);
    if (reader)
        printf("%-46s %9.0f%% %9.0f%%   (%s)\n", "      calls during which the reader ran",
               100.0 * ran[0] / n, 100.0 * ran[1] / n,
               fl_peer_pinned() ? "reader on CPU 1, caller on CPU 0" : "not pinned");
    free(v[0]);
    free(v[1]);
}

/* In-thread registration time (fl_thread_once): `per` threads of each kind
 * per round, kinds taking turns thread by thread. */
static void thread_rows(int rounds, int per)
{
    int n = rounds * per, cnt[3] = {0, 0, 0};
    double *v[3];
    for (int k = 0; k < 3; k++)
        v[k] = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) {
            int k = (i + j) % 3;
            int64_t ns = fl_thread_once(k);
            if (ns < 0) {
                fprintf(stderr, "urcu-flavors: thread kind %d: %lld\n", k, (long long)ns);
                exit(1);
            }
            v[k][cnt[k]++] = (double)ns;
        }
    double p50[3];
    for (int k = 0; k < 3; k++)
        p50[k] = pct(v[k], n, 50);
    printf("%-46s %10.0f %10.0f %8.2f   (bare thread %.0f ns)\n",
           "(U3) register..unregister in thread, ns p50", p50[0], p50[1], p50[1] / p50[0], p50[2]);
    double nm = p50[0] - p50[2], nb = p50[1] - p50[2];
    printf("%-46s %10.0f %10.0f %8.2f\n", "(U3) the same minus bare thread, ns", nm, nb, nb / nm);
    for (int k = 0; k < 3; k++)
        free(v[k]);
}

static void die_peer(int r)
{
    fprintf(stderr, "urcu-flavors: peer thread: %d\n", r);
    exit(1);
}

int urcu_flavors_table(int rounds)
{
    char msg[200];
    fl_register_self();
    if (fl_coexistence_check(msg, sizeof msg) != 0) {
        printf("coexistence check FAILED: %s\n", msg);
        fflush(stdout);
        _exit(1); /* a syncer thread may be stuck in synchronize_rcu */
    }
    printf("liburcu memb and bp in one process: %s\n", msg);
    printf("has_sys_membarrier: memb %d, bp %d\n", fl_has_sys_membarrier(FL_MEMB),
           fl_has_sys_membarrier(FL_BP));
    printf("%-46s %10s %10s %8s\n", "row (medians unless p50)", "memb", "bp", "bp/memb");

    fl_kernel rd[2] = {k_memb_read, k_bp_read};
    double med[3], min[3];
    interleave(rd, 2, 1000000, rounds, med, min);
    printf("%-46s %10.2f %10.2f %8.2f   (min %.2f / %.2f)\n",
           "(U1) read lock+unlock pair, ns", med[0], med[1], med[1] / med[0], min[0], min[1]);

    sync_row("(U2a) synchronize_rcu p50 us, no other thread", 0, rounds, 16);
    int r = fl_peer_start(FL_PEER_IDLE);
    if (r)
        die_peer(r);
    sync_row("(U2b) synchronize_rcu p50 us, 1 idle thread", 0, rounds, 16);
    fl_peer_stop();
    if ((r = fl_peer_start(FL_PEER_READER)) != 0)
        die_peer(r);
    sync_row("(U2c) synchronize_rcu p50 us, 1 reading thread", 1, rounds, 16);
    fl_peer_stop();

    fl_kernel th[3] = {k_memb_thread, k_bp_thread, k_bare_thread};
    interleave(th, 3, 100, rounds, med, min);
    printf("%-46s %10.2f %10.2f %8.2f   (bare thread %.2f us)\n",
           "(U3) thread create+register+exit+join, us", med[0] / 1000, med[1] / 1000,
           med[1] / med[0], med[2] / 1000);
    thread_rows(rounds, 16);
    printf("(checksum %llu)\n", (unsigned long long)(fl_sink & 1));
    return 0;
}

static const struct { const char *name; fl_kernel k; int idle_peer; } ops[] = {
    {"memb_read", k_memb_read, 0},        {"bp_read", k_bp_read, 0},
    {"memb_sync", k_memb_sync, 0},        {"bp_sync", k_bp_sync, 0},
    {"memb_sync_idle", k_memb_sync, 1},   {"bp_sync_idle", k_bp_sync, 1},
    {"memb_thread", k_memb_thread, 0},    {"bp_thread", k_bp_thread, 0},
    {"bare_thread", k_bare_thread, 0},
};

int urcu_flavors_op(const char *name, uint64_t n)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(name, ops[i].name) != 0)
            continue;
        fl_register_self();
        if (ops[i].idle_peer && fl_peer_start(FL_PEER_IDLE) != 0)
            return 1;
        fl_sink += ops[i].k(n);
        if (ops[i].idle_peer)
            fl_peer_stop();
        printf("%s x %llu done\n", name, (unsigned long long)n);
        return 0;
    }
    fprintf(stderr, "unknown urcu kernel %s\n", name);
    return 2;
}
