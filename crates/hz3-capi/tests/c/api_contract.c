/* api_contract.c — the C allocation API contract of hz3 (testing.md T10), case by case.
 *
 * Each failed case prints one "FAIL file:line [condition]: details" line on stderr; the exit
 * status is 1 if any case failed. On success it prints "strategy: <name>" and
 * "api_contract: all cases passed" on stdout. Functions glibc 2.36 does not declare
 * (free_sized, free_aligned_sized, cfree, the __libc_* aliases, hz3_*) are resolved with
 * dlsym(RTLD_DEFAULT, ...), as a program or libc would resolve them under LD_PRELOAD. */
#include "hz3_test.h"

#include <malloc.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
/* A failed realloc leaves the block live; that is exactly what the overflow cases check. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

#ifdef HZ3_LINKED
#include "hz3.h"
/* Referencing the exports pulls them into a static link, and checks that hz3.h matches. */
void *__libc_malloc(size_t);
void __libc_free(void *);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void *__libc_valloc(size_t);
void *__libc_pvalloc(size_t);
int __posix_memalign(void **, size_t, size_t);
void cfree(void *);
void free_sized(void *, size_t);
void free_aligned_sized(void *, size_t, size_t);
void *volatile hz3t_linked_table[] = {
    (void *)hz3_malloc, (void *)hz3_free, (void *)hz3_calloc, (void *)hz3_realloc,
    (void *)hz3_reallocarray, (void *)hz3_posix_memalign, (void *)hz3_aligned_alloc,
    (void *)hz3_memalign, (void *)hz3_valloc, (void *)hz3_pvalloc,
    (void *)hz3_malloc_usable_size, (void *)hz3_free_sized, (void *)hz3_free_aligned_sized,
    (void *)hz3_collect, (void *)hz3_strategy, (void *)__libc_malloc, (void *)__libc_free,
    (void *)__libc_calloc, (void *)__libc_realloc, (void *)__libc_memalign,
    (void *)__libc_valloc, (void *)__libc_pvalloc, (void *)__posix_memalign, (void *)cfree,
    (void *)free_sized, (void *)free_aligned_sized,
};
#endif

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void *);
typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);
typedef int (*trim_fn)(size_t);
typedef void (*collect_fn)(void);
typedef const char *(*strategy_fn)(void);

#define SYM(type, name) ((type)hz3t_sym(name))

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Sizes that cross every size-class regime: tiny, LUT, medium, the small/large boundary
 * (256 KiB), large, and beyond the 4 MiB segment. */
static const size_t SIZES[] = {
    1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100, 127, 128, 129, 255, 256, 257,
    500, 1000, 1023, 1024, 1025, 2048, 3000, 4095, 4096, 4097, 8191, 8192, 10000,
    16384, 32768, 65535, 65536, 65537, 100000, 131072, 200000, 262143, 262144, 262145,
    300000, 524288, 1000000, 1048576, 2097153, 4194304, 4194305, 9000000,
};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

/* ---------------------------------------------------------------------------------------- */

static void test_malloc_zero(void) {
    void *p = malloc(OPAQUE(0));
    void *q = malloc(OPAQUE(0));
    CHECK(p != NULL, "malloc(0) returned NULL");
    CHECK(q != NULL, "malloc(0) returned NULL");
    CHECK(p != q, "two live malloc(0) blocks are the same pointer %p", p);
    CHECK(hz3t_aligned(p, 16) && hz3t_aligned(q, 16), "malloc(0) not 16-aligned: %p %p", p, q);
    free(p);
    free(q);
    /* Many in a row stay unique. */
    void *v[64];
    for (int i = 0; i < 64; i++) v[i] = malloc(OPAQUE(0));
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < i; j++) CHECK(v[i] != v[j], "malloc(0) #%d == #%d", i, j);
    for (int i = 0; i < 64; i++) free(v[i]);
}

static void test_free_null(void) {
    free(NULL);
    free_fn cfree_p = SYM(free_fn, "cfree");
    free_sized_fn fs = SYM(free_sized_fn, "free_sized");
    free_aligned_sized_fn fas = SYM(free_aligned_sized_fn, "free_aligned_sized");
    if (cfree_p) cfree_p(NULL);
    if (fs) fs(NULL, 0);
    if (fas) fas(NULL, 64, 0);
}

static void test_malloc_alignment(void) {
    for (size_t n = 1; n <= 4096; n++) {
        void *p = malloc(OPAQUE(n));
        CHECK(p != NULL, "malloc(%zu) returned NULL", n);
        CHECK(hz3t_aligned(p, 16), "malloc(%zu) = %p is not 16-aligned", n, p);
        free(p);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(OPAQUE(SIZES[i]));
        CHECK(p != NULL && hz3t_aligned(p, 16), "malloc(%zu) = %p", SIZES[i], p);
        free(p);
    }
}

static void test_calloc_overflow(void) {
    static const size_t pairs[][2] = {
        {SIZE_MAX, SIZE_MAX},
        {SIZE_MAX / 2 + 1, 2},
        {2, SIZE_MAX / 2 + 1},
        {(size_t)1 << 32, (size_t)1 << 32},
        {(size_t)1 << 33, (size_t)1 << 31},
        {SIZE_MAX, 2},
        /* No overflow, but above PTRDIFF_MAX or impossible to map. */
        {1, (size_t)PTRDIFF_MAX + 1},
        {(size_t)PTRDIFF_MAX / 2 + 1, 2},
        {SIZE_MAX, 1},
        {1, SIZE_MAX},
        {(size_t)PTRDIFF_MAX, 1},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        void *p = calloc(OPAQUE(pairs[i][0]), OPAQUE(pairs[i][1]));
        int e = errno;
        CHECK(p == NULL, "calloc(%zu, %zu) = %p, want NULL", pairs[i][0], pairs[i][1], p);
        CHECK(e == ENOMEM, "calloc(%zu, %zu): errno %d, want ENOMEM", pairs[i][0], pairs[i][1], e);
        free(p);
    }
}

