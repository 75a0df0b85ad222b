//! The strategy catalogue: the one list of hz3's remote-free strategies.
//!
//! Everything that names a strategy comes from [`for_each_strategy!`]: the aliases of this
//! crate ([`Hz3A`](crate::Hz3A) …), the C library's names (`hz3_strategy()`), the per-strategy
//! tests and the benchmark binaries (`hz3-bench`'s `allocators.rs`, from which
//! `cargo xtask sync-bins` writes the one-line binaries). A new strategy needs its own file in
//! `hz3-pageq` (the protocol, re-exported by [`strategy`](crate::strategy)) and one line here.

/// Calls `$callback! { ... }` with one entry per hz3 strategy, in table order:
///
/// `(module, "hz3-<name>", "<name>", StrategyType, Alias, "one-line description");`
///
/// - `module`: an identifier for per-strategy modules (`hz3_c_packed`);
/// - `"hz3-<name>"`: the allocator's name in the matrix, its JSON and its binary
///   (`bench-hz3-<name>`);
/// - `"<name>"`: the short name (the C library's `hz3_strategy()` and its build-time choice
///   `HZ3_STRATEGY=<name>`);
/// - `StrategyType`: the type in [`strategy`](crate::strategy);
/// - `Alias`: this crate's `Hz3<StrategyType>` alias;
/// - the description: the alias's documentation.
///
/// ```
/// macro_rules! names {
///     ($(($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal);)*) => {
///         [$($name),*]
///     };
/// }
/// let all = hz3_alloc::for_each_strategy!(names);
/// assert_eq!(all[0], "hz3-a");
/// assert!(all.contains(&"hz3-a-cache"));
/// ```
///
/// With extra tokens, `for_each_strategy!(callback, tokens…)` passes them first, in brackets:
/// `callback! { [tokens…] (module, …); … }` (the per-strategy tests pass their test names).
#[macro_export]
macro_rules! for_each_strategy {
    ($callback:ident, $($extra:tt)+) => {
        $crate::for_each_strategy! { @list $callback [$($extra)+] }
    };
    ($callback:ident) => {
        $crate::for_each_strategy! { @list $callback }
    };
    (@list $callback:ident $($extra:tt)?) => {
        $callback! {
            $($extra)?
            (hz3_a, "hz3-a", "a", OwnerStash, Hz3A, "S121=0 (A): owner stash.");
            (hz3_b, "hz3-b", "b", PageQueuePop, Hz3B, "S121-B: page-local remote + pageq pop.");
            (hz3_c, "hz3-c", "c", DrainAll, Hz3C, "S121-C: drain-all.");
            (hz3_d, "hz3-d", "d", Packets, Hz3D, "S121-D: packets.");
            (hz3_c_packed, "hz3-c-packed", "c-packed", DrainAllPacked, Hz3CPacked,
                "S121-C with packed head+state.");
            (hz3_e, "hz3-e", "e", CadenceCollect, Hz3E, "S121-E: cadence collect (mimalloc's rhythm).");
            (hz3_e_batch, "hz3-e-batch", "e-batch", BatchedCadence, Hz3EBatch,
                "E with per-page batching of remote frees.");
            (hz3_a_batch, "hz3-a-batch", "a-batch", BatchedStash, Hz3ABatch,
                "A with per-destination message batching (snmalloc's shape).");
            (hz3_a_cache, "hz3-a-cache", "a-cache", CachedStash, Hz3ACache,
                "A-batch whose freeing threads reuse foreign blocks from their own cache first.");
        }
    };
}

/// Defines the `Hz3<Strategy>` aliases from the list.
macro_rules! define_aliases {
    ($(($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal);)*) => {
        $(
            #[doc = $doc]
            #[doc = ""]
            #[doc = concat!("Named `", $name, "` in the matrix, `", $short, "` in the C library.")]
            pub type $alias = $crate::Hz3<$crate::strategy::$ty>;
        )*
        /// Every strategy: (matrix name, short name), in table order.
        pub const STRATEGIES: &[(&str, &str)] = &[$(($name, $short)),*];
    };
}
pub(crate) use define_aliases;

/// Checks at compile time that no two strategies of the list share a
/// [`RemoteFree::ID`](crate::RemoteFree::ID) (it picks the thread-local slot and the registry).
macro_rules! assert_unique_ids {
    ($(($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal);)*) => {
        const _: () = {
            let ids = [$(<$crate::strategy::$ty as $crate::RemoteFree>::ID),*];
            let mut i = 0;
            while i < ids.len() {
                let mut j = i + 1;
                while j < ids.len() {
                    assert!(ids[i] != ids[j], "two strategies share a RemoteFree::ID");
                    j += 1;
                }
                i += 1;
            }
        };
    };
}
pub(crate) use assert_unique_ids;
