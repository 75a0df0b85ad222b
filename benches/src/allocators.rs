//! The allocators under benchmark.
//!
//! **The hz3 strategies come from the allocator's own list**, [`hz3_alloc::for_each_strategy!`]
//! (crates/hz3-alloc/src/catalogue.rs): adding a strategy there adds it here. `cargo xtask
//! bench-matrix` (or `cargo xtask sync-bins`) then learns the list from `bench-system --list` and
//! writes what Cargo needs — the one-line binaries `src/bin/bench-hz3-<name>.rs` and
//! `src/bin/bench-hz3-<name>-stats.rs` and their `[[bin]]` entries in the generated block of
//! Cargo.toml — and picks the new allocator up in every table; `cargo test -p hz3-bench -p xtask`
//! checks that the list, the files and the manifest agree.

/// Generates, for each strategy of the catalogue, a module with `NAME`, `FastAlloc` (config
/// `Fast`, the timed pass) and `StatsAlloc` (config `WithStats`, the stats pass), plus the [`HZ3`]
/// table. Called by [`hz3_alloc::for_each_strategy!`].
macro_rules! hz3_strategies {
    ($(($module:ident, $name:literal, $short:literal, $strategy:ident, $alias:ident, $doc:literal);)*) => {
        $(
            #[doc = $doc]
            pub mod $module {
                pub const NAME: &str = $name;
                pub type FastAlloc =
                    hz3_alloc::Hz3<hz3_alloc::strategy::$strategy, hz3_alloc::config::Fast>;
                pub type StatsAlloc =
                    hz3_alloc::Hz3<hz3_alloc::strategy::$strategy, hz3_alloc::config::WithStats>;
            }
        )*
        /// Every hz3 strategy: (module, allocator name, strategy type), in table order.
        pub const HZ3: &[Hz3Entry] = &[
            $(Hz3Entry { module: stringify!($module), name: $name, strategy: stringify!($strategy) },)*
        ];
    };
}

/// One hz3 strategy of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hz3Entry {
    pub module: &'static str,
    pub name: &'static str,
    pub strategy: &'static str,
}

hz3_alloc::for_each_strategy!(hz3_strategies);

/// The reference allocators (the binaries other than hz3's). `system` is always built; the
/// others need the `peers` feature.
pub const PEERS: &[&str] = &["mimalloc", "jemalloc", "snmalloc"];

/// Every allocator name, in table order: system, the peers, then the hz3 strategies.
pub fn all_names() -> Vec<&'static str> {
    let mut v = vec!["system"];
    v.extend_from_slice(PEERS);
    v.extend(HZ3.iter().map(|e| e.name));
    v
}

/// What `bench-<allocator> --list` prints (xtask reads it): one line per hz3 strategy, in table
/// order, `<allocator name> <module>` (`hz3-c-packed hz3_c_packed`).
pub fn strategy_lines() -> String {
    HZ3.iter()
        .map(|e| format!("{} {}\n", e.name, e.module))
        .collect()
}

/// The source of the timed-pass binary for a strategy module (what `sync-bins` writes).
pub fn fast_bin_source(module: &str) -> String {
    format!("hz3_bench::hz3_bin!({module});\n")
}

/// The source of the stats-pass binary for a strategy module.
pub fn stats_bin_source(module: &str) -> String {
    format!("hz3_bench::hz3_bin!({module}, stats);\n")
}
