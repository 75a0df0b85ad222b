//! hz3-bench: the workloads of `cargo xtask bench-matrix` and one binary per allocator.
//!
//! Each `bench-<allocator>` binary installs its allocator as `#[global_allocator]`, runs one
//! workload (see [`workloads`]) and prints one JSON line: the metric, its unit, peak RSS, page
//! faults and CPU time (see [`rusage`]) and, for the hz3 `-stats` binaries, the stats snapshot. xtask runs them as fresh processes, interleaved.
//! See docs/bench-matrix.md.

pub mod allocators;
pub mod callgrind;
pub mod catalogue;
pub mod cli;
pub mod params;
pub mod report;
pub mod rng;
pub mod rss;
pub mod rusage;
pub mod workloads;

pub use workloads::{Budget, Outcome, Params, Workload};

/// Generates `main` for a bench binary whose global allocator is `$ty` (initialised by `$init`).
///
/// ```ignore
/// hz3_bench::bench_main!(name = "system", alloc = std::alloc::System = std::alloc::System);
/// ```
/// With `stats = <fn() -> String>` the binary also prints that snapshot (the `Debug` text of
/// `hz3_alloc::Stats`) as JSON.
#[macro_export]
macro_rules! bench_main {
    (name = $name:expr, alloc = $ty:ty = $init:expr $(,)?) => {
        #[global_allocator]
        static GLOBAL: $ty = $init;
        fn main() {
            ::std::process::exit($crate::cli::main($name, ::core::option::Option::None));
        }
    };
    (name = $name:expr, alloc = $ty:ty = $init:expr, stats = $stats:expr $(,)?) => {
        #[global_allocator]
        static GLOBAL: $ty = $init;
        fn main() {
            let stats: fn() -> ::std::string::String = $stats;
            ::std::process::exit($crate::cli::main(
                $name,
                ::core::option::Option::Some(stats),
            ));
        }
    };
}

/// `main` for the binary of one hz3 strategy from [`allocators`]: `hz3_bin!(hz3_c)` is the timed
/// pass (config `Fast`), `hz3_bin!(hz3_c, stats)` the stats pass (config `WithStats`).
#[macro_export]
macro_rules! hz3_bin {
    ($module:ident) => {
        $crate::bench_main!(
            name = $crate::allocators::$module::NAME,
            alloc = $crate::allocators::$module::FastAlloc =
                $crate::allocators::$module::FastAlloc::new()
        );
    };
    ($module:ident, stats) => {
        $crate::bench_main!(
            name = $crate::allocators::$module::NAME,
            alloc = $crate::allocators::$module::StatsAlloc =
                $crate::allocators::$module::StatsAlloc::new(),
            stats = || ::std::format!("{:?}", $crate::allocators::$module::StatsAlloc::stats())
        );
    };
}
