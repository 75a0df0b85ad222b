// Producer -> consumer with a large live set (a reproducer for callgrind and per-thread CPU
// time): producers malloc 64 B objects in batches of 4096 (the 32 KiB batch array malloc'd
// too), memset them, and queue up to QMAX batches; consumers free every object and the array.
// Prints each thread's CPU time (CLOCK_THREAD_CPUTIME_ID) on stderr and frees/s on stdout.
//
//   cc -O2 -pthread shape_prodcons.c -o shape_prodcons
//   LD_PRELOAD=target/release/libhz3_capi.so valgrind --tool=callgrind --fair-sched=yes
//       ./shape_prodcons 300 1 1 100     (batches, producers, consumers, queue depth)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 4096
#define QCAP 128
static long QMAX = 100, NBATCH = 2000;
static int P = 1, C = 1;
static void **q[QCAP];
static long qh, qt, produced, consumed;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nf = PTHREAD_COND_INITIALIZER, ne = PTHREAD_COND_INITIALIZER;

static double clock_of(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *prod(void *a) {
    (void)a;
    for (;;) {
        pthread_mutex_lock(&m);
        if (produced >= NBATCH) { pthread_mutex_unlock(&m); break; }
        produced++;
        pthread_mutex_unlock(&m);
        void **b = malloc(BATCH * sizeof(void *));
        for (int i = 0; i < BATCH; i++) { b[i] = malloc(64); memset(b[i], 0x5a, 64); }
        pthread_mutex_lock(&m);
        while (qt - qh >= QMAX) pthread_cond_wait(&nf, &m);
        q[qt % QCAP] = b;
        qt++;
        pthread_cond_signal(&ne);
        pthread_mutex_unlock(&m);
    }
    fprintf(stderr, "producer cpu %.3f s\n", clock_of(CLOCK_THREAD_CPUTIME_ID));
    return 0;
}

static void *cons(void *a) {
    (void)a;
    for (;;) {
        pthread_mutex_lock(&m);
        while (qt == qh && consumed < NBATCH) pthread_cond_wait(&ne, &m);
        if (consumed >= NBATCH) { pthread_cond_broadcast(&ne); pthread_mutex_unlock(&m); break; }
        void **b = q[qh % QCAP];
        qh++;
        consumed++;
        pthread_cond_signal(&nf);
        if (consumed >= NBATCH) pthread_cond_broadcast(&ne);
        pthread_mutex_unlock(&m);
        for (int i = 0; i < BATCH; i++) free(b[i]);
        free(b);
    }
    fprintf(stderr, "consumer cpu %.3f s\n", clock_of(CLOCK_THREAD_CPUTIME_ID));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) NBATCH = atol(argv[1]);
    if (argc > 2) P = atoi(argv[2]);
    if (argc > 3) C = atoi(argv[3]);
    if (argc > 4) QMAX = atol(argv[4]);
    if (NBATCH < 1 || P < 1 || C < 1 || P + C > 64 || QMAX < 1 || QMAX > QCAP) return 2;
    double t0 = clock_of(CLOCK_MONOTONIC);
    pthread_t t[64];
    int n = 0;
    for (int i = 0; i < P; i++) pthread_create(&t[n++], 0, prod, 0);
    for (int i = 0; i < C; i++) pthread_create(&t[n++], 0, cons, 0);
    for (int i = 0; i < n; i++) pthread_join(t[i], 0);
    printf("%.2f M frees/s\n", NBATCH * (double)BATCH / (clock_of(CLOCK_MONOTONIC) - t0) / 1e6);
    return 0;
}
