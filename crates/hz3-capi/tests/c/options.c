/* options.c: prints the options hz3 read from the environment (docs/options.md), after
 * checking that hz3 is the active malloc; a few large and small allocations run in between
 * so that a warning or a bad value cannot break allocation. */
#include "hz3_test.h"

typedef long long (*option_fn)(const char *);

int main(void) {
    hz3_require_active("options");
    for (int i = 0; i < 100; i++) {
        char *p = malloc(1 << 20);
        CHECK(p != NULL, "malloc(1 MiB)");
        memset(p, i, 1 << 20);
        free(p);
        free(malloc(100));
    }
    /* Looked up at run time: the plain build is linked with nothing but glibc. */
    option_fn hz3_option = (option_fn)hz3t_sym("hz3_option");
    CHECK(hz3_option != NULL, "hz3_option is exported");
    if (hz3_option == NULL) return 1;
    printf("purge_delay_ms=%lld purge_cap_mb=%lld large_cache_mb=%lld thp_min_mb=%lld "
           "show_stats=%lld verbose=%lld unknown=%lld\n",
           hz3_option("purge_delay_ms"), hz3_option("purge_cap_mb"),
           hz3_option("large_cache_mb"), hz3_option("thp_min_mb"), hz3_option("show_stats"),
           hz3_option("verbose"),
           hz3_option("no_such_option"));
    return hz3t_failures != 0;
}
