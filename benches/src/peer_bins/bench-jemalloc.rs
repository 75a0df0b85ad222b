hz3_bench::bench_main!(
    name = "jemalloc",
    alloc = tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc
);