static int all_zero(const unsigned char *p, size_t n, size_t *at) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) {
            *at = i;
            return 0;
        }
    return 1;
}

static void test_calloc_zeroes(void) {
    void *z = calloc(OPAQUE(0), OPAQUE(8));
    CHECK(z != NULL, "calloc(0, 8) returned NULL (malloc(0) does not)");
    free(z);
    z = calloc(OPAQUE(8), OPAQUE(0));
    CHECK(z != NULL, "calloc(8, 0) returned NULL");
    free(z);
    enum { K = 24 };
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = SIZES[i];
        size_t k = n > 1000000 ? 3 : K;
        void *v[K];
        /* Dirty k blocks of this size over their whole usable size, free them, then calloc
         * the same size: the allocator reuses those blocks, and they must read zero. */
        for (int round = 0; round < 3; round++) {
            for (size_t j = 0; j < k; j++) {
                v[j] = malloc(OPAQUE(n));
                CHECK(v[j] != NULL, "malloc(%zu) NULL", n);
                if (v[j]) memset(v[j], 0xA5, malloc_usable_size(v[j]));
            }
            for (size_t j = 0; j < k; j++) free(v[j]);
            for (size_t j = 0; j < k; j++) {
                /* Alternate the factorisation: (1, n), (n, 1), (n/8+..., 8). */
                void *p;
                size_t total = n;
                if (j % 3 == 0) p = calloc(OPAQUE(1), OPAQUE(n));
                else if (j % 3 == 1) p = calloc(OPAQUE(n), OPAQUE(1));
                else {
                    total = ((n + 7) / 8) * 8;
                    p = calloc(OPAQUE((n + 7) / 8), OPAQUE(8));
                }
                v[j] = p;
                size_t at = 0;
                CHECK(p != NULL, "calloc total %zu returned NULL", total);
                CHECK(p == NULL || hz3t_aligned(p, 16), "calloc(%zu) = %p not 16-aligned", total, p);
                CHECK(p == NULL || all_zero(p, total, &at),
                      "calloc(%zu) (round %d, block %zu) byte %zu is not zero (reused dirty block)",
                      total, round, j, at);
                if (p) memset(p, 0x5A, total);
            }
            for (size_t j = 0; j < k; j++) free(v[j]);
        }
    }
}

static void test_huge_malloc(void) {
    static const size_t sizes[] = {
        (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 4096,
        SIZE_MAX - ((size_t)1 << 22), (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4096,
        (size_t)1 << 62, (size_t)1 << 60,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        errno = 0;
        void *p = malloc(OPAQUE(n));
        int e = errno;
        CHECK(p == NULL && e == ENOMEM, "malloc(%#zx) = %p errno %d, want NULL/ENOMEM", n, p, e);
        free(p);

        errno = 0;
        p = realloc(NULL, OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "realloc(NULL, %#zx) = %p errno %d", n, p, e);
        free(p);

        errno = 0;
        p = memalign(OPAQUE(64), OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "memalign(64, %#zx) = %p errno %d", n, p, e);
        free(p);

        errno = 0;
        p = aligned_alloc(OPAQUE(4096), OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "aligned_alloc(4096, %#zx) = %p errno %d", n, p, e);
        free(p);

        errno = 0;
        p = aligned_alloc(OPAQUE((size_t)1 << 23), OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "aligned_alloc(8 MiB, %#zx) = %p errno %d", n, p, e);
        free(p);

        errno = 0;
        p = valloc(OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "valloc(%#zx) = %p errno %d", n, p, e);
        free(p);

        errno = 0;
        p = pvalloc(OPAQUE(n));
        e = errno;
        CHECK(p == NULL && e == ENOMEM, "pvalloc(%#zx) = %p errno %d", n, p, e);
        free(p);

        void *sentinel = (void *)(uintptr_t)0x1234560;
        void *out = sentinel;
        int rc = posix_memalign(&out, OPAQUE(64), OPAQUE(n));
        CHECK(rc == ENOMEM, "posix_memalign(64, %#zx) returned %d, want ENOMEM", n, rc);
        CHECK(out == sentinel, "posix_memalign(64, %#zx) failed but wrote %p", n, out);
    }
    /* Huge alignments cannot be satisfied either. */
    static const size_t aligns[] = {(size_t)1 << 61, (size_t)1 << 62, (size_t)1 << 63};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i];
        errno = 0;
        void *p = aligned_alloc(OPAQUE(a), OPAQUE(64));
        int e = errno;
        CHECK(p == NULL && (e == ENOMEM || e == EINVAL), "aligned_alloc(%#zx, 64) = %p errno %d", a, p, e);
        free(p);
        errno = 0;
        p = memalign(OPAQUE(a), OPAQUE(64));
        e = errno;
        CHECK(p == NULL && (e == ENOMEM || e == EINVAL), "memalign(%#zx, 64) = %p errno %d", a, p, e);
        free(p);
        void *sentinel = (void *)(uintptr_t)0x1234560;
        void *out = sentinel;
        int rc = posix_memalign(&out, OPAQUE(a), OPAQUE(64));
        CHECK(rc == ENOMEM || rc == EINVAL, "posix_memalign(%#zx, 64) returned %d", a, rc);
        CHECK(out == sentinel, "posix_memalign(%#zx) failed but wrote %p", a, out);
    }
}

static void check_intact(void *p, size_t n, uint64_t seed, const char *what) {
    size_t at = hz3t_check(p, n, seed);
    CHECK(at == HZ3T_OK, "%s: original block %p (%zu bytes) changed at byte %zu", what, p, n, at);
    CHECK(malloc_usable_size(p) >= n, "%s: usable size of the original block shrank", what);
}

