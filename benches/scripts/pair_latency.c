/* The local pair's latency through the C ABI: TSC ticks per malloc+free pair, the
 * minimum of 9 trials, for whatever malloc the process gets (run it under LD_PRELOAD to compare
 * libraries: hz3's libhz3_capi.so, libjemalloc.so.2, libmimalloc.so.2, or none for glibc).
 *
 *   cc -O2 -fno-builtin benches/scripts/pair_latency.c -o /tmp/pair_latency
 *   LD_PRELOAD=target/release/libhz3_capi.so /tmp/pair_latency 3000000 hz3
 *
 * free-run: malloc(64), free, repeat (pairs may overlap); ptr-chain: the next size is computed
 * from the previous pointer; data-chain: from a word written into the block and read back;
 * batch-8: 8 mallocs then 8 frees; mixed: sizes 16..512 from an xorshift generator.
 * -fno-builtin keeps the compiler from deleting malloc/free pairs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#define TRIALS 9

static double best(void (*f)(long), long n) {
  f(n / 10);
  double b = 1e30;
  for (int t = 0; t < TRIALS; t++) {
    uint64_t a = __rdtsc();
    f(n);
    uint64_t c = __rdtsc();
    double x = (double)(c - a) / n;
    if (x < b) b = x;
  }
  return b;
}

static void free_run(long n) {
  for (long i = 0; i < n; i++) {
    void *volatile p = malloc(64);
    free(p);
  }
}

static void ptr_chain(long n) {
  size_t s = 64;
  for (long i = 0; i < n; i++) {
    char *p = malloc(s);
    s = 64 + ((uintptr_t)p >> 63);
    free(p);
  }
}

static void data_chain(long n) {
  size_t s = 64;
  for (long i = 0; i < n; i++) {
    volatile uint64_t *p = malloc(s);
    p[1] = 0;
    s = 64 + (p[1] & 16);
    free((void *)p);
  }
}

static void batch8(long n) {
  void *ps[8];
  for (long i = 0; i < n / 8; i++) {
    for (int k = 0; k < 8; k++) {
      ps[k] = malloc(64);
      __asm__ volatile("" ::"r"(ps[k]));
    }
    for (int k = 7; k >= 0; k--) free(ps[k]);
  }
}

static void mixed(long n) {
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    void *volatile p = malloc(16 + (x % 497));
    free(p);
  }
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 3000000;
  printf("%-10s free-run %.1f ptr-chain %.1f data-chain %.1f batch-8 %.1f mixed %.1f\n",
         argc > 2 ? argv[2] : "?", best(free_run, n), best(ptr_chain, n), best(data_chain, n),
         best(batch8, n), best(mixed, n));
  return 0;
}
