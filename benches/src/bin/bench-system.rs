hz3_bench::bench_main!(
    name = "system",
    alloc = std::alloc::System = std::alloc::System
);
