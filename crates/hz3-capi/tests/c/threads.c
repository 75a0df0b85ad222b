/* threads.c — threads created by C code (pthread_create), exiting while other threads still
 * free their blocks; thread-exit paths (testing.md T7, for the C ABI).
 *
 * usage: threads [SCALE]
 *
 * 1. Producers allocate pattern-filled blocks, publish them in a shared queue and exit (half
 *    of them detached) while consumer threads are still checking and freeing those blocks.
 * 2. Many short threads whose first allocator call is a free of a block the main thread
 *    allocated; each leaves one block behind for the main thread to free after it exited.
 * 3. A pthread key destructor created after hz3's own key (so it runs after hz3's thread-exit
 *    hook) that allocates, frees, and re-arms itself once (a second destructor pass).
 * Exit status 0 iff every check held. */
#include "hz3_test.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static atomic_ulong mismatches;

static void bad(const char *what, const void *p, size_t n, size_t at) {
    if (atomic_fetch_add(&mismatches, 1) < 20)
        fprintf(stderr, "MISMATCH %s: block %p size %zu at %zu\n", what, p, n, at);
}

static uint64_t seed_of(const void *p, size_t n) { return (uintptr_t)p * 31 + n; }

static void *make(size_t n) {
    if (n < 16) n = 16;
    unsigned char *p = malloc(n);
    if (!p) {
        bad("malloc NULL", NULL, n, 0);
        return NULL;
    }
    ((size_t *)p)[0] = n;
    hz3t_fill(p + 8, n - 8, seed_of(p, n));
    return p;
}

static void check_free(void *vp) {
    unsigned char *p = vp;
    if (!p) return;
    size_t n = ((size_t *)p)[0];
    size_t at = (n >= 16 && n <= (1u << 21)) ? hz3t_check(p + 8, n - 8, seed_of(p, n)) : 0;
    if (at != HZ3T_OK) bad("pattern", p, n, at);
    free(p);
}

/* ---- 1. producers exit while consumers free their blocks -------------------------------- */

#define QCAP 4096
static _Atomic(uintptr_t) queue[QCAP];
static atomic_ulong produced, consumed;
static atomic_int producers_left;
static unsigned long per_producer;

static void *producer(void *arg) {
    hz3t_rng r = hz3t_seed(7, (uint64_t)(uintptr_t)arg);
    for (unsigned long i = 0; i < per_producer; i++) {
        uint64_t x = hz3t_next(&r);
        size_t n = (x % 50 == 0) ? 20000 + x % 300000 : 16 + x % 1000;
        void *b = make(n);
        /* Publish into a free queue cell (spins only while the queue is full). */
        for (size_t k = x % QCAP;; k = (k + 1) % QCAP) {
            uintptr_t expected = 0;
            if (atomic_compare_exchange_weak(&queue[k], &expected, (uintptr_t)b)) break;
            if (k % 64 == 0) sched_yield();
        }
        atomic_fetch_add(&produced, 1);
    }
    atomic_fetch_sub(&producers_left, 1);
    return NULL; /* exits with its blocks still live in other threads' hands */
}

static void *consumer(void *arg) {
    size_t k = (size_t)(uintptr_t)arg * 997;
    for (;;) {
        uintptr_t b = atomic_exchange(&queue[k % QCAP], 0);
        k++;
        if (b) {
            check_free((void *)b);
            atomic_fetch_add(&consumed, 1);
        } else if (k % QCAP == 0) {
            if (atomic_load(&producers_left) == 0 && atomic_load(&consumed) == atomic_load(&produced)) break;
            sched_yield();
        }
    }
    return NULL;
}

static void part_producers(int scale) {
    enum { NP = 8, NC = 3 };
    per_producer = 2000ul * (unsigned long)scale;
    for (int round = 0; round < 3; round++) {
        atomic_store(&producers_left, NP);
        pthread_t p[NP], c[NC];
        for (int i = 0; i < NC; i++) pthread_create(&c[i], NULL, consumer, (void *)(uintptr_t)(i + 1));
        for (int i = 0; i < NP; i++) {
            pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)(round * NP + i));
            if (i % 2) pthread_detach(p[i]); /* detached: exits entirely on its own */
        }
        for (int i = 0; i < NP; i += 2) pthread_join(p[i], NULL);
        for (int i = 0; i < NC; i++) pthread_join(c[i], NULL);
        if (atomic_load(&consumed) != atomic_load(&produced)) {
            fprintf(stderr, "FAIL producers: produced %lu consumed %lu\n", atomic_load(&produced),
                    atomic_load(&consumed));
            atomic_fetch_add(&mismatches, 1);
        }
    }
}

