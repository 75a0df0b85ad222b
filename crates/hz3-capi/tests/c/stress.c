/* stress.c — multithreaded hand-off stress with cookie-checked blocks (testing.md T5, in the
 * style of mimalloc's test-stress.c).
 *
 * usage: stress THREADS ROUNDS OPS SEED
 *
 * Every round creates THREADS fresh threads (the previous round's threads have exited) that
 * each run OPS random operations: allocate a block of a random size (mostly small, some up to
 * 1 MiB) and fill it with a pattern derived from its address and size; hand blocks to other
 * threads through a shared array of atomic slots (so most frees are remote, and many free a
 * block whose allocating thread has exited); realloc and calloc blocks. The pattern is
 * checked before every free and after every realloc. A thread's first action is a free;
 * now and then a thread calls malloc_trim (hz3's collect) while the others keep working.
 * Exit status 0 iff no mismatch was seen and every allocated block was freed.
 * With HZ3_STRESS_CORRUPT set, the program damages one block itself (a self-test of the
 * checker: it must then report a mismatch and exit 1). */
#include "hz3_test.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NSLOTS 1000
#define NLOCAL 128
#define FULL_FILL 65536 /* blocks up to this size are filled entirely, larger ones sparsely */
#define MAX_BLOCK (1u << 20)

static _Atomic(uintptr_t) slots[NSLOTS];
static atomic_ulong n_mismatch, n_alloc, n_free, n_realloc;
static int nthreads, nrounds, nops;
static uint64_t gseed;

static uint64_t seed_of(uintptr_t addr, size_t n) {
    return (addr * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)n << 20) ^ 0xC0FFEE;
}

static void report(const char *what, const void *p, size_t n, size_t at) {
    unsigned long k = atomic_fetch_add(&n_mismatch, 1);
    if (k < 20) fprintf(stderr, "MISMATCH %s: block %p size %zu at byte %zu\n", what, p, n, at);
}

/* The pattern region of a block of size n: all of it up to FULL_FILL, else the first 4 KiB,
 * 64 bytes at every 4 KiB step, and the last 64 bytes. `check` != 0 verifies (only below
 * `limit`, against the pattern `seed`), else fills. Returns the first bad offset or -1. */
static size_t body(unsigned char *p, size_t n, uint64_t seed, size_t limit, int check) {
    size_t lo[3], hi[3];
    size_t nr = 0;
    if (n <= FULL_FILL) {
        lo[0] = 16, hi[0] = n, nr = 1;
    } else {
        lo[0] = 16, hi[0] = 4096;
        lo[1] = 0, hi[1] = 0; /* the strided part, handled below */
        lo[2] = n - 64, hi[2] = n;
        nr = 3;
    }
    for (size_t r = 0; r < nr; r++) {
        if (r == 1) {
            for (size_t off = 4096; off + 64 <= n - 64; off += 4096) {
                for (size_t i = off; i < off + 64 && i < limit; i++) {
                    if (check) {
                        if (p[i] != hz3t_byte(seed, i)) return i;
                    } else {
                        p[i] = hz3t_byte(seed, i);
                    }
                }
            }
            continue;
        }
        for (size_t i = lo[r]; i < hi[r] && i < limit; i++) {
            if (check) {
                if (p[i] != hz3t_byte(seed, i)) return i;
            } else {
                p[i] = hz3t_byte(seed, i);
            }
        }
    }
    return (size_t)-1;
}

static void fill_block(void *p, size_t n) {
    uint64_t s = seed_of((uintptr_t)p, n);
    ((uint64_t *)p)[0] = n;
    ((uint64_t *)p)[1] = s;
    body(p, n, s, n, 0);
}

/* Verifies a block; returns its size (0 if the header is damaged). */
static size_t check_block(void *p, const char *what) {
    uint64_t n = ((uint64_t *)p)[0];
    uint64_t s = ((uint64_t *)p)[1];
    if (n < 16 || n > MAX_BLOCK || s != seed_of((uintptr_t)p, n)) {
        report(what, p, (size_t)n, 0);
        return 0;
    }
    size_t u = malloc_usable_size(p);
    if (u < n) report("usable size below the request", p, n, u);
    size_t at = body(p, n, s, n, 1);
    if (at != (size_t)-1) report(what, p, n, at);
    return n;
}

static size_t pick_size(hz3t_rng *r) {
    uint64_t x = hz3t_next(r) % 1000;
    if (x < 880) return 16 + hz3t_next(r) % 241;                 /* 16 .. 256 */
    if (x < 980) return 257 + hz3t_next(r) % 8000;               /* .. ~8 KiB */
    if (x < 997) return 8257 + hz3t_next(r) % (256 * 1024);       /* .. ~264 KiB */
    return 256 * 1024 + hz3t_next(r) % (MAX_BLOCK - 256 * 1024 + 1); /* .. 1 MiB */
}

static void *new_block(size_t n) {
    void *p = malloc(n);
    if (!p) {
        report("malloc returned NULL", NULL, n, 0);
        return NULL;
    }
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    fill_block(p, n);
    return p;
}

static void *calloc_block(size_t n) {
    unsigned char *p = calloc(1, n);
    if (!p) {
        report("calloc returned NULL", NULL, n, 0);
        return NULL;
    }
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    for (size_t i = 0; i < n; i += (n > FULL_FILL ? 61 : 1))
        if (p[i] != 0) {
            report("calloc block not zero", p, n, i);
            break;
        }
    fill_block(p, n);
    return p;
}

