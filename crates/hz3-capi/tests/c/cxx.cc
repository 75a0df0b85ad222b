// cxx.cc: the C++ operators of libhz3_capi. Built plain (run under LD_PRELOAD),
// linked against libhz3_capi.so and against libhz3_capi.a (-DHZ3_LINKED for the last two).
//
// 1. Every replaceable operator new/delete form resolves to hz3 (dlsym + dladdr, as
//    hz3_require_active does for malloc), and so does the address the program takes of
//    ::operator new.
// 2. The forms work: alignment, zero size, arrays with cookies, null deletes.
// 3. Failure follows the standard: the new-handler is called until it is removed, then
//    std::bad_alloc is thrown (plain and aligned); an exception thrown by the handler reaches
//    the caller; the nothrow forms return null (calling the handler, which may throw).
// 4. A sized-delete-heavy loop: objects of many sizes freed with sized delete, locally and by
//    other threads (remote sized frees), contents checked; standard containers churn.
//
// Prints "cxx: ok ..." lines; exits 0 if every check passed.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

static int failures;

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            std::fprintf(stderr, "FAIL %s:%d [%s]: ", __FILE__, __LINE__, #cond);   \
            std::fprintf(stderr, __VA_ARGS__);                                      \
            std::fputc('\n', stderr);                                               \
        }                                                                           \
    } while (0)

static std::size_t opaque(std::size_t x) {
    __asm__ volatile("" : "+r"(x));
    return x;
}

static const char *object_of(const void *p) {
    Dl_info info;
    if (p == nullptr || dladdr(p, &info) == 0 || info.dli_fname == nullptr) return "?";
    return info.dli_fname;
}

static const char *const kForms[] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
};