/* ---- 2. short threads whose first call is a free ---------------------------------------- */

struct short_arg {
    void *to_free[4];
    void *left_behind;
};

static void *short_thread(void *argp) {
    struct short_arg *a = argp;
    for (int i = 0; i < 4; i++) check_free(a->to_free[i]); /* first allocator call: free */
    void *tmp[8];
    for (int i = 0; i < 8; i++) tmp[i] = make(24 + (size_t)i * 100);
    for (int i = 0; i < 8; i++) check_free(tmp[i]);
    a->left_behind = make(333); /* freed by main after this thread is gone */
    return NULL;
}

static void part_short_threads(int scale) {
    int n = 250 * scale;
    enum { BATCH = 8 };
    struct short_arg args[BATCH];
    pthread_t t[BATCH];
    for (int done = 0; done < n; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            for (int j = 0; j < 4; j++) args[i].to_free[j] = make(16 + (size_t)(i * 4 + j) * 50);
            args[i].left_behind = NULL;
            if (pthread_create(&t[i], NULL, short_thread, &args[i]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                exit(2);
            }
        }
        for (int i = 0; i < BATCH; i++) pthread_join(t[i], NULL);
        for (int i = 0; i < BATCH; i++) {
            if (!args[i].left_behind) bad("left_behind missing", NULL, 0, 0);
            check_free(args[i].left_behind);
        }
    }
}

/* ---- 3. a pthread key destructor that allocates after hz3's thread-exit hook -------------- */

static pthread_key_t late_key;
static atomic_int destructor_calls;

static void late_destructor(void *v) {
    atomic_fetch_add(&destructor_calls, 1);
    check_free(v);
    void *tmp[16];
    for (int i = 0; i < 16; i++) tmp[i] = make(40 + (size_t)i * 1000);
    for (int i = 0; i < 16; i++) check_free(tmp[i]);
    /* Re-arm once: glibc calls destructors again while values remain set. */
    static __thread int rearmed;
    if (!rearmed) {
        rearmed = 1;
        pthread_setspecific(late_key, make(4000));
    }
}

static void *keyed_thread(void *arg) {
    void *b = make(100 + (size_t)(uintptr_t)arg);
    pthread_setspecific(late_key, b);
    void *x = make(5000);
    check_free(x);
    return NULL;
}

static void part_key_destructor(int scale) {
    /* hz3 created its key at this thread's first malloc; ours comes later, so glibc runs
     * ours after hz3's in each destructor pass. */
    void *warm = make(64);
    check_free(warm);
    if (pthread_key_create(&late_key, late_destructor) != 0) {
        fprintf(stderr, "pthread_key_create failed\n");
        exit(2);
    }
    int n = 32 * scale;
    for (int i = 0; i < n; i += 4) {
        pthread_t t[4];
        for (int j = 0; j < 4; j++) pthread_create(&t[j], NULL, keyed_thread, (void *)(uintptr_t)(i + j));
        for (int j = 0; j < 4; j++) pthread_join(t[j], NULL);
    }
    if (atomic_load(&destructor_calls) != 2 * n) {
        fprintf(stderr, "FAIL key destructor ran %d times, want %d\n", atomic_load(&destructor_calls), 2 * n);
        atomic_fetch_add(&mismatches, 1);
    }
}

int main(int argc, char **argv) {
    hz3_require_active("threads");
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    alarm(240);
    part_producers(scale);
    part_short_threads(scale);
    part_key_destructor(scale);
    (void)malloc_trim(0);
    void *p = make(1000);
    check_free(p);
    unsigned long mm = atomic_load(&mismatches);
    printf("threads: produced %lu consumed %lu destructor calls %d mismatches %lu\n", atomic_load(&produced),
           atomic_load(&consumed), atomic_load(&destructor_calls), mm);
    return mm ? 1 : 0;
}
