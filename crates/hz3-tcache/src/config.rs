//! Build flavours of an allocator instance, as types (never runtime switches): statistics,
//! checks and the OS layer the instance maps its memory from.

use hz3_page::{OsMemory, SystemOs};

/// A flavour: statistics and checks as constants the optimiser folds away, and the OS layer.
///
/// # Safety
/// `ID` is unique among the flavours used in one process and `< MAX_CONFIGS`
/// (it selects the instance's thread-local slot and global registry). The shipped flavours
/// use 0–2; 3 is free for a flavour of one's own (a test OS layer, say).
pub unsafe trait Config: Sized + 'static {
    /// Short name (`fast`, `stats`, `checked`).
    const NAME: &'static str;
    /// Unique index `< MAX_CONFIGS`.
    const ID: usize;
    /// Count S121 events into thread-local counters.
    const STATS: bool;
    /// Validate frees (double, invalid, wrong layout) and abort with a fixed message.
    const CHECKS: bool;
    /// Small-block allocations a thread makes through the shared fallback heap before it takes
    /// a heap of its own (O4), at most; 0 = a heap at the first operation (the stats and
    /// checked flavours: their counters and checks live in heaps). At most
    /// [`YOUNG_OPS_MAX`].
    const YOUNG_OPS: usize = 256;
    /// Bytes (class sizes) a thread allocates through the shared fallback heap before it takes
    /// a heap of its own (O4), at most: whichever of this and [`YOUNG_OPS`](Self::YOUNG_OPS)
    /// comes first ends the young phase. A heap of its own costs a thread about one partly
    /// used 4 KiB page per size class it touches, besides the heap and its segment's header
    /// (some 60 KiB for blocks of 8–608 B), so the phase lasts until the thread's blocks
    /// outweigh that. At most [`YOUNG_BYTES_MAX`].
    const YOUNG_BYTES: usize = 128 * 1024;
    /// Where the instance's segments, heaps and large blocks come from ([`SystemOs`] for the
    /// shipped flavours). The segment and large-mapping caches are process-wide, so an `Os`
    /// must accept ranges another flavour's `Os` mapped (as any layer over the same kernel
    /// calls does).
    type Os: OsMemory;
}

/// Largest [`Config::YOUNG_OPS`] (the count shares a word with the byte count, O4).
pub const YOUNG_OPS_MAX: usize = (1 << 16) - 1;
/// Largest [`Config::YOUNG_BYTES`] (counted in 16-byte units in 16 bits, O4).
pub const YOUNG_BYTES_MAX: usize = ((1 << 16) - 1) * 16;

/// Number of flavour slots per strategy.
pub const MAX_CONFIGS: usize = 4;
/// Strategy slots (`RemoteFree::ID` must be below this).
pub const MAX_STRATEGIES: usize = 16;
/// Instance slots: one per (strategy, flavour) pairing.
pub const MAX_INSTANCES: usize = MAX_STRATEGIES * MAX_CONFIGS;

/// The production flavour: no counters, no checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fast;
// SAFETY: ID 0 is unique and < MAX_CONFIGS.
unsafe impl Config for Fast {
    const NAME: &'static str = "fast";
    const ID: usize = 0;
    const STATS: bool = false;
    const CHECKS: bool = false;
    type Os = SystemOs;
}

/// Counts S121 events (for the benchmark matrix's stats pass).
#[derive(Clone, Copy, Debug, Default)]
pub struct WithStats;
// SAFETY: ID 1 is unique and < MAX_CONFIGS.
unsafe impl Config for WithStats {
    const NAME: &'static str = "stats";
    const ID: usize = 1;
    const STATS: bool = true;
    // Every remote free is a heap's event, counted where it happens: no young phase.
    const YOUNG_OPS: usize = 0;
    const CHECKS: bool = false;
    type Os = SystemOs;
}

/// Validates every free and aborts with a fixed message on misuse.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checked;
// SAFETY: ID 2 is unique and < MAX_CONFIGS.
unsafe impl Config for Checked {
    const NAME: &'static str = "checked";
    const ID: usize = 2;
    const STATS: bool = false;
    const CHECKS: bool = true;
    // Every block of the guarded library passes through checked bins: no young phase, whose
    // frees would go to an inbox unchecked.
    const YOUNG_OPS: usize = 0;
    type Os = SystemOs;
}
