hz3_bench::bench_main!(
    name = "snmalloc",
    alloc = snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc
);
