/* dlopen_main.c — loads and unloads plugin.so (path in argv[1]) many times; the plugin
 * allocates in its constructor and frees in its destructor, and blocks cross between the
 * program and the plugin in both directions, also through a thread the plugin creates. */
#include "hz3_test.h"

int main(int argc, char **argv) {
    hz3_require_active("dlopen_main");
    if (argc < 2) {
        fprintf(stderr, "usage: dlopen_main PLUGIN.so [ITERATIONS]\n");
        return 2;
    }
    int iters = argc > 2 ? atoi(argv[2]) : 50;
    alarm(120);
    int failures = 0;
    for (int i = 0; i < iters; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "FAIL dlopen: %s\n", dlerror());
            return 1;
        }
        int (*check)(void) = (int (*)(void))dlsym(h, "plugin_check");
        void *(*palloc)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_alloc");
        void (*pfree)(void *, size_t) = (void (*)(void *, size_t))dlsym(h, "plugin_free");
        void *(*pthr)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_thread_roundtrip");
        if (!check || !palloc || !pfree || !pthr) {
            fprintf(stderr, "FAIL dlsym: %s\n", dlerror());
            return 1;
        }
        size_t n = 10 + (size_t)i * 1234;
        unsigned char *p = palloc(n);
        if (!p) {
            fprintf(stderr, "FAIL plugin_alloc(%zu) NULL\n", n);
            failures++;
        } else {
            for (size_t k = 0; k < n; k++)
                if (p[k] != 0x6B) {
                    fprintf(stderr, "FAIL plugin block byte %zu\n", k);
                    failures++;
                    break;
                }
            free(p);
        }
        void *q = malloc(n);
        if (q) memset(q, 1, n);
        pfree(q, n);
        unsigned char *z = pthr(100 + (size_t)i);
        if (!z) {
            fprintf(stderr, "FAIL plugin thread roundtrip\n");
            failures++;
        } else {
            for (size_t k = 0; k < 100 + (size_t)i; k++)
                if (z[k]) {
                    fprintf(stderr, "FAIL plugin thread calloc byte %zu\n", k);
                    failures++;
                    break;
                }
            free(z);
        }
        int bad = check();
        if (bad) {
            fprintf(stderr, "FAIL iteration %d: %d plugin blocks damaged\n", i, bad);
            failures++;
        }
        if (dlclose(h) != 0) {
            fprintf(stderr, "FAIL dlclose: %s\n", dlerror());
            failures++;
        }
    }
    printf("dlopen: %d iterations, %d failures\n", iters, failures);
    return failures ? 1 : 0;
}