static void test_reallocarray(void) {
    static const size_t origs[] = {100, 5000, 300000, 2000000};
    for (size_t i = 0; i < sizeof origs / sizeof origs[0]; i++) {
        size_t n = origs[i];
        void *p = malloc(OPAQUE(n));
        CHECK(p != NULL, "malloc(%zu)", n);
        if (!p) continue;
        hz3t_fill(p, n, 77 + i);
        static const size_t bad[][2] = {
            {SIZE_MAX / 2, 3}, {(size_t)1 << 33, (size_t)1 << 33}, {3, SIZE_MAX / 2},
            {SIZE_MAX, SIZE_MAX}, {1, (size_t)PTRDIFF_MAX + 1}, {(size_t)PTRDIFF_MAX / 2 + 1, 2},
        };
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            errno = 0;
            void *q = reallocarray(p, OPAQUE(bad[j][0]), OPAQUE(bad[j][1]));
            int e = errno;
            CHECK(q == NULL && e == ENOMEM, "reallocarray(%zu-byte block, %zu, %zu) = %p errno %d",
                  n, bad[j][0], bad[j][1], q, e);
            if (q != NULL) { p = q; break; }
            check_intact(p, n, 77 + i, "reallocarray overflow");
        }
        void *q = reallocarray(p, OPAQUE(n / 4 + 10), OPAQUE(8));
        CHECK(q != NULL, "reallocarray(p, %zu, 8) returned NULL", n / 4 + 10);
        if (q) {
            size_t keep = n < (n / 4 + 10) * 8 ? n : (n / 4 + 10) * 8;
            size_t at = hz3t_check(q, keep, 77 + i);
            CHECK(at == HZ3T_OK, "reallocarray lost the prefix at byte %zu of %zu", at, keep);
            free(q);
        } else {
            free(p);
        }
    }
    /* reallocarray(p, 0, n) is realloc(p, 0): NULL, p freed (glibc). */
    void *f = malloc(OPAQUE(300));
    CHECK(f && reallocarray(f, OPAQUE(0), OPAQUE(8)) == NULL, "reallocarray(p, 0, 8) != NULL");
    void *p = reallocarray(NULL, OPAQUE(4), OPAQUE(8));
    CHECK(p != NULL && malloc_usable_size(p) >= 32, "reallocarray(NULL, 4, 8) = %p", p);
    free(p);
    errno = 0;
    p = reallocarray(NULL, OPAQUE(SIZE_MAX), OPAQUE(2));
    CHECK(p == NULL && errno == ENOMEM, "reallocarray(NULL, SIZE_MAX, 2) = %p errno %d", p, errno);
}

static void test_realloc_huge(void) {
    static const size_t origs[] = {1000, 200000, 3000000};
    static const size_t huge[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 4096,
                                  (size_t)PTRDIFF_MAX, (size_t)1 << 60};
    for (size_t i = 0; i < sizeof origs / sizeof origs[0]; i++) {
        size_t n = origs[i];
        void *p = malloc(OPAQUE(n));
        CHECK(p != NULL, "malloc(%zu)", n);
        if (!p) continue;
        hz3t_fill(p, n, 900 + i);
        for (size_t j = 0; j < sizeof huge / sizeof huge[0]; j++) {
            errno = 0;
            void *q = realloc(p, OPAQUE(huge[j]));
            int e = errno;
            CHECK(q == NULL && e == ENOMEM, "realloc(%zu-byte block, %#zx) = %p errno %d", n, huge[j], q, e);
            if (q != NULL) { p = q; break; }
            check_intact(p, n, 900 + i, "realloc to a huge size");
        }
        free(p);
    }
}

static void test_realloc_null(void) {
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = SIZES[i];
        void *p = realloc(NULL, OPAQUE(n));
        CHECK(p != NULL, "realloc(NULL, %zu) returned NULL", n);
        if (!p) continue;
        CHECK(hz3t_aligned(p, 16), "realloc(NULL, %zu) = %p not 16-aligned", n, p);
        CHECK(malloc_usable_size(p) >= n, "realloc(NULL, %zu): usable %zu", n, malloc_usable_size(p));
        hz3t_fill(p, n, n);
        CHECK(hz3t_check(p, n, n) == HZ3T_OK, "realloc(NULL, %zu) block not writable", n);
        free(p);
    }
    void *p = realloc(NULL, OPAQUE(0));
    CHECK(p != NULL, "realloc(NULL, 0) returned NULL (glibc: like malloc(0))");
    free(p);
}

/* realloc(p, 0) returns NULL and frees p (glibc). "Frees" is checked by the resident set:
 * with the blocks leaked, each round would keep `bytes` resident. */
static void realloc_zero_rounds(size_t n, int rounds) {
    size_t before = hz3t_rss();
    for (int i = 0; i < rounds; i++) {
        void *p = malloc(OPAQUE(n));
        if (!p) {
            CHECK(p != NULL, "malloc(%zu) NULL", n);
            return;
        }
        memset(p, 0x77, n);
        errno = 0;
        void *q = realloc(p, OPAQUE(0));
        if (q != NULL) {
            CHECK(q == NULL, "realloc(%zu-byte block, 0) = %p, want NULL", n, q);
            free(q);
            return;
        }
    }
    size_t after = hz3t_rss();
    size_t leaked_if_not_freed = n * (size_t)rounds;
    CHECK(after < before + leaked_if_not_freed / 4,
          "realloc(p, 0) does not free: %d rounds of %zu bytes grew RSS by %zu KiB", rounds, n,
          (after - before) / 1024);
}

static void test_realloc_zero(void) {
    realloc_zero_rounds(100, 400000);     /* small: 40 MB if leaked */
    realloc_zero_rounds(65536, 1000);     /* medium: 64 MB */
    realloc_zero_rounds(1 << 20, 100);    /* large: 100 MB */
}

