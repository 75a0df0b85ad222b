/* hz3.h — hz3-specific functions of libhz3_capi (the standard malloc API is exported under
 * its usual names; every function is also available with an hz3_ prefix, e.g. hz3_malloc,
 * for programs that link hz3 next to another malloc with the `no-override` feature). */
#ifndef HZ3_H
#define HZ3_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

void *hz3_malloc(size_t size);
void hz3_free(void *p);
void *hz3_calloc(size_t n, size_t size);
void *hz3_realloc(void *p, size_t size);
void *hz3_reallocarray(void *p, size_t n, size_t size);
int hz3_posix_memalign(void **out, size_t align, size_t size);
void *hz3_aligned_alloc(size_t align, size_t size);
void *hz3_memalign(size_t align, size_t size);
void *hz3_valloc(size_t size);
void *hz3_pvalloc(size_t size);
size_t hz3_malloc_usable_size(void *p);
void hz3_free_sized(void *p, size_t size);
void hz3_free_aligned_sized(void *p, size_t align, size_t size);

/* Return cached memory to the OS: flush this thread's cache, collect heaps of exited
 * threads, release empty segments. */
void hz3_collect(void);
/* The remote-free strategy of this build: "a", "b", "c", "d", "c-packed", "e", "e-batch",
 * "a-batch" or "a-cache" (the default). */
const char *hz3_strategy(void);
/* The current value of an option (docs/options.md), by its name without the HZ3_ prefix in
 * lower case: "purge_delay_ms", "purge_cap_mb", "large_cache_mb"; -1 for an unknown name. */
long long hz3_option(const char *name);

#ifdef __cplusplus
}
#endif
#endif
