/* hz3_test.h — helpers shared by the C test programs of hz3-capi.
 *
 * Every program is built in three ways by the Rust tests: plain (run under LD_PRELOAD),
 * linked against libhz3_capi.so, and linked against libhz3_capi.a (-DHZ3_LINKED for the last
 * two). hz3_require_active() makes each program check first that the malloc it calls really
 * is hz3's, so a preload the loader silently ignored cannot pass. */
#ifndef HZ3_TEST_H
#define HZ3_TEST_H

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hz3t_failures __attribute__((unused));

/* Records a failed case: one line on stderr, and the program exits non-zero at the end. */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            hz3t_failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d [%s]: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* Hides a value from the optimiser (so malloc(SIZE_MAX) & co. are neither folded nor
 * warned about). */
static inline size_t hz3t_opaque(size_t x) {
    __asm__ volatile("" : "+r"(x));
    return x;
}
#define OPAQUE(x) hz3t_opaque((size_t)(x))

/* A symbol looked up the way a program (or libc) resolves it: the global scope. */
static inline void *hz3t_sym(const char *name) { return dlsym(RTLD_DEFAULT, name); }

/* The file name of the object that defines address `p` ("?" if none). */
static inline const char *hz3t_object_of(void *p) {
    Dl_info info;
    if (p == NULL || dladdr(p, &info) == 0 || info.dli_fname == NULL) return "?";
    return info.dli_fname;
}

/* Exits with status 3 unless malloc resolves to hz3 (hz3_strategy is visible, and malloc,
 * free, calloc, realloc come from the same object as hz3_malloc, which is not libc). */
static inline void hz3_require_active(const char *prog) {
    void *hz3 = hz3t_sym("hz3_malloc");
    if (hz3 == NULL || hz3t_sym("hz3_strategy") == NULL) {
        fprintf(stderr, "%s: hz3 is not loaded (no hz3_malloc in the global scope)\n", prog);
        exit(3);
    }
    const char *hz3_obj = hz3t_object_of(hz3);
    const char *libc_obj = hz3t_object_of(hz3t_sym("printf"));
    static const char *const names[] = {"malloc", "free", "calloc", "realloc"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *o = hz3t_object_of(hz3t_sym(names[i]));
        if (strcmp(o, hz3_obj) != 0 || strcmp(o, libc_obj) == 0) {
            fprintf(stderr, "%s: %s resolves to %s, not hz3 (%s)\n", prog, names[i], o, hz3_obj);
            exit(3);
        }
    }
}

/* xorshift64* */
typedef struct { uint64_t s; } hz3t_rng;
static inline uint64_t hz3t_next(hz3t_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline hz3t_rng hz3t_seed(uint64_t a, uint64_t b) {
    hz3t_rng r = {(a * 0x9E3779B97F4A7C15ULL) ^ (b + 0xD1B54A32D192ED03ULL) ^ 0x5851F42D4C957F2DULL};
    if (r.s == 0) r.s = 1;
    for (int i = 0; i < 4; i++) hz3t_next(&r);
    return r;
}

/* Byte pattern keyed by (seed, index). */
static inline unsigned char hz3t_byte(uint64_t seed, size_t i) {
    uint64_t x = seed + i * 0x9E3779B97F4A7C15ULL;
    return (unsigned char)(x >> 56 ^ x >> 29 ^ i);
}
static inline void hz3t_fill(void *p, size_t n, uint64_t seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = hz3t_byte(seed, i);
}
/* Index of the first byte that differs from the pattern, or (size_t)-1. */
static inline size_t hz3t_check(const void *p, size_t n, uint64_t seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != hz3t_byte(seed, i)) return i;
    return (size_t)-1;
}
#define HZ3T_OK ((size_t)-1)

static inline int hz3t_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Resident set size in bytes (from /proc/self/statm). */
static inline size_t hz3t_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
