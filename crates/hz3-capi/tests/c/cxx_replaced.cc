// cxx_replaced.cc: a program that replaces only operator new(size_t) and operator
// delete(void *) itself (with a header in front of each block, as tracking allocators do),
// run with hz3 preloaded or linked. hz3 must step aside for C++: every other form
// (sized delete, arrays, nothrow) must end in the program's own operators, as the C++
// runtime's defaults do, never in hz3's sized free of a pointer hz3 did not hand out.
// Counts the program's operator calls; exits 0 if every new was matched by its delete.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <new>
#include <string>
#include <vector>

static std::atomic<long> news{0}, deletes{0};
static const std::uint64_t kMagic = 0xfeedface12345678ULL;

void *operator new(std::size_t n) {
    news++;
    char *b = (char *)std::malloc(n + 16);
    if (b == nullptr) throw std::bad_alloc();
    *(std::uint64_t *)b = kMagic;
    return b + 16;
}

void operator delete(void *p) noexcept {
    if (p == nullptr) return;
    char *b = (char *)p - 16;
    if (*(std::uint64_t *)b != kMagic) {
        std::fprintf(stderr, "cxx_replaced: operator delete got a block it did not make\n");
        std::abort();
    }
    *(std::uint64_t *)b = 0;
    deletes++;
    std::free(b);
}

struct S {
    long a[10];
};

int main() {
    if (dlsym(RTLD_DEFAULT, "hz3_malloc") == nullptr) {
        std::fprintf(stderr, "cxx_replaced: hz3 is not loaded\n");
        return 3;
    }
    for (int i = 0; i < 10000; i++) {
        S *s = new S();           // the program's new
        delete s;                 // sized delete (hz3's symbol) -> the program's delete
        int *a = new int[i % 50 + 1];  // new[] (hz3's symbol) -> the program's new
        delete[] a;               // delete[] -> the program's delete
        S *t = new (std::nothrow) S();  // nothrow new -> the program's new
        ::operator delete(t, std::nothrow);
        std::vector<std::string> v(i % 8, std::string(40, 'x'));
    }
    long n = news.load(), d = deletes.load();
    std::printf("cxx_replaced: news=%ld deletes=%ld\n", n, d);
    return (n >= 40000 && n == d) ? 0 : 1;
}
