/* Bin shapes for the local pair, away from the allocator: six toy thread caches,
 * each behind a thread-local heap pointer with never-inlined alloc/free (as hz3's C library is
 * reached), timed with rdtsc in four loops. TSC ticks per pair, the minimum of 9 trials; every
 * shape is measured twice (the first pass also warms up).
 *
 *   cc -O2 benches/scripts/bin_shapes.c -o /tmp/bin_shapes && /tmp/bin_shapes 3000000
 *
 * Shapes: V0 one intrusive LIFO with count and limit (hz3's Bin); V1 two lists, allocation from
 * one, frees onto the other (mimalloc's free/local_free), swapped when the first is empty; V2 a
 * LIFO array of pointers whose top pointer is the count (jemalloc's cache_bin); V3 a FIFO ring
 * with separate allocation and free indexes (no loop-carried store shared by alloc and free);
 * V4 one list with count and a constant limit; V5 V1 with a down-counter of room.
 * Loops: fixed (alloc+free of one class, pairs may overlap: local-fixed), chain (the next class
 * is read back from the block: local-chain), mixed (classes from an xorshift generator),
 * batch8 (8 allocations, then 8 frees).
 * Figures and what they say: docs/architecture.md, "The pair's latency". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#define NC 40
#define CAP 256
#define TRIALS 9
typedef struct blk { struct blk *next; } blk;

/* ---- slab source: a pool of blocks per class (slow path) ---- */
static char *arena;
static size_t arena_off;
static __attribute__((noinline)) void *carve(size_t c) {
  void *p = arena + arena_off;
  arena_off += (c + 1) * 16;
  return p;
}
static blk *spare[NC];
static __attribute__((noinline)) void *slow_get(size_t c) {
  blk *b = spare[c];
  if (b) { spare[c] = b->next; return b; }
  return carve(c);
}
static __attribute__((noinline)) void slow_put(size_t c, void *p) {
  blk *b = p; b->next = spare[c]; spare[c] = b;
}

/* ---- V0: one list, count, limit (hz3 today) ---- */
typedef struct { blk *head; uint32_t count, limit; } bin0;
typedef struct { bin0 bins[NC]; } heap0;
static __thread heap0 *h0;
static __attribute__((noinline)) void *a0(size_t c) {
  bin0 *b = &h0->bins[c];
  blk *p = b->head;
  if (__builtin_expect(p != 0, 1)) { b->head = p->next; b->count--; return p; }
  return slow_get(c);
}
static __attribute__((noinline)) void f0(void *p, size_t c) {
  bin0 *b = &h0->bins[c];
  if (__builtin_expect(b->count >= b->limit, 0)) { slow_put(c, p); return; }
  ((blk *)p)->next = b->head; b->head = p; b->count++;
}

/* ---- V1: two lists (alloc list, free list), free list counted only ---- */
typedef struct { blk *ahead; blk *fhead; uint32_t fcount, limit; } bin1;
typedef struct { bin1 bins[NC]; } heap1;
static __thread heap1 *h1;
static __attribute__((noinline)) void *a1_slow(bin1 *b, size_t c) {
  if (b->fhead) {
    blk *p = b->fhead; b->ahead = p->next; b->fhead = 0; b->fcount = 0; return p;
  }
  return slow_get(c);
}
static __attribute__((noinline)) void *a1(size_t c) {
  bin1 *b = &h1->bins[c];
  blk *p = b->ahead;
  if (__builtin_expect(p != 0, 1)) { b->ahead = p->next; return p; }
  return a1_slow(b, c);
}
static __attribute__((noinline)) void f1(void *p, size_t c) {
  bin1 *b = &h1->bins[c];
  if (__builtin_expect(b->fcount >= b->limit, 0)) { slow_put(c, p); return; }
  ((blk *)p)->next = b->fhead; b->fhead = p; b->fcount++;
}

/* ---- V2: LIFO pointer stack (jemalloc cache_bin style: the pointer is the count) ---- */
typedef struct { void **sp; void **full; void **empty; void *slots[CAP]; } bin2;
typedef struct { bin2 bins[NC]; } heap2;
static __thread heap2 *h2;
static __attribute__((noinline)) void *a2(size_t c) {
  bin2 *b = &h2->bins[c];
  void **sp = b->sp;
  if (__builtin_expect(sp != b->empty, 1)) { void *p = *sp; b->sp = sp + 1; return p; }
  return slow_get(c);
}
static __attribute__((noinline)) void f2(void *p, size_t c) {
  bin2 *b = &h2->bins[c];
  void **sp = b->sp;
  if (__builtin_expect(sp == b->full, 0)) { slow_put(c, p); return; }
  sp--; *sp = p; b->sp = sp;
}

/* ---- V3: FIFO ring, separate alloc/free indexes ---- */
typedef struct { uint32_t tail; uint32_t pad0[15]; uint32_t head; uint32_t pad1[15]; void *slots[CAP]; } bin3;
typedef struct { bin3 bins[NC]; } heap3;
static __thread heap3 *h3;
static __attribute__((noinline)) void *a3(size_t c) {
  bin3 *b = &h3->bins[c];
  uint32_t t = b->tail;
  if (__builtin_expect(t != b->head, 1)) { void *p = b->slots[t % CAP]; b->tail = t + 1; return p; }
  return slow_get(c);
}
static __attribute__((noinline)) void f3(void *p, size_t c) {
  bin3 *b = &h3->bins[c];
  uint32_t h = b->head;
  if (__builtin_expect(h - b->tail >= CAP, 0)) { slow_put(c, p); return; }
  b->slots[h % CAP] = p; b->head = h + 1;
}

