/* fork.c — fork from a multithreaded parent (testing.md T8).
 *
 * usage: fork [FORKS]
 *
 * The parent runs 4 threads that allocate, free and hand blocks to each other continuously,
 * while the main thread forks FORKS times (default 20), each time while the threads are
 * mid-work. Every child arms alarm(60) as a watchdog (a deadlock on an allocator lock
 * inherited from a thread that does not exist in the child kills it with SIGALRM), then
 * allocates and frees (small, large, aligned, calloc, realloc), frees blocks the parent's
 * threads allocated, spawns a thread that allocates, sometimes forks a grandchild, and exits
 * 0. The parent reaps each child with waitpid and fails on any other outcome. */
#include "hz3_test.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NCHURN 4
#define NSLOTS 256
#define CHILD_DEADLINE_S 60

static atomic_int stop;
static _Atomic(uintptr_t) slots[NSLOTS];
static atomic_ulong churn_ops;

static size_t churn_size(hz3t_rng *r) {
    uint64_t x = hz3t_next(r) % 64;
    if (x == 0) return 300000 + hz3t_next(r) % 700000; /* large */
    if (x < 6) return 1024 + hz3t_next(r) % 60000;     /* medium */
    return 1 + hz3t_next(r) % 512;                     /* small */
}

static void *churn(void *arg) {
    hz3t_rng r = hz3t_seed(1234, (uint64_t)(uintptr_t)arg);
    void *local[64] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++) {
            size_t li = hz3t_next(&r) % 64;
            free(local[li]);
            size_t n = churn_size(&r);
            local[li] = malloc(n);
            if (local[li]) memset(local[li], (int)li, n < 256 ? n : 256);
            if (k % 4 == 0) { /* hand a block to whoever takes the slot: remote frees */
                void *b = malloc(churn_size(&r));
                void *old = (void *)atomic_exchange(&slots[hz3t_next(&r) % NSLOTS], (uintptr_t)b);
                free(old);
            }
            if (k % 16 == 0 && local[li]) {
                void *q = realloc(local[li], churn_size(&r));
                if (q) local[li] = q;
            }
        }
        atomic_fetch_add_explicit(&churn_ops, 64, memory_order_relaxed);
    }
    for (int k = 0; k < 64; k++) free(local[k]);
    return NULL;
}

static void *child_thread(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void *v[128];
    for (int round = 0; round < 4; round++) {
        for (int j = 0; j < 128; j++) {
            v[j] = malloc(n + (size_t)j * 37);
            if (!v[j]) return NULL;
            memset(v[j], 0x5C, n + (size_t)j * 37);
        }
        for (int j = 0; j < 128; j++) free(v[j]);
    }
    return malloc(4096); /* freed by the child's main thread: a remote free in the child */
}

static int child_main(int i) {
    alarm(CHILD_DEADLINE_S);
    hz3t_rng r = hz3t_seed(99, (uint64_t)i);
    void *v[256];
    for (int round = 0; round < 4; round++) {
        for (int j = 0; j < 256; j++) {
            size_t n = churn_size(&r);
            v[j] = malloc(n);
            if (!v[j]) return 10;
            hz3t_fill(v[j], n < 512 ? n : 512, (uint64_t)j);
        }
        for (int j = 0; j < 256; j++) free(v[j]);
    }
    /* Blocks of the parent's threads (their owners do not exist in the child). */
    for (int s = 0; s < NSLOTS; s++) free((void *)atomic_exchange(&slots[s], 0));
    unsigned char *z = calloc(1000, 10);
    if (!z) return 11;
    for (int k = 0; k < 10000; k++)
        if (z[k]) return 12;
    z = realloc(z, 500000);
    if (!z) return 13;
    free(z);
    void *a = NULL;
    if (posix_memalign(&a, 1 << 16, 1000) != 0 || !hz3t_aligned(a, 1 << 16)) return 14;
    free(a);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(64 + i)) != 0) return 15;
    void *ret = NULL;
    pthread_join(t, &ret);
    if (!ret) return 16;
    free(ret);
    char *s = NULL;
    if (asprintf(&s, "child %d", i) < 0) return 17;
    free(s);
    if (i % 5 == 0) { /* a grandchild: fork again from the (now multithreaded-once) child */
        pid_t g = fork();
        if (g < 0) return 18;
        if (g == 0) {
            alarm(CHILD_DEADLINE_S);
            void *p = malloc(12345);
            free(p);
            _exit(p ? 0 : 1);
        }
        int st = 0;
        while (waitpid(g, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 19;
    }
    (void)malloc_trim(0);
    return 0;
}

int main(int argc, char **argv) {
    hz3_require_active("fork");
    int forks = argc > 1 ? atoi(argv[1]) : 20;
    alarm(240); /* parent watchdog (e.g. a deadlock in the atfork handlers) */
    pthread_t th[NCHURN];
    for (int t = 0; t < NCHURN; t++)
        if (pthread_create(&th[t], NULL, churn, (void *)(uintptr_t)t) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    /* Blocks of the main thread, inherited by every child. */
    void *mine[32];
    for (int j = 0; j < 32; j++) mine[j] = malloc(100 * (size_t)(j + 1));

    int failures = 0;
    for (int i = 0; i < forks; i++) {
        /* Fork while the threads are mid-work: wait (without sleeping) until they progressed. */
        unsigned long seen = atomic_load(&churn_ops);
        while (atomic_load(&churn_ops) < seen + 256) sched_yield();
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            int rc = child_main(i);
            for (int j = 0; j < 32; j++) free(mine[j]);
            exit(rc);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR) {
                perror("waitpid");
                return 2;
            }
        }
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
            fprintf(stderr, "FAIL fork %d: child did not exit within %d s (deadlock)\n", i, CHILD_DEADLINE_S);
            failures++;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "FAIL fork %d: child killed by signal %d\n", i, WTERMSIG(st));
            failures++;
        } else if (WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAIL fork %d: child exited with status %d\n", i, WEXITSTATUS(st));
            failures++;
        }
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < NCHURN; t++) pthread_join(th[t], NULL);
    for (int j = 0; j < 32; j++) free(mine[j]);
    for (int s = 0; s < NSLOTS; s++) free((void *)atomic_exchange(&slots[s], 0));
    printf("fork: %d forks, %d failures, %lu parent ops\n", forks, failures, atomic_load(&churn_ops));
    return failures ? 1 : 0;
}
