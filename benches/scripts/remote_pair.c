// One remote free and the owner's re-allocation, in lockstep (a reproducer for callgrind): each
// round the owner (main thread) mallocs N blocks of SIZE bytes and writes their first word,
// hands them to the other thread, which frees all N (every free is remote: the block belongs to
// the owner), then the owner starts the next round. The two phases never overlap, so the
// instruction counts repeat exactly. Toggle collection on the C entry points to split the cost:
//
//   cc -O2 -pthread remote_pair.c -o remote_pair
//   LD_PRELOAD=<lib> valgrind --tool=callgrind --toggle-collect=free ./remote_pair R N SIZE
//   LD_PRELOAD=<lib> valgrind --tool=callgrind --toggle-collect=malloc ./remote_pair R N SIZE
//
// (R rounds; N blocks per round; defaults 2000 64 64.) Instructions per remote free =
// (Ir(2R) - Ir(R)) / (R * N), so one-time costs cancel; the same for malloc. With a fourth
// argument 1, block i has size 16 + (i * 2029) % SIZE (many classes at once). With a fifth
// argument 1 (exchange), both threads play both parts each round, as mt-remote's threads do
// in bursts of N: each mallocs N blocks, then each frees the other's N; figures are then per
// thread-operation (divide by 2 R N).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long R = 2000, N = 64, SIZE = 64, MIXED = 0, EXCHANGE = 0;
static void **blocks, **theirs;
static pthread_barrier_t bar;

static unsigned long fill(void **out, long r) {
    unsigned long check = 0;
    for (long i = 0; i < N; i++) {
        size_t s = MIXED ? 16 + (size_t)(i * 2029) % (size_t)SIZE : (size_t)SIZE;
        void **p = malloc(s);
        *p = (void *)r;
        check += (unsigned long)p >> 4;
        out[i] = p;
    }
    return check;
}

static void *freer(void *a) {
    (void)a;
    for (long r = 0; r < R; r++) {
        if (EXCHANGE) fill(theirs, r);
        pthread_barrier_wait(&bar); // the owner filled `blocks`
        for (long i = 0; i < N; i++) free(blocks[i]);
        pthread_barrier_wait(&bar); // all freed
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) R = atol(argv[1]);
    if (argc > 2) N = atol(argv[2]);
    if (argc > 3) SIZE = atol(argv[3]);
    if (argc > 4) MIXED = atol(argv[4]);
    if (argc > 5) EXCHANGE = atol(argv[5]);
    if (R < 1 || N < 1 || SIZE < 8) return 2;
    blocks = calloc((size_t)N, sizeof(void *));
    theirs = calloc((size_t)N, sizeof(void *));
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, freer, NULL);
    unsigned long check = 0;
    for (long r = 0; r < R; r++) {
        check += fill(blocks, r);
        pthread_barrier_wait(&bar);
        if (EXCHANGE)
            for (long i = 0; i < N; i++) free(theirs[i]);
        pthread_barrier_wait(&bar);
    }
    pthread_join(t, NULL);
    printf("%lu\n", check & 1);
    return 0;
}