static void test_realloc_prefix(void) {
    /* Up through every regime, down again, then big jumps. */
    size_t seq[3 * NSIZES + 16];
    size_t m = 0;
    for (size_t i = 0; i < NSIZES; i++) seq[m++] = SIZES[i];
    for (size_t i = NSIZES; i-- > 0;) seq[m++] = SIZES[i];
    static const size_t jumps[] = {1, 9000000, 1, 300000, 100, 5000000, 262144, 262145,
                                   262144, 4096, 65537, 16, 1048576, 1048000, 600000, 8};
    for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) seq[m++] = jumps[i];
    void *p = NULL;
    size_t cur = 0;
    uint64_t seed = 1;
    for (size_t i = 0; i < m; i++) {
        size_t n = seq[i];
        void *q = realloc(p, OPAQUE(n));
        CHECK(q != NULL, "realloc(%zu -> %zu) returned NULL", cur, n);
        if (!q) break;
        CHECK(hz3t_aligned(q, 16), "realloc(%zu -> %zu) = %p not 16-aligned", cur, n, q);
        CHECK(malloc_usable_size(q) >= n, "realloc(%zu -> %zu): usable %zu", cur, n, malloc_usable_size(q));
        size_t keep = cur < n ? cur : n;
        size_t at = hz3t_check(q, keep, seed);
        CHECK(at == HZ3T_OK, "realloc(%zu -> %zu) lost the prefix at byte %zu", cur, n, at);
        seed++;
        hz3t_fill(q, n, seed);
        p = q;
        cur = n;
    }
    free(p);

    /* Aligned blocks keep their prefix too. */
    static const size_t aligns[] = {32, 64, 4096, 65536, (size_t)1 << 21, (size_t)1 << 23};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        static const size_t news[] = {10, 5000, 300000, 5000000};
        for (size_t j = 0; j < sizeof news / sizeof news[0]; j++) {
            void *a = NULL;
            int rc = posix_memalign(&a, aligns[i], 3000);
            CHECK(rc == 0 && a != NULL, "posix_memalign(%zu, 3000) rc %d", aligns[i], rc);
            if (rc) continue;
            hz3t_fill(a, 3000, 4242);
            void *q = realloc(a, OPAQUE(news[j]));
            CHECK(q != NULL, "realloc(aligned %zu, %zu) NULL", aligns[i], news[j]);
            if (!q) {
                free(a);
                continue;
            }
            size_t keep = news[j] < 3000 ? news[j] : 3000;
            size_t at = hz3t_check(q, keep, 4242);
            CHECK(at == HZ3T_OK, "realloc(block aligned %zu -> %zu) lost prefix at %zu", aligns[i], news[j], at);
            free(q);
        }
    }

    /* Shrinking a large block in place and growing it back keeps everything. */
    void *big = malloc(OPAQUE(3 << 20));
    if (big) {
        hz3t_fill(big, 3 << 20, 31337);
        void *s = realloc(big, OPAQUE((3 << 20) - 100000));
        CHECK(s && hz3t_check(s, (3 << 20) - 100000, 31337) == HZ3T_OK, "large shrink lost data");
        void *g = s ? realloc(s, OPAQUE(3 << 20)) : NULL;
        CHECK(g && hz3t_check(g, (3 << 20) - 100000, 31337) == HZ3T_OK, "large regrow lost data");
        free(g ? g : s);
    }
}

static void test_posix_memalign_bad(posix_memalign_fn pm, const char *name) {
    static const size_t bad[] = {0, 1, 2, 3, 4, 5, 6, 7, 12, 20, 24, 48, 100, 4095, 4097,
                                 ((size_t)1 << 20) + 8, SIZE_MAX, SIZE_MAX / 2, (size_t)PTRDIFF_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *sentinel = (void *)(uintptr_t)0xDEAD000;
        void *out = sentinel;
        int rc = pm(&out, OPAQUE(bad[i]), OPAQUE(64));
        CHECK(rc == EINVAL, "%s(align %zu) returned %d, want EINVAL", name, bad[i], rc);
        CHECK(out == sentinel, "%s(align %zu) wrote %p to the out-pointer on failure", name, bad[i], out);
        if (rc == 0 && out != sentinel) free(out);
    }
}

static void test_posix_memalign_good(posix_memalign_fn pm, const char *name) {
    for (size_t a = 8; a <= ((size_t)1 << 24); a <<= 1) {
        size_t sizes[] = {0, 1, a - 1, a, a + 1, 3 * a + 5, 100, 5000, 300000};
        size_t ns = a <= 65536 ? sizeof sizes / sizeof sizes[0] : 5;
        for (size_t j = 0; j < ns; j++) {
            size_t n = sizes[j];
            void *out = (void *)(uintptr_t)0xDEAD000;
            int rc = pm(&out, OPAQUE(a), OPAQUE(n));
            CHECK(rc == 0, "%s(align %zu, size %zu) returned %d", name, a, n, rc);
            if (rc != 0) continue;
            if (n == 0 && out == NULL) continue; /* POSIX allows NULL for size 0 */
            CHECK(out != NULL && out != (void *)(uintptr_t)0xDEAD000, "%s(%zu, %zu) gave %p", name, a, n, out);
            CHECK(hz3t_aligned(out, a), "%s(align %zu, size %zu) = %p misaligned", name, a, n, out);
            CHECK(malloc_usable_size(out) >= n, "%s(%zu, %zu): usable %zu", name, a, n, malloc_usable_size(out));
            size_t head = n < 65536 ? n : 65536;
            hz3t_fill(out, head, a + n);
            CHECK(hz3t_check(out, head, a + n) == HZ3T_OK, "%s(%zu, %zu) block not writable", name, a, n);
            if (n > head) {
                hz3t_fill((char *)out + n - 4096, 4096, a ^ n);
                CHECK(hz3t_check((char *)out + n - 4096, 4096, a ^ n) == HZ3T_OK,
                      "%s(%zu, %zu) block end not writable", name, a, n);
            }
            free(out);
        }
    }
}

