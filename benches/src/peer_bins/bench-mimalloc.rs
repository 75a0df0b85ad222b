hz3_bench::bench_main!(
    name = "mimalloc",
    alloc = mimalloc::MiMalloc = mimalloc::MiMalloc
);
