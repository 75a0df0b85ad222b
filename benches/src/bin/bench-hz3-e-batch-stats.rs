hz3_bench::hz3_bin!(hz3_e_batch, stats);