static void check_free(void *p) {
    if (!p) return;
    check_block(p, "pattern changed before free");
    free(p);
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
}

static void *realloc_block(void *p, size_t n) {
    size_t old = check_block(p, "pattern changed before realloc");
    if (old == 0) return p; /* damaged: keep it, it is reported */
    uint64_t old_seed = seed_of((uintptr_t)p, old);
    void *q = realloc(p, n);
    if (!q) {
        report("realloc returned NULL", p, n, 0);
        return p;
    }
    atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
    size_t keep = old < n ? old : n;
    if (((uint64_t *)q)[0] != old || ((uint64_t *)q)[1] != old_seed) report("realloc lost the header", q, n, 0);
    /* The kept prefix still holds the old pattern wherever the old block had one. */
    size_t at = body(q, old, old_seed, keep, 1);
    if (at != (size_t)-1) report("realloc lost the prefix", q, n, at);
    fill_block(q, n);
    return q;
}

struct targ {
    int tid, round;
};

static void *worker(void *argp) {
    struct targ *a = argp;
    hz3t_rng r = hz3t_seed(gseed + (uint64_t)a->round * 7919, (uint64_t)a->tid);
    void *local[NLOCAL] = {0};
    /* First action of a fresh thread: free a block some other (likely exited) thread made. */
    for (int k = 0; k < 4; k++) {
        uintptr_t b = atomic_exchange(&slots[hz3t_next(&r) % NSLOTS], 0);
        check_free((void *)b);
    }
    for (int i = 0; i < nops; i++) {
        uint64_t op = hz3t_next(&r) % 100;
        size_t li = hz3t_next(&r) % NLOCAL;
        size_t si = hz3t_next(&r) % NSLOTS;
        if (op < 35) { /* local churn */
            check_free(local[li]);
            local[li] = new_block(pick_size(&r));
        } else if (op < 70) { /* publish a new block; free the one it displaces (remote) */
            void *b = new_block(pick_size(&r));
            uintptr_t old = atomic_exchange(&slots[si], (uintptr_t)b);
            check_free((void *)old);
        } else if (op < 80) { /* adopt a block from a slot */
            uintptr_t old = atomic_exchange(&slots[si], 0);
            if (old) {
                check_free(local[li]);
                local[li] = (void *)old;
            }
        } else if (op < 88) { /* swap a local block with a slot */
            uintptr_t old = atomic_exchange(&slots[si], (uintptr_t)local[li]);
            local[li] = (void *)old;
        } else if (op < 96) { /* realloc (often a block another thread allocated) */
            if (local[li]) local[li] = realloc_block(local[li], pick_size(&r));
        } else { /* calloc */
            check_free(local[li]);
            local[li] = calloc_block(pick_size(&r));
        }
        if (i % 4999 == 4998) {
            /* Return memory to the OS while the other threads allocate, free and exit. */
            (void)malloc_trim(0);
        }
    }
    /* Leave about half of the local blocks for the next round's threads. */
    for (int j = 0; j < NLOCAL; j++) {
        if (!local[j]) continue;
        if (j & 1) {
            uintptr_t old = atomic_exchange(&slots[hz3t_next(&r) % NSLOTS], (uintptr_t)local[j]);
            check_free((void *)old);
        } else {
            check_free(local[j]);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    hz3_require_active("stress");
    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    nrounds = argc > 2 ? atoi(argv[2]) : 10;
    nops = argc > 3 ? atoi(argv[3]) : 20000;
    gseed = argc > 4 ? strtoull(argv[4], NULL, 0) : 42;
    if (nthreads < 1 || nthreads > 256 || nrounds < 1 || nops < 0) {
        fprintf(stderr, "usage: stress THREADS ROUNDS OPS SEED\n");
        return 2;
    }
    alarm(300); /* watchdog: a deadlock fails instead of hanging */
    pthread_t th[256];
    struct targ args[256];
    for (int round = 0; round < nrounds; round++) {
        for (int t = 0; t < nthreads; t++) {
            args[t].tid = t;
            args[t].round = round;
            if (pthread_create(&th[t], NULL, worker, &args[t]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 2;
            }
        }
        for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
        if (round == 0 && getenv("HZ3_STRESS_CORRUPT")) {
            /* Self-test of the checker: damage one published block; the run must fail. */
            for (int s = 0; s < NSLOTS; s++) {
                unsigned char *b = (unsigned char *)atomic_load(&slots[s]);
                if (b) {
                    b[20] ^= 0x40;
                    break;
                }
            }
        }
    }
    for (int s = 0; s < NSLOTS; s++) check_free((void *)atomic_exchange(&slots[s], 0));
    (void)malloc_trim(0);
    /* The allocator still works after all that (and after returning memory). */
    void *p = new_block(1000);
    check_free(p);

    unsigned long mm = atomic_load(&n_mismatch), na = atomic_load(&n_alloc), nf = atomic_load(&n_free);
    printf("stress: threads=%d rounds=%d ops=%d allocs=%lu frees=%lu reallocs=%lu mismatches=%lu\n",
           nthreads, nrounds, nops, na, nf, atomic_load(&n_realloc), mm);
    if (na != nf) {
        fprintf(stderr, "stress: %lu blocks allocated but %lu freed (test bookkeeping)\n", na, nf);
        return 1;
    }
    return mm ? 1 : 0;
}
