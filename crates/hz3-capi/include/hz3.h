/* hz3.h — hz3-specific functions of libhz3_capi (the standard malloc API is exported under
 * its usual names; every function is also available with an hz3_ prefix, e.g. hz3_malloc,
 * for programs that link hz3 next to another malloc with the `no-override` feature). The
 * library also exports the C++ operator new/delete family (all replaceable forms; not with
 * `no-override`), glibc's malloc_stats, mallinfo2 and mallinfo, and, built with
 * `--features checked`, is the guarded library (docs/reliability.md). */
#ifndef HZ3_H
#define HZ3_H
#include <stddef.h>
#include <stdio.h>
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
void hz3_malloc_stats(void);
void hz3_free_aligned_sized(void *p, size_t align, size_t size);

/* Return cached memory to the OS: flush this thread's cache, collect heaps of exited
 * threads, release empty segments. */
void hz3_collect(void);
/* The remote-free strategy of this build: "a", "b", "c", "d", "c-packed", "e", "e-batch",
 * "a-batch" or "a-cache" (the default). */
const char *hz3_strategy(void);
/* The current value of an option (docs/options.md), by its name without the HZ3_ prefix in
 * lower case: "purge_delay_ms", "purge_cap_mb", "large_cache_mb", "thp_min_mb", "show_stats",
 * "verbose";
 * -1 for an unknown name. */
long long hz3_option(const char *name);

/* Process statistics (docs/options.md, "Statistics"): what hz3 holds from the OS, counted on
 * slow paths only, in every build. hz3_stats_print writes the table to a stream (stderr if
 * NULL; the stream is flushed and the table written through its descriptor, so nothing is
 * allocated), hz3_stats_print_fd to a file descriptor; glibc's malloc_stats() writes the
 * same table to stderr. hz3_stat returns one figure by name: "mapped", "mapped_peak",
 * "mmap_calls", "munmap_calls", "dirty", "purged", "segments", "segments_cached",
 * "large_blocks", "large_bytes", "large_cached", "heaps_created", "heaps_pooled"
 * (bytes or counts); -1 for an unknown name.
 *
 * mallinfo2() (and mallinfo(), int fields saturating at INT_MAX) answer from the same
 * figures: arena = bytes of small segments (segments x 4 MiB); ordblks = segments in the
 * segment cache; hblks, hblkhd = live large blocks and their bytes; usmblks = peak bytes
 * mapped; fsmblks = bytes in the large-mapping cache; fordblks = free bytes known in the
 * small segments (dirty pages + cached segments); uordblks = arena - fordblks (an upper
 * bound of the small bytes in use: it counts blocks in thread caches and decommitted free
 * pages); smblks = keepcost = 0. */
void hz3_stats_print(FILE *out);
void hz3_stats_print_fd(int fd);
long long hz3_stat(const char *name);

#ifdef __cplusplus
}
#endif
#endif