static void test_aligned_alloc(void) {
    static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = aligned_alloc(OPAQUE(bad[i]), OPAQUE(256));
        int e = errno;
        CHECK(p == NULL && e == EINVAL, "aligned_alloc(%zu, 256) = %p errno %d, want NULL/EINVAL", bad[i], p, e);
        free(p);
    }
    for (size_t a = 1; a <= ((size_t)1 << 22); a <<= 1) {
        size_t sizes[] = {1, a, 2 * a, 100, 70000};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t n = sizes[j];
            void *p = aligned_alloc(OPAQUE(a), OPAQUE(n));
            CHECK(p != NULL, "aligned_alloc(%zu, %zu) NULL", a, n);
            if (!p) continue;
            CHECK(hz3t_aligned(p, a) && hz3t_aligned(p, 16), "aligned_alloc(%zu, %zu) = %p", a, n, p);
            CHECK(malloc_usable_size(p) >= n, "aligned_alloc(%zu, %zu): usable %zu", a, n, malloc_usable_size(p));
            memset(p, 0x3C, n);
            free(p);
        }
    }
}

static void test_memalign(aligned_fn ma, const char *name) {
    for (size_t a = 1; a <= ((size_t)1 << 22); a <<= 1) {
        size_t sizes[] = {0, 1, a, 3 * a + 1, 1000, 300000};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t n = sizes[j];
            void *p = ma(OPAQUE(a), OPAQUE(n));
            CHECK(p != NULL, "%s(%zu, %zu) NULL", name, a, n);
            if (!p) continue;
            CHECK(hz3t_aligned(p, a), "%s(%zu, %zu) = %p misaligned", name, a, n, p);
            CHECK(malloc_usable_size(p) >= n, "%s(%zu, %zu): usable %zu", name, a, n, malloc_usable_size(p));
            memset(p, 0x11, n);
            free(p);
        }
    }
    /* glibc rounds a non-power-of-two alignment up to the next power of two. */
    static const size_t odd[][2] = {{3, 4}, {24, 32}, {48, 64}, {100, 128}, {4097, 8192},
                                    {65537, 131072}, {3000000, 4194304}};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        void *p = ma(OPAQUE(odd[i][0]), OPAQUE(200));
        CHECK(p != NULL, "%s(%zu, 200) NULL", name, odd[i][0]);
        if (!p) continue;
        CHECK(hz3t_aligned(p, odd[i][1]), "%s(%zu, 200) = %p not aligned to %zu", name, odd[i][0], p, odd[i][1]);
        free(p);
    }
    /* Alignment 0 behaves like malloc (glibc). */
    void *p = ma(OPAQUE(0), OPAQUE(100));
    CHECK(p != NULL && hz3t_aligned(p, 16), "%s(0, 100) = %p", name, p);
    free(p);
    /* An alignment whose next power of two does not exist. */
    errno = 0;
    p = ma(OPAQUE(SIZE_MAX / 2 + 2), OPAQUE(16));
    CHECK(p == NULL && errno == EINVAL, "%s(SIZE_MAX/2+2, 16) = %p errno %d, want NULL/EINVAL", name, p, errno);
}

static void test_valloc_pvalloc(malloc_fn va, malloc_fn pva, const char *suffix) {
    size_t ps = page_size();
    static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 65536, 100000, 262145, 1 << 20, 5000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = va(OPAQUE(n));
        CHECK(p != NULL, "valloc%s(%zu) NULL", suffix, n);
        if (p) {
            CHECK(hz3t_aligned(p, ps), "valloc%s(%zu) = %p not aligned to the page size %zu", suffix, n, p, ps);
            CHECK(malloc_usable_size(p) >= n, "valloc%s(%zu): usable %zu", suffix, n, malloc_usable_size(p));
            memset(p, 0x22, n);
            free(p);
        }
        p = pva(OPAQUE(n));
        CHECK(p != NULL, "pvalloc%s(%zu) NULL", suffix, n);
        if (p) {
            size_t want = n == 0 ? ps : (n + ps - 1) / ps * ps;
            CHECK(hz3t_aligned(p, ps), "pvalloc%s(%zu) = %p not page aligned", suffix, n, p);
            CHECK(malloc_usable_size(p) >= want, "pvalloc%s(%zu): usable %zu < %zu (rounded to pages)",
                  suffix, n, malloc_usable_size(p), want);
            memset(p, 0x33, want);
            free(p);
        }
    }
}

