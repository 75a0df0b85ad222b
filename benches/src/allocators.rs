//! The allocators under benchmark.
//!
//! **Adding an hz3 strategy is one line in the list below** (`module => "hz3-<name>", Type;`).
//! `cargo xtask bench-matrix` (or `cargo xtask sync-bins`) then writes what Cargo needs — the
//! one-line binaries `src/bin/bench-hz3-<name>.rs` and `src/bin/bench-hz3-<name>-stats.rs` and
//! their `[[bin]]` entries in the generated block of Cargo.toml — and picks the new allocator up
//! in every table; `cargo test -p hz3-bench -p xtask` checks that the list, the files and the
//! manifest agree. The types are resolved inside `hz3_alloc::strategy`.

/// Generates, for each line, a module with `NAME`, `FastAlloc` (config `Fast`, the timed pass)
/// and `StatsAlloc` (config `WithStats`, the stats pass), plus the [`HZ3`] table.
macro_rules! hz3_strategies {
    ($($module:ident => $name:literal, $strategy:ty;)*) => {
        $(
            #[allow(non_snake_case, unused_imports)]
            pub mod $module {
                use hz3_alloc::strategy::*;
                pub const NAME: &str = $name;
                pub type FastAlloc = hz3_alloc::Hz3<$strategy, hz3_alloc::config::Fast>;
                pub type StatsAlloc = hz3_alloc::Hz3<$strategy, hz3_alloc::config::WithStats>;
            }
        )*
        /// Every hz3 strategy: (module, allocator name, strategy type), in table order.
        pub const HZ3: &[Hz3Entry] = &[
            $(Hz3Entry { module: stringify!($module), name: $name, strategy: stringify!($strategy) },)*
        ];
    };
}

/// One line of the strategy list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hz3Entry {
    pub module: &'static str,
    pub name: &'static str,
    pub strategy: &'static str,
}

// --- the strategy list (one line each; keep the `=> "hz3-…", Type;` shape: xtask reads it) ---
hz3_strategies! {
    hz3_a => "hz3-a", OwnerStash;
    hz3_b => "hz3-b", PageQueuePop;
    hz3_c => "hz3-c", DrainAll;
    hz3_d => "hz3-d", Packets;
    hz3_c_packed => "hz3-c-packed", DrainAllPacked;
    hz3_e => "hz3-e", CadenceCollect;
    hz3_e_batch => "hz3-e-batch", BatchedCadence;
    hz3_a_batch => "hz3-a-batch", BatchedStash;
    hz3_a_cache => "hz3-a-cache", CachedStash;
}
// --- end of the strategy list ---

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

/// The source of the timed-pass binary for a strategy module (what `sync-bins` writes).
pub fn fast_bin_source(module: &str) -> String {
    format!("hz3_bench::hz3_bin!({module});\n")
}

/// The source of the stats-pass binary for a strategy module.
pub fn stats_bin_source(module: &str) -> String {
    format!("hz3_bench::hz3_bin!({module}, stats);\n")
}
