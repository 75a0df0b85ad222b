hz3_bench::hz3_bin!(hz3_a_cache);