// 1. Resolution. Exits 3 if hz3 is not loaded at all (like hz3_require_active).
static void check_resolution() {
    void *hz3 = dlsym(RTLD_DEFAULT, "hz3_malloc");
    if (hz3 == nullptr) {
        std::fprintf(stderr, "cxx: hz3 is not loaded\n");
        std::exit(3);
    }
    std::string hz3_obj = object_of(hz3);
    std::string cxx_rt = object_of(dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv"));
    int ok = 0;
    for (const char *name : kForms) {
        std::string o = object_of(dlsym(RTLD_DEFAULT, name));
        CHECK(o == hz3_obj && o != cxx_rt, "%s resolves to %s, not hz3 (%s)", name, o.c_str(),
              hz3_obj.c_str());
        ok += o == hz3_obj;
    }
    void *(*pnew)(std::size_t) = &::operator new;
    void (*pdel_sized)(void *, std::size_t) noexcept = &::operator delete;
    CHECK(object_of((const void *)pnew) == hz3_obj, "&operator new is in %s",
          object_of((const void *)pnew));
    CHECK(object_of((const void *)pdel_sized) == hz3_obj, "&operator delete(void*, size_t) is in %s",
          object_of((const void *)pdel_sized));
    std::printf("cxx: ok resolution %d/20 forms in hz3\n", ok);
}

struct alignas(256) Wide {
    unsigned char b[300];
};

struct Counted {
    static int live;
    int v;
    Counted() : v(7) { live++; }
    ~Counted() { live--; }
};
int Counted::live = 0;

// 2. The forms work.
static void check_forms() {
    void *z1 = ::operator new(opaque(0));
    void *z2 = ::operator new(opaque(0));
    CHECK(z1 != nullptr && z2 != nullptr && z1 != z2, "operator new(0) gives unique pointers");
    ::operator delete(z1, opaque(0));
    ::operator delete(z2);

    for (std::size_t al = 1; al <= (std::size_t)1 << 22; al <<= 1) {
        std::size_t n = opaque(al * 3 + 5);
        void *p = ::operator new(n, std::align_val_t(al));
        CHECK(((std::uintptr_t)p & (al - 1)) == 0, "operator new(%zu, align %zu) misaligned", n, al);
        std::memset(p, 0x5a, n);
        ::operator delete(p, n, std::align_val_t(al));
        void *q = ::operator new[](n, std::align_val_t(al), std::nothrow);
        CHECK(q != nullptr && ((std::uintptr_t)q & (al - 1)) == 0, "nothrow aligned new[]");
        ::operator delete[](q, std::align_val_t(al), std::nothrow);
        void *r = ::operator new[](n, std::align_val_t(al));
        ::operator delete[](r, n, std::align_val_t(al));
        void *s = ::operator new(n, std::align_val_t(al), std::nothrow);
        ::operator delete(s, std::align_val_t(al));
    }

    Wide *w = new Wide;
    CHECK(((std::uintptr_t)w & 255) == 0, "new Wide (alignas 256) misaligned");
    delete w;
    Wide *wa = new Wide[5];
    CHECK(((std::uintptr_t)wa & 255) == 0, "new Wide[5] misaligned");
    delete[] wa;

    Counted *c = new Counted[1000];
    CHECK(Counted::live == 1000 && c[999].v == 7, "new Counted[1000]");
    delete[] c;
    CHECK(Counted::live == 0, "delete[] ran the destructors");

    int *n1 = new (std::nothrow) int(3);
    int *n2 = new (std::nothrow) int[100];
    CHECK(n1 && n2 && *n1 == 3, "nothrow new");
    ::operator delete(n1, std::nothrow);
    ::operator delete[](n2, std::nothrow);

    ::operator delete(nullptr);
    ::operator delete(nullptr, opaque(24));
    ::operator delete[](nullptr, opaque(24));
    ::operator delete(nullptr, opaque(24), std::align_val_t(64));
    std::printf("cxx: ok forms\n");
}

// 3. Failure.
static int handler_calls;
static void handler_then_remove() {
    if (++handler_calls == 2) std::set_new_handler(nullptr);
}
struct HandlerGaveUp {};
static void handler_throws_own() {
    handler_calls++;
    throw HandlerGaveUp{};
}
static void handler_throws_bad_alloc() {
    handler_calls++;
    throw std::bad_alloc();
}

static void check_failure() {
    const std::size_t huge = opaque(SIZE_MAX / 2 + 4096);

    std::set_new_handler(handler_then_remove);
    handler_calls = 0;
    bool caught = false;
    try {
        void *p = ::operator new(huge);
        std::fprintf(stderr, "unexpected %p\n", p);
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    CHECK(caught && handler_calls == 2, "new: handler twice then bad_alloc (caught %d, calls %d)",
          caught, handler_calls);

    std::set_new_handler(handler_then_remove);
    handler_calls = 0;
    caught = false;
    try {
        void *p = ::operator new[](huge, std::align_val_t(4096));
        std::fprintf(stderr, "unexpected %p\n", p);
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    CHECK(caught && handler_calls == 2, "aligned new[]: handler twice then bad_alloc (caught %d, calls %d)",
          caught, handler_calls);

    std::set_new_handler(handler_throws_own);
    handler_calls = 0;
    caught = false;
    try {
        void *p = ::operator new[](huge);
        std::fprintf(stderr, "unexpected %p\n", p);
    } catch (const HandlerGaveUp &) {
        caught = true;
    }
    CHECK(caught && handler_calls == 1, "a handler's own exception reaches the caller");

    std::set_new_handler(nullptr);
    caught = false;
    try {
        void *p = ::operator new(huge, std::align_val_t(64));
        std::fprintf(stderr, "unexpected %p\n", p);
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    CHECK(caught, "no handler: bad_alloc at once");

    void *q = ::operator new(huge, std::nothrow);
    CHECK(q == nullptr, "nothrow new, no handler: null");
    std::set_new_handler(handler_throws_bad_alloc);
    handler_calls = 0;
    q = ::operator new[](huge, std::nothrow);
    CHECK(q == nullptr && handler_calls == 1, "nothrow new[]: handler once, then null (calls %d)",
          handler_calls);
    handler_calls = 0;
    q = ::operator new(huge, std::align_val_t(128), std::nothrow);
    CHECK(q == nullptr && handler_calls == 1, "nothrow aligned new: handler once, then null (calls %d)",
          handler_calls);
    std::set_new_handler(nullptr);

    // Allocation still works after all that.
    std::vector<std::string> v(1000, std::string(100, 'x'));
    CHECK(v[999].size() == 100, "allocation after failures");
    std::printf("cxx: ok failure\n");
}

// 4. Sized delete, local and remote.
static unsigned char pattern(std::uint64_t seed, std::size_t i) {
    std::uint64_t x = seed + i * 0x9E3779B97F4A7C15ULL;
    return (unsigned char)(x >> 56 ^ x >> 29 ^ i);
}

static std::atomic<long> mismatches{0};

static std::size_t size_of(std::uint64_t r) {
    switch (r % 8) {
    case 0: return 1 + r % 16;
    case 1: case 2: case 3: return 16 + r % 240;
    case 4: case 5: return 256 + r % 3840;
    case 6: return 4096 + r % 60000;
    default: return 1 + r % 400000;  // some large blocks
    }
}

static void check_block(void *p, std::size_t n, std::uint64_t seed) {
    const unsigned char *b = (const unsigned char *)p;
    std::size_t step = n > 4096 ? 97 : 1;
    for (std::size_t i = 0; i < n; i += step)
        if (b[i] != pattern(seed, i)) {
            mismatches++;
            return;
        }
}

static void fill_block(void *p, std::size_t n, std::uint64_t seed) {
    unsigned char *b = (unsigned char *)p;
    std::size_t step = n > 4096 ? 97 : 1;
    for (std::size_t i = 0; i < n; i += step) b[i] = pattern(seed, i);
}

static void spin_until(std::atomic<int> &a, int v) {
    while (a.load() < v) std::this_thread::yield();
}

// Every thread: allocations freed by sized delete on the spot (plain and array forms, typed
// objects whose delete the compiler sizes), plus blocks it keeps; then, with every thread
// still alive, each frees the kept blocks of the next thread (remote sized frees).
static void sized_delete_loop(int threads, int rounds) {
    std::vector<std::vector<std::pair<void *, std::size_t>>> kept(threads);
    std::atomic<int> made{0}, freed{0};
    std::atomic<long> local{0}, remote{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) {
        ts.emplace_back([&, t] {
            std::uint64_t r = 0x9E3779B97F4A7C15ULL * (t + 1);
            for (int i = 0; i < rounds; i++) {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                std::size_t n = size_of(r);
                void *p = (r & 1) ? ::operator new(n) : ::operator new[](n);
                fill_block(p, n, r);
                check_block(p, n, r);
                if (r & 1)
                    ::operator delete(p, n);
                else
                    ::operator delete[](p, n);
                local++;
                auto *v = new std::vector<int>(r % 64, 3);
                auto *str = new std::string(r % 200, 'q');
                CHECK(v->size() == r % 64 && str->size() == r % 200, "containers");
                delete v;
                delete str;
                if (i % 4 == 0) {
                    std::size_t m = size_of(r >> 5) % 16384 + 1;
                    void *q = ::operator new(m);
                    fill_block(q, m, m * 31 + t);
                    kept[t].push_back({q, m});
                }
            }
            made++;
            spin_until(made, threads);
            int from = (t + 1) % threads;
            for (auto &b : kept[from]) {
                check_block(b.first, b.second, b.second * 31 + from);
                ::operator delete(b.first, b.second);
                remote++;
            }
            freed++;
            spin_until(freed, threads);
        });
    }
    for (auto &t : ts) t.join();
    std::map<int, std::string> m;
    for (int i = 0; i < 20000; i++) m[i * 7 % 10007] = std::to_string(i);
    CHECK(m.size() == 10007, "map");
    CHECK(mismatches.load() == 0, "%ld blocks lost their contents", mismatches.load());
    std::printf("cxx: ok sized delete loop (%d threads: %ld local, %ld remote sized deletes) mismatches=%ld\n",
                threads, local.load(), remote.load(), mismatches.load());
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 4;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 20000;
    check_resolution();
    check_forms();
    check_failure();
    sized_delete_loop(threads, rounds);
    return failures != 0;
}
