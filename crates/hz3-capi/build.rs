//! The strategy of this build: `HZ3_STRATEGY=<short name>` (e.g. `c`, `a-batch`; see
//! `hz3_alloc::STRATEGIES`) becomes the cfg `hz3_strategy = "<name>"` (plus `hz3_strategy_set`),
//! which `src/lib.rs` matches against the strategy catalogue. Unset: the Rust default.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hz3_strategy, values(any()))");
    println!("cargo::rustc-check-cfg=cfg(hz3_strategy_set)");
    println!("cargo::rerun-if-env-changed=HZ3_STRATEGY");
    if let Ok(name) = std::env::var("HZ3_STRATEGY") {
        if !name.is_empty() {
            println!("cargo::rustc-cfg=hz3_strategy_set");
            println!("cargo::rustc-cfg=hz3_strategy=\"{name}\"");
        }
    }
}