static void test_usable_size(void) {
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu", malloc_usable_size(NULL));
    for (size_t n = 0; n <= 4200; n++) {
        void *p = malloc(OPAQUE(n));
        if (!p) {
            CHECK(p != NULL, "malloc(%zu) NULL", n);
            continue;
        }
        size_t u = malloc_usable_size(p);
        CHECK(u >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
        memset(p, 0x44, u); /* the whole usable size is ours to write */
        free(p);
    }
    for (int k = 12; k <= 23; k++) {
        for (int d = -1; d <= 1; d++) {
            size_t n = ((size_t)1 << k) + (size_t)(ptrdiff_t)d;
            void *p = malloc(OPAQUE(n));
            CHECK(p != NULL, "malloc(%zu) NULL", n);
            if (!p) continue;
            size_t u = malloc_usable_size(p);
            CHECK(u >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
            memset(p, 0x45, u);
            free(p);
        }
    }
    /* Neighbours: blocks of one size filled over their whole usable size must not overlap. */
    enum { K = 40 };
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = SIZES[i];
        size_t k = n > 300000 ? 4 : K;
        void *v[K];
        size_t u[K];
        for (size_t j = 0; j < k; j++) {
            v[j] = malloc(OPAQUE(n));
            u[j] = v[j] ? malloc_usable_size(v[j]) : 0;
            if (v[j]) hz3t_fill(v[j], u[j], j * 1315423911u + n);
        }
        for (size_t j = 0; j < k; j++) {
            if (!v[j]) continue;
            size_t at = hz3t_check(v[j], u[j], j * 1315423911u + n);
            CHECK(at == HZ3T_OK, "size %zu block %zu: usable range (%zu) overlaps another block at byte %zu",
                  n, j, u[j], at);
        }
        for (size_t j = 0; j < k; j++) free(v[j]);
    }
    /* calloc / realloc / aligned results report a usable size too. */
    void *c = calloc(OPAQUE(10), OPAQUE(100));
    CHECK(c && malloc_usable_size(c) >= 1000, "usable size of calloc(10, 100)");
    void *r = realloc(c, OPAQUE(70000));
    CHECK(r && malloc_usable_size(r) >= 70000, "usable size after realloc to 70000");
    free(r ? r : c);
}

static void test_free_sized(void) {
    free_sized_fn fs = SYM(free_sized_fn, "free_sized");
    free_aligned_sized_fn fas = SYM(free_aligned_sized_fn, "free_aligned_sized");
    CHECK(fs != NULL, "free_sized is not exported");
    CHECK(fas != NULL, "free_aligned_sized is not exported");
    if (!fs || !fas) return;
    for (int rep = 0; rep < 4; rep++) {
        for (size_t i = 0; i < NSIZES; i++) {
            size_t n = SIZES[i];
            void *p = malloc(OPAQUE(n));
            CHECK(p != NULL, "malloc(%zu)", n);
            if (p) {
                memset(p, 1, n);
                fs(p, n);
            }
            size_t a = (size_t)64 << (i % 12);
            size_t m = (n + a - 1) / a * a;
            p = aligned_alloc(OPAQUE(a), OPAQUE(m));
            CHECK(p != NULL && hz3t_aligned(p, a), "aligned_alloc(%zu, %zu) = %p", a, m, p);
            if (p) {
                memset(p, 2, m);
                fas(p, a, m);
            }
        }
    }
    /* The freed memory is reusable: a fresh round of allocations works and is writable. */
    void *v[100];
    for (int i = 0; i < 100; i++) {
        v[i] = malloc(OPAQUE(100 + i));
        CHECK(v[i] != NULL, "malloc after free_sized");
        if (v[i]) memset(v[i], 3, 100 + i);
    }
    for (int i = 0; i < 100; i++) fs(v[i], 100 + i);
}

static void test_aliases(void) {
    /* Every name resolves, and to hz3's object. */
    static const char *const names[] = {
        "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "free_sized", "free_aligned_sized",
        "cfree", "malloc_trim", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
        "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__posix_memalign",
        "hz3_malloc", "hz3_free", "hz3_calloc", "hz3_realloc", "hz3_reallocarray",
        "hz3_posix_memalign", "hz3_aligned_alloc", "hz3_memalign", "hz3_valloc", "hz3_pvalloc",
        "hz3_malloc_usable_size", "hz3_free_sized", "hz3_free_aligned_sized", "hz3_cfree",
        "hz3_malloc_trim", "hz3___libc_malloc", "hz3___libc_free", "hz3___libc_calloc",
        "hz3___libc_realloc", "hz3___libc_memalign", "hz3___libc_valloc", "hz3___libc_pvalloc",
        "hz3___posix_memalign", "hz3_collect", "hz3_strategy",
    };
    const char *hz3_obj = hz3t_object_of(hz3t_sym("hz3_malloc"));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *s = hz3t_sym(names[i]);
        CHECK(s != NULL, "dlsym(RTLD_DEFAULT, \"%s\") is NULL", names[i]);
        if (s) {
            const char *o = hz3t_object_of(s);
            CHECK(strcmp(o, hz3_obj) == 0, "%s resolves into %s, not hz3 (%s)", names[i], o, hz3_obj);
        }
    }

    malloc_fn lm = SYM(malloc_fn, "__libc_malloc");
    free_fn lf = SYM(free_fn, "__libc_free");
    calloc_fn lc = SYM(calloc_fn, "__libc_calloc");
    realloc_fn lr = SYM(realloc_fn, "__libc_realloc");
    aligned_fn lma = SYM(aligned_fn, "__libc_memalign");
    malloc_fn lva = SYM(malloc_fn, "__libc_valloc");
    malloc_fn lpva = SYM(malloc_fn, "__libc_pvalloc");
    posix_memalign_fn lpm = SYM(posix_memalign_fn, "__posix_memalign");
    free_fn cf = SYM(free_fn, "cfree");
    trim_fn trim = SYM(trim_fn, "malloc_trim");
    if (lm && lf && lc && lr && lma && lva && lpva && lpm && cf && trim) {
        /* Blocks cross freely between the standard names and the aliases. */
        void *p = lm(OPAQUE(100));
        CHECK(p != NULL && malloc_usable_size(p) >= 100, "__libc_malloc(100) = %p", p);
        free(p);
        p = malloc(OPAQUE(200));
        lf(p);
        lf(NULL);
        p = lm(OPAQUE(500000));
        CHECK(p != NULL, "__libc_malloc(500000)");
        cf(p);
        errno = 0;
        p = lm(OPAQUE(SIZE_MAX));
        CHECK(p == NULL && errno == ENOMEM, "__libc_malloc(SIZE_MAX) = %p errno %d", p, errno);
        errno = 0;
        p = lc(OPAQUE(SIZE_MAX / 2 + 1), OPAQUE(4));
        CHECK(p == NULL && errno == ENOMEM, "__libc_calloc overflow = %p errno %d", p, errno);
        unsigned char *z = lc(OPAQUE(100), OPAQUE(10));
        size_t at = 0;
        CHECK(z != NULL && all_zero(z, 1000, &at), "__libc_calloc(100, 10) not zeroed");
        if (z) {
            hz3t_fill(z, 1000, 5);
            unsigned char *z2 = lr(z, OPAQUE(100000));
            CHECK(z2 != NULL && hz3t_check(z2, 1000, 5) == HZ3T_OK, "__libc_realloc lost the prefix");
            if (z2) z = z2;
            CHECK(lr(z, OPAQUE(0)) == NULL, "__libc_realloc(p, 0) != NULL");
        }
        void *r0 = lr(NULL, OPAQUE(64));
        CHECK(r0 != NULL, "__libc_realloc(NULL, 64) NULL");
        free(r0);
        p = lma(OPAQUE(4096), OPAQUE(100));
        CHECK(p != NULL && hz3t_aligned(p, 4096), "__libc_memalign(4096, 100) = %p", p);
        free(p);
        p = lma(OPAQUE(24), OPAQUE(100));
        CHECK(p != NULL && hz3t_aligned(p, 32), "__libc_memalign(24, 100) = %p", p);
        free(p);
        p = lva(OPAQUE(10));
        CHECK(p != NULL && hz3t_aligned(p, page_size()), "__libc_valloc(10) = %p", p);
        free(p);
        p = lpva(OPAQUE(10));
        CHECK(p != NULL && hz3t_aligned(p, page_size()) && malloc_usable_size(p) >= page_size(),
              "__libc_pvalloc(10) = %p", p);
        free(p);
        test_posix_memalign_bad(lpm, "__posix_memalign");
        void *out = NULL;
        CHECK(lpm(&out, OPAQUE(256), OPAQUE(1000)) == 0 && hz3t_aligned(out, 256),
              "__posix_memalign(256, 1000) = %p", out);
        free(out);
        (void)trim(0);
        p = malloc(OPAQUE(1000));
        CHECK(p != NULL, "malloc after malloc_trim");
        free(p);
    }

    /* The hz3_ names. */
    malloc_fn hm = SYM(malloc_fn, "hz3_malloc");
    free_fn hf = SYM(free_fn, "hz3_free");
    calloc_fn hc = SYM(calloc_fn, "hz3_calloc");
    realloc_fn hr = SYM(realloc_fn, "hz3_realloc");
    reallocarray_fn hra = SYM(reallocarray_fn, "hz3_reallocarray");
    posix_memalign_fn hpm = SYM(posix_memalign_fn, "hz3_posix_memalign");
    aligned_fn haa = SYM(aligned_fn, "hz3_aligned_alloc");
    aligned_fn hma = SYM(aligned_fn, "hz3_memalign");
    malloc_fn hva = SYM(malloc_fn, "hz3_valloc");
    malloc_fn hpva = SYM(malloc_fn, "hz3_pvalloc");
    usable_fn hus = SYM(usable_fn, "hz3_malloc_usable_size");
    free_sized_fn hfs = SYM(free_sized_fn, "hz3_free_sized");
    free_aligned_sized_fn hfas = SYM(free_aligned_sized_fn, "hz3_free_aligned_sized");
    free_fn hcf = SYM(free_fn, "hz3_cfree");
    trim_fn htrim = SYM(trim_fn, "hz3_malloc_trim");
    collect_fn hcol = SYM(collect_fn, "hz3_collect");
    malloc_fn hlm = SYM(malloc_fn, "hz3___libc_malloc");
    free_fn hlf = SYM(free_fn, "hz3___libc_free");
    calloc_fn hlc = SYM(calloc_fn, "hz3___libc_calloc");
    realloc_fn hlr = SYM(realloc_fn, "hz3___libc_realloc");
    aligned_fn hlma = SYM(aligned_fn, "hz3___libc_memalign");
    malloc_fn hlva = SYM(malloc_fn, "hz3___libc_valloc");
    malloc_fn hlpva = SYM(malloc_fn, "hz3___libc_pvalloc");
    posix_memalign_fn hlpm = SYM(posix_memalign_fn, "hz3___posix_memalign");
    if (hm && hf && hc && hr && hra && hpm && haa && hma && hva && hpva && hus && hfs && hfas &&
        hcf && htrim && hcol && hlm && hlf && hlc && hlr && hlma && hlva && hlpva && hlpm) {
        void *p = hm(OPAQUE(0));
        CHECK(p != NULL, "hz3_malloc(0) NULL");
        hf(p);
        hf(NULL);
        p = hm(OPAQUE(1000));
        CHECK(p != NULL && hus(p) >= 1000 && hus(p) == malloc_usable_size(p), "hz3_malloc/usable_size");
        free(p); /* hz3_ and standard names share one heap */
        p = malloc(OPAQUE(1000));
        hf(p);
        CHECK(hus(NULL) == 0, "hz3_malloc_usable_size(NULL) != 0");
        errno = 0;
        p = hm(OPAQUE((size_t)PTRDIFF_MAX + 1));
        CHECK(p == NULL && errno == ENOMEM, "hz3_malloc(PTRDIFF_MAX+1) = %p errno %d", p, errno);
        errno = 0;
        p = hc(OPAQUE(SIZE_MAX), OPAQUE(SIZE_MAX));
        CHECK(p == NULL && errno == ENOMEM, "hz3_calloc overflow = %p errno %d", p, errno);
        unsigned char *z = hc(OPAQUE(3), OPAQUE(1000));
        size_t at = 0;
        CHECK(z != NULL && all_zero(z, 3000, &at), "hz3_calloc(3, 1000) not zeroed");
        if (z) {
            hz3t_fill(z, 3000, 99);
            errno = 0;
            CHECK(hra(z, OPAQUE(SIZE_MAX), OPAQUE(16)) == NULL && errno == ENOMEM, "hz3_reallocarray overflow");
            CHECK(hz3t_check(z, 3000, 99) == HZ3T_OK, "hz3_reallocarray overflow touched the block");
            unsigned char *z2 = hra(z, OPAQUE(1000), OPAQUE(100));
            CHECK(z2 != NULL && hz3t_check(z2, 3000, 99) == HZ3T_OK, "hz3_reallocarray lost the prefix");
            if (z2) z = z2;
            unsigned char *z3 = hr(z, OPAQUE(10));
            CHECK(z3 != NULL && hz3t_check(z3, 10, 99) == HZ3T_OK, "hz3_realloc shrink lost the prefix");
            if (z3) z = z3;
            CHECK(hr(z, OPAQUE(0)) == NULL, "hz3_realloc(p, 0) != NULL");
        }
        p = hr(NULL, OPAQUE(77));
        CHECK(p != NULL, "hz3_realloc(NULL, 77) NULL");
        hcf(p);
        hcf(NULL);
        test_posix_memalign_bad(hpm, "hz3_posix_memalign");
        test_posix_memalign_bad(hlpm, "hz3___posix_memalign");
        void *out = NULL;
        CHECK(hpm(&out, OPAQUE(1 << 16), OPAQUE(10)) == 0 && hz3t_aligned(out, 1 << 16), "hz3_posix_memalign");
        hfas(out, 1 << 16, 10);
        errno = 0;
        p = haa(OPAQUE(24), OPAQUE(48));
        CHECK(p == NULL && errno == EINVAL, "hz3_aligned_alloc(24, 48) = %p errno %d", p, errno);
        p = haa(OPAQUE(128), OPAQUE(256));
        CHECK(p != NULL && hz3t_aligned(p, 128), "hz3_aligned_alloc(128, 256) = %p", p);
        hfs(p, 256);
        p = hma(OPAQUE(100), OPAQUE(10));
        CHECK(p != NULL && hz3t_aligned(p, 128), "hz3_memalign(100, 10) = %p", p);
        hf(p);
        p = hlma(OPAQUE(1 << 20), OPAQUE(10));
        CHECK(p != NULL && hz3t_aligned(p, 1 << 20), "hz3___libc_memalign(1 MiB, 10) = %p", p);
        hlf(p);
        size_t ps = page_size();
        p = hva(OPAQUE(5));
        CHECK(p != NULL && hz3t_aligned(p, ps), "hz3_valloc(5) = %p", p);
        hf(p);
        p = hpva(OPAQUE(ps + 1));
        CHECK(p != NULL && hz3t_aligned(p, ps) && hus(p) >= 2 * ps, "hz3_pvalloc(page+1) = %p", p);
        hf(p);
        p = hlva(OPAQUE(5));
        CHECK(p != NULL && hz3t_aligned(p, ps), "hz3___libc_valloc(5) = %p", p);
        hf(p);
        p = hlpva(OPAQUE(0));
        CHECK(p != NULL && hz3t_aligned(p, ps) && hus(p) >= ps, "hz3___libc_pvalloc(0) = %p", p);
        hf(p);
        p = hlm(OPAQUE(33));
        CHECK(p != NULL, "hz3___libc_malloc(33) NULL");
        p = hlr(p, OPAQUE(3333));
        CHECK(p != NULL, "hz3___libc_realloc NULL");
        hlf(p);
        z = hlc(OPAQUE(50), OPAQUE(50));
        CHECK(z != NULL && all_zero(z, 2500, &at), "hz3___libc_calloc(50, 50) not zeroed");
        hlf(z);
        (void)htrim(0);
        hcol();
        p = hm(OPAQUE(4000));
        CHECK(p != NULL, "hz3_malloc after hz3_collect");
        hf(p);
    }
}

