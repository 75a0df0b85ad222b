/* stats.c: the statistics a C program sees: mallinfo2/mallinfo, malloc_stats,
 * hz3_stats_print (to a stream with a descriptor, and to one without), hz3_stats_print_fd and
 * hz3_stat, checked against what the program did: a large block shows up in hblks/hblkhd and
 * large_blocks while it lives, small blocks make segments (arena), threads make heaps that
 * are pooled when they exit, malloc_trim(0) empties the caches. */
#include <malloc.h>
#include <pthread.h>
#include "hz3_test.h"

/* mallinfo (the int version) is deprecated in glibc; it is tested on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef long long (*stat_fn)(const char *);
typedef void (*print_fn)(FILE *);
typedef void (*print_fd_fn)(int);

static stat_fn hz3_stat;

static void *worker(void *arg) {
    (void)arg;
    void *p[1000];
    for (int i = 0; i < 1000; i++) p[i] = malloc(64 + i);
    for (int i = 0; i < 1000; i++) free(p[i]);
    return NULL;
}

int main(void) {
    hz3_require_active("stats");
    hz3_stat = (stat_fn)hz3t_sym("hz3_stat");
    print_fn hz3_stats_print = (print_fn)hz3t_sym("hz3_stats_print");
    print_fd_fn hz3_stats_print_fd = (print_fd_fn)hz3t_sym("hz3_stats_print_fd");
    CHECK(hz3_stat && hz3_stats_print && hz3_stats_print_fd, "hz3_stat* are exported");
    if (!hz3_stat || !hz3_stats_print || !hz3_stats_print_fd) return 1;
    CHECK(hz3_stat("no_such_stat") == -1 && hz3_stat(NULL) == -1, "unknown name: -1");

    /* Small blocks: at least one segment, counted in arena. */
    void *small[4000];
    for (int i = 0; i < 4000; i++) small[i] = malloc(16 + i % 2000);
    struct mallinfo2 a = mallinfo2();
    CHECK(hz3_stat("segments") >= 1, "segments %lld", hz3_stat("segments"));
    CHECK(a.arena >= (size_t)4 << 20 && a.arena == (size_t)hz3_stat("segments") << 22,
          "arena %zu = segments x 4 MiB", a.arena);
    CHECK(a.uordblks + a.fordblks == a.arena, "uordblks + fordblks == arena");
    CHECK(hz3_stat("mapped") >= (long long)a.arena, "mapped %lld >= arena %zu", hz3_stat("mapped"), a.arena);
    CHECK(hz3_stat("mapped_peak") >= hz3_stat("mapped"), "peak >= mapped");
    CHECK(hz3_stat("heaps_created") >= 1, "heaps_created");

    /* A large block lives in hblks/hblkhd and large_blocks/large_bytes. */
    long long blocks0 = hz3_stat("large_blocks"), bytes0 = hz3_stat("large_bytes");
    size_t hblks0 = a.hblks;
    char *big = malloc(3 << 20);
    CHECK(big != NULL, "malloc(3 MiB)");
    memset(big, 1, 3 << 20);
    struct mallinfo2 b = mallinfo2();
    CHECK(b.hblks == hblks0 + 1 && b.hblkhd >= (size_t)bytes0 + (3 << 20), "hblks %zu hblkhd %zu", b.hblks, b.hblkhd);
    CHECK(hz3_stat("large_blocks") == blocks0 + 1, "large_blocks");
    CHECK(hz3_stat("large_bytes") >= bytes0 + (3 << 20), "large_bytes");
    big = realloc(big, 9 << 20);
    CHECK(big != NULL && hz3_stat("large_blocks") == blocks0 + 1 && hz3_stat("large_bytes") >= bytes0 + (9 << 20),
          "large_bytes follows realloc: %lld", hz3_stat("large_bytes"));
    struct mallinfo m = mallinfo();
    CHECK(m.hblks == (int)mallinfo2().hblks, "mallinfo agrees with mallinfo2");
    free(big);
    CHECK(hz3_stat("large_blocks") == blocks0 && hz3_stat("large_bytes") == bytes0, "large block freed");

    /* Threads make heaps; an exited thread's heap waits in the pool. */
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK(hz3_stat("heaps_created") >= 2 && hz3_stat("heaps_pooled") >= 1, "heaps created %lld pooled %lld",
          hz3_stat("heaps_created"), hz3_stat("heaps_pooled"));

    /* Everything freed and trimmed: no dirty pages, nothing cached. */
    for (int i = 0; i < 4000; i++) free(small[i]);
    malloc_trim(0);
    CHECK(hz3_stat("dirty") == 0 && hz3_stat("segments_cached") == 0 && hz3_stat("large_cached") == 0,
          "after malloc_trim: dirty %lld segments_cached %lld large_cached %lld", hz3_stat("dirty"),
          hz3_stat("segments_cached"), hz3_stat("large_cached"));
    CHECK(hz3_stat("purged") > 0 && hz3_stat("munmap_calls") > 0, "purged %lld munmap %lld",
          hz3_stat("purged"), hz3_stat("munmap_calls"));

    /* The printers: stdout keeps its order; a stream without a descriptor gets the table too. */
    printf("before table\n");
    hz3_stats_print(stdout);
    printf("after table\n");
    fflush(stdout);
    char mem[8192];
    memset(mem, 0, sizeof mem);
    FILE *f = fmemopen(mem, sizeof mem - 1, "w");
    CHECK(f != NULL, "fmemopen");
    if (f) {
        hz3_stats_print(f);
        fclose(f);
        CHECK(strstr(mem, "hz3: process statistics") && strstr(mem, "hz3:   mapped"), "table in memory: %s", mem);
    }
    malloc_stats();            /* stderr */
    hz3_stats_print_fd(2);     /* stderr again */
    return hz3t_failures != 0;
}