/* ---- V4: one list, count only (limit a constant) ---- */
typedef struct { blk *head; uint64_t count; } bin4;
typedef struct { bin4 bins[NC]; } heap4;
static __thread heap4 *h4;
static __attribute__((noinline)) void *a4(size_t c) {
  bin4 *b = &h4->bins[c];
  blk *p = b->head;
  if (__builtin_expect(p != 0, 1)) { b->head = p->next; b->count--; return p; }
  return slow_get(c);
}
static __attribute__((noinline)) void f4(void *p, size_t c) {
  bin4 *b = &h4->bins[c];
  if (__builtin_expect(b->count >= CAP, 0)) { slow_put(c, p); return; }
  ((blk *)p)->next = b->head; b->head = p; b->count++;
}

/* ---- V5: two lists, no counting at all on the alloc side, free list length bounded by a
 * down-counter stored beside the free head ---- */
typedef struct { blk *fhead; uint64_t room; blk *ahead; uint64_t limit; } bin5;
typedef struct { bin5 bins[NC]; } heap5;
static __thread heap5 *h5;
static __attribute__((noinline)) void *a5_slow(bin5 *b, size_t c) {
  if (b->fhead) {
    blk *p = b->fhead; b->ahead = p->next; b->fhead = 0; b->room = b->limit; return p;
  }
  return slow_get(c);
}
static __attribute__((noinline)) void *a5(size_t c) {
  bin5 *b = &h5->bins[c];
  blk *p = b->ahead;
  if (__builtin_expect(p != 0, 1)) { b->ahead = p->next; return p; }
  return a5_slow(b, c);
}
static __attribute__((noinline)) void f5(void *p, size_t c) {
  bin5 *b = &h5->bins[c];
  if (__builtin_expect(b->room == 0, 0)) { slow_put(c, p); return; }
  ((blk *)p)->next = b->fhead; b->fhead = p; b->room--;
}

typedef void *(*af)(size_t);
typedef void (*ff)(void *, size_t);
static af A;
static ff F;

static void fixed(long n) {
  for (long i = 0; i < n; i++) { void *volatile p = A(4); F(p, 4); }
}
static void chain(long n) {
  size_t c = 4;
  for (long i = 0; i < n; i++) {
    volatile uint64_t *p = A(c);
    p[1] = 0;
    c = 4 + (p[1] & 1);
    F((void *)p, c);
  }
}
static void mixed(long n) {
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t c = 1 + (x % 32);
    void *volatile p = A(c);
    F(p, c);
  }
}
static void batch8(long n) {
  void *ps[8];
  for (long i = 0; i < n / 8; i++) {
    for (int k = 0; k < 8; k++) { ps[k] = A(4); __asm__ volatile("" ::"r"(ps[k])); }
    for (int k = 7; k >= 0; k--) F(ps[k], 4);
  }
}
static double best(void (*f)(long), long n) {
  f(n / 10);
  double b = 1e30;
  for (int t = 0; t < TRIALS; t++) {
    uint64_t a = __rdtsc(); f(n); uint64_t c = __rdtsc();
    double x = (double)(c - a) / n;
    if (x < b) b = x;
  }
  return b;
}
static void *zalloc(size_t n) { void *p = aligned_alloc(64, (n + 63) & ~63ul); memset(p, 0, n); return p; }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 5000000;
  arena = zalloc(1 << 28);
  h0 = zalloc(sizeof(heap0)); for (int c = 0; c < NC; c++) h0->bins[c].limit = CAP;
  h1 = zalloc(sizeof(heap1)); for (int c = 0; c < NC; c++) h1->bins[c].limit = CAP;
  h2 = zalloc(sizeof(heap2));
  for (int c = 0; c < NC; c++) { bin2 *b = &h2->bins[c]; b->empty = b->slots + CAP; b->full = b->slots; b->sp = b->empty; }
  h3 = zalloc(sizeof(heap3));
  h4 = zalloc(sizeof(heap4));
  h5 = zalloc(sizeof(heap5)); for (int c = 0; c < NC; c++) h5->bins[c].limit = h5->bins[c].room = CAP;
  struct { const char *name; af a; ff f; } v[] = {
      {"V0 list+count+limit", a0, f0}, {"V1 two lists, fcount", a1, f1},
      {"V2 LIFO ptr stack", a2, f2},   {"V3 FIFO ring", a3, f3},
      {"V4 list+count", a4, f4},       {"V5 two lists, room", a5, f5},
  };
  for (int r = 0; r < 2; r++)
    for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) {
      A = v[i].a; F = v[i].f;
      printf("%-22s fixed %5.1f chain %5.1f mixed %5.1f batch8 %5.1f\n", v[i].name, best(fixed, n),
             best(chain, n), best(mixed, n), best(batch8, n));
    }
  return 0;
}