/* POSIX.1-2024 (and glibc since 2.33): free does not modify errno, whatever path it takes
 * (local, large unmap, after a trim). */
static void test_free_preserves_errno(void) {
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < NSIZES; i++) {
            void *p = malloc(OPAQUE(SIZES[i]));
            errno = EDOM;
            free(p);
            CHECK(errno == EDOM, "free of a %zu-byte block changed errno to %d", SIZES[i], errno);
            p = aligned_alloc(OPAQUE((size_t)1 << 22), OPAQUE(SIZES[i]));
            errno = ERANGE;
            free(p);
            CHECK(errno == ERANGE, "free of a 4 MiB-aligned %zu-byte block changed errno to %d", SIZES[i], errno);
        }
        errno = EDOM;
        free(NULL);
        CHECK(errno == EDOM, "free(NULL) changed errno to %d", errno);
        (void)malloc_trim(0);
    }
}

static void test_strategy(void) {
    strategy_fn st = SYM(strategy_fn, "hz3_strategy");
    CHECK(st != NULL, "hz3_strategy not exported");
    if (!st) return;
    const char *s = st();
    CHECK(s != NULL, "hz3_strategy() returned NULL");
    if (!s) return;
    static const char *const known[] = {"a", "b", "c", "d", "c-packed", "e", "e-batch", "a-batch", "a-cache"};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(s, known[i]) == 0;
    CHECK(ok, "hz3_strategy() = \"%s\", not a known strategy", s);
    printf("strategy: %s\n", s);
#ifdef HZ3_LINKED
    CHECK(strcmp(hz3_strategy(), s) == 0, "hz3_strategy() via hz3.h differs from dlsym's");
#endif
}

