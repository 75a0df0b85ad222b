/* plugin.c — a tiny shared library for the dlopen test: it allocates in its constructor,
 * frees in its destructor (checking that its blocks survived), and trades blocks with the
 * program that loaded it. */
#include "hz3_test.h"

#include <pthread.h>

#define NBLOCKS 64
static void *blocks[NBLOCKS];
static size_t sizes[NBLOCKS];
static char *name;

static size_t block_size(int i) { return i % 8 == 7 ? 300000 + (size_t)i * 1000 : 8 + (size_t)i * 97; }

__attribute__((constructor)) static void plugin_init(void) {
    for (int i = 0; i < NBLOCKS; i++) {
        sizes[i] = block_size(i);
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) abort();
        hz3t_fill(blocks[i], sizes[i], (uint64_t)i + 1000);
    }
    name = strdup("hz3-plugin");
}

/* Returns the number of damaged constructor blocks. */
int plugin_check(void) {
    int bad = 0;
    for (int i = 0; i < NBLOCKS; i++)
        if (hz3t_check(blocks[i], sizes[i], (uint64_t)i + 1000) != HZ3T_OK) bad++;
    if (!name || strcmp(name, "hz3-plugin") != 0) bad++;
    return bad;
}

__attribute__((destructor)) static void plugin_fini(void) {
    if (plugin_check() != 0) {
        static const char msg[] = "plugin: constructor blocks damaged at dlclose\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    for (int i = 0; i < NBLOCKS; i++) free(blocks[i]);
    free(name);
}

/* Dynamic TLS of a dlopen'ed module: glibc allocates it (and grows the DTV) with malloc on
 * first use in each thread, and frees it with free at thread exit and dlclose. */
static __thread char tls_buf[4096];
static __thread int tls_uses;

/* A block the program frees. */
void *plugin_alloc(size_t n) {
    tls_buf[tls_uses++ % sizeof tls_buf] = 1;
    void *p = malloc(n);
    if (p) memset(p, 0x6B, n);
    return p;
}

/* Frees a block the program allocated (realloc first: plugin code touching it). */
void plugin_free(void *p, size_t n) {
    void *q = realloc(p, n * 2);
    free(q ? q : p);
}

static void *plugin_thread(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    memset(tls_buf, 7, sizeof tls_buf); /* this thread's dynamic TLS block */
    void *v[32];
    for (int i = 0; i < 32; i++) v[i] = malloc(n + (size_t)i);
    for (int i = 0; i < 32; i += 2) free(v[i]);
    for (int i = 1; i < 32; i += 2) free(v[i]);
    return calloc(1, n); /* freed by the caller's thread */
}

/* Runs a thread created inside the plugin; returns its block (to be freed by the caller). */
void *plugin_thread_roundtrip(size_t n) {
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, plugin_thread, (void *)(uintptr_t)n) != 0) return NULL;
    pthread_join(t, &ret);
    return ret;
}
