// The histogram shape, single-threaded part (a reproducer for callgrind): sizes cycled through a
// histogram (8 B x1000, 16 B x5000, 48 B x1000, 72/148/200 B x100, 520 B x10, 1 KiB x5,
// 4 KiB x3, 9 KiB, 34 KiB, 168 KiB x1, interleaved), a ring of RING pointers filled in order;
// every wrap frees the bottom half in allocation order and the top half in reverse.
// THREADS > 1 runs that many independent rings (no cross-thread frees).
//
//   cc -O2 -pthread shape_histogram.c -o shape_histogram
//   LD_PRELOAD=target/release/libhz3_capi.so valgrind --tool=callgrind ./shape_histogram 262144 8 1
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static size_t *seq;
static size_t nseq;
static long RING = 1 << 20, ROUNDS = 4;
static int THREADS = 1;

static void build(void) {
    static const struct { size_t s; int n; } h[] = {
        {8, 1000}, {16, 5000}, {48, 1000}, {72, 100}, {148, 100}, {200, 100},
        {520, 10}, {1024, 5}, {4096, 3}, {9216, 1}, {34816, 1}, {172032, 1}};
    enum { K = sizeof h / sizeof h[0] };
    size_t tot = 0;
    int left[K];
    for (int i = 0; i < K; i++) { tot += h[i].n; left[i] = h[i].n; }
    seq = malloc(tot * sizeof(size_t));
    while (nseq < tot)
        for (int i = 0; i < K; i++)
            if (left[i] > 0) { seq[nseq++] = h[i].s; left[i]--; }
}

static void *run(void *arg) {
    size_t si = (size_t)arg * 7 % nseq;
    void **ring = malloc(RING * sizeof(void *));
    for (long r = 0; r < ROUNDS; r++) {
        for (long i = 0; i < RING; i++) {
            size_t s = seq[si++];
            if (si == nseq) si = 0;
            char *p = malloc(s);
            p[0] = 1;
            p[s - 1] = 2;
            ring[i] = p;
        }
        long half = RING / 2;
        for (long i = 0; i < half; i++) free(ring[i]);
        for (long i = RING - 1; i >= half; i--) free(ring[i]);
    }
    free(ring);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) RING = atol(argv[1]);
    if (argc > 2) ROUNDS = atol(argv[2]);
    if (argc > 3) THREADS = atoi(argv[3]);
    if (RING < 2 || ROUNDS < 1 || THREADS < 1 || THREADS > 64) return 2;
    build();
    pthread_t th[64];
    for (long i = 0; i < THREADS; i++) pthread_create(&th[i], 0, run, (void *)i);
    for (long i = 0; i < THREADS; i++) pthread_join(th[i], 0);
    printf("%ld x %ld x %d\n", RING, ROUNDS, THREADS);
    return 0;
}
