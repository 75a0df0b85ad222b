/* misuse.c: one misuse of the C allocation API per run, named by argv[1]. Under the
 * guarded library (`--features checked`) every case must abort (SIGABRT) with hz3's fixed
 * line; the cases include every one glibc's malloc detects (double free into its cache or
 * fast bins, invalid/misaligned/interior pointers, realloc of an invalid pointer). "valid"
 * misuses nothing and exits 0. Reaching the end of a misuse case exits 3 (undetected). */
#include <pthread.h>
#include <sys/mman.h>
#include "hz3_test.h"

static char global_buf[256];

static void *free_in_thread(void *p) {
    free(p);
    return NULL;
}

typedef void *(*new_fn)(size_t);
typedef void (*sized_delete_fn)(void *, size_t);

int main(int argc, char **argv) {
    hz3_require_active("misuse");
    const char *c = argc > 1 ? argv[1] : "";
    /* OPAQUE: keep the compiler from seeing (and warning about) the misuse. */
    if (!strcmp(c, "valid")) {
        void *p[1000];
        for (int i = 0; i < 1000; i++) p[i] = malloc(OPAQUE(1 + i * 37));
        for (int i = 0; i < 1000; i += 2) p[i] = realloc(p[i], OPAQUE(i * 53 + 1));
        for (int i = 0; i < 1000; i++) free(p[i]);
        free(NULL);
        void *big = malloc(OPAQUE(5 << 20));
        big = realloc(big, OPAQUE(9 << 20));
        free(big);
        return 0;
    } else if (!strcmp(c, "double-free")) {
        char *p = malloc(OPAQUE(64));
        free(p);
        free((void *)OPAQUE(p));
    } else if (!strcmp(c, "double-free-after-another")) {
        /* glibc's fast-bin check: free(a); free(b); free(a). */
        char *a = malloc(OPAQUE(64)), *b = malloc(OPAQUE(64));
        free(a);
        free(b);
        free((void *)OPAQUE(a));
    } else if (!strcmp(c, "double-free-remote")) {
        char *p = malloc(OPAQUE(200));
        pthread_t t;
        pthread_create(&t, NULL, free_in_thread, p);
        pthread_join(t, NULL);
        free((void *)OPAQUE(p));
    } else if (!strcmp(c, "double-free-large")) {
        char *p = malloc(OPAQUE(1 << 20));
        free(p);
        free((void *)OPAQUE(p));
    } else if (!strcmp(c, "interior")) {
        char *p = malloc(OPAQUE(256));
        free((void *)OPAQUE(p + 16));
    } else if (!strcmp(c, "interior-large")) {
        char *p = malloc(OPAQUE(1 << 20));
        free((void *)OPAQUE(p + 8));
    } else if (!strcmp(c, "misaligned")) {
        char *p = malloc(OPAQUE(256));
        free((void *)OPAQUE(p + 1));
    } else if (!strcmp(c, "stack")) {
        long x[8] = {0};
        free((void *)OPAQUE(x));
    } else if (!strcmp(c, "global")) {
        free((void *)OPAQUE(global_buf));
    } else if (!strcmp(c, "foreign-glibc")) {
        /* A block of glibc's own malloc (libc.so.6's definition, not the interposed one). */
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        void *(*glibc_malloc)(size_t) = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
        if (glibc_malloc == NULL || (void *)glibc_malloc == (void *)malloc) return 4;
        free(glibc_malloc(OPAQUE(64)));
    } else if (!strcmp(c, "foreign-mmap")) {
        char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        free((void *)OPAQUE(m + 64));
    } else if (!strcmp(c, "realloc-freed")) {
        char *p = malloc(OPAQUE(64));
        free(p);
        p = realloc((void *)OPAQUE(p), OPAQUE(60));
    } else if (!strcmp(c, "realloc-freed-large")) {
        char *p = malloc(OPAQUE(1 << 20));
        free(p);
        p = realloc((void *)OPAQUE(p), OPAQUE(2 << 20));
    } else if (!strcmp(c, "realloc-interior")) {
        char *p = malloc(OPAQUE(256));
        p = realloc((void *)OPAQUE(p + 16), OPAQUE(100));
    } else if (!strcmp(c, "realloc-stack")) {
        long x[8] = {0};
        void *p = realloc((void *)OPAQUE(x), OPAQUE(100));
        (void)p;
    } else if (!strcmp(c, "realloc-global")) {
        void *p = realloc((void *)OPAQUE(global_buf), OPAQUE(100));
        (void)p;
    } else if (!strcmp(c, "use-after-free-write")) {
        /* Writes over the link of a block in the thread cache. */
        void **p = malloc(OPAQUE(96)), **q = malloc(OPAQUE(96));
        free(q);
        free(p);
        *(void **)OPAQUE(p) = (void *)0xdeadbeef0000;
        (void)malloc(OPAQUE(96));
        (void)malloc(OPAQUE(96));
    } else if (!strcmp(c, "sized-delete-wrong-size")) {
        /* C++ sized delete given another size class than operator new's. */
        new_fn op_new = (new_fn)hz3t_sym("_Znwm");
        sized_delete_fn op_delete = (sized_delete_fn)hz3t_sym("_ZdlPvm");
        if (!op_new || !op_delete) return 4;
        void *p = op_new(OPAQUE(64));
        op_delete(p, OPAQUE(4096));
    } else {
        fprintf(stderr, "misuse: unknown case %s\n", c);
        return 2;
    }
    fprintf(stderr, "misuse: %s was not detected\n", c);
    return 3;
}