static void test_collect_and_reuse(void) {
    /* Allocate and free a lot, return memory to the OS, then everything still works. */
    enum { N = 2000 };
    static void *v[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = SIZES[(size_t)(i + round) % NSIZES];
            if (n > 300000) n = 1000;
            v[i] = malloc(OPAQUE(n));
            CHECK(v[i] != NULL, "malloc(%zu)", n);
            if (v[i]) hz3t_fill(v[i], n < 256 ? n : 256, (uint64_t)i);
        }
        for (int i = 0; i < N; i++) {
            size_t n = SIZES[(size_t)(i + round) % NSIZES];
            if (n > 300000) n = 1000;
            if (v[i]) {
                size_t at = hz3t_check(v[i], n < 256 ? n : 256, (uint64_t)i);
                CHECK(at == HZ3T_OK, "block %d changed at %zu", i, at);
            }
            free(v[i]);
        }
        (void)malloc_trim(0);
    }
}

int main(void) {
    hz3_require_active("api_contract");
    test_malloc_zero();
    test_free_null();
    test_malloc_alignment();
    test_calloc_overflow();
    test_calloc_zeroes();
    test_huge_malloc();
    test_reallocarray();
    test_realloc_huge();
    test_realloc_null();
    test_realloc_zero();
    test_realloc_prefix();
    test_posix_memalign_bad(posix_memalign, "posix_memalign");
    test_posix_memalign_good(posix_memalign, "posix_memalign");
    test_aligned_alloc();
    test_memalign(memalign, "memalign");
    test_valloc_pvalloc(valloc, pvalloc, "");
    test_usable_size();
    test_free_sized();
    test_aliases();
    test_free_preserves_errno();
    test_strategy();
    test_collect_and_reuse();
    if (hz3t_failures) {
        fprintf(stderr, "api_contract: %d case(s) failed\n", hz3t_failures);
        return 1;
    }
    printf("api_contract: all cases passed\n");
    return 0;
}
