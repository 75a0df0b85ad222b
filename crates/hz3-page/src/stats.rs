//! Process statistics: what hz3 holds from the OS, kept as relaxed static atomics.
//!
//! Every counter is changed only on a slow path (a mapping made or returned, pages purged, a
//! large block made or freed, a segment entering or leaving the segment cache, a heap created
//! or pooled); the allocation and free fast paths touch none of them. Values are a relaxed
//! snapshot: taken while other threads run, two counters may disagree for a moment.
//!
//! Gauges go up and down ([`add`] / [`sub`]); totals only go up. `hz3_alloc::process_stats()`
//! reads them (with the large-mapping cache's bytes and the dirty-page count of
//! [`purge`](crate::purge)), and the C library prints them (`hz3_stats_print`,
//! `malloc_stats`, `HZ3_SHOW_STATS=1`).

use core::sync::atomic::{AtomicUsize, Ordering};

/// A process statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Stat {
    /// Bytes mapped from the OS now: small segments (owned and cached), large mappings (live
    /// and cached) and heap metadata (gauge).
    Mapped,
    /// The highest value [`Stat::Mapped`] reached (maintained by [`add`]).
    MappedPeak,
    /// Mappings made (`mmap`, total).
    MapCalls,
    /// Mappings returned (`munmap`, total).
    UnmapCalls,
    /// Bytes given back to the OS while staying mapped (`MADV_DONTNEED` of free slab pages
    /// and of the tails of large blocks; total).
    Purged,
    /// Small segments mapped now, owned or in the segment cache (gauge).
    Segments,
    /// Small segments in the segment cache now (gauge).
    SegmentsCached,
    /// Live large blocks (gauge).
    LargeBlocks,
    /// Bytes of the live large blocks' mappings: usable size, header and room to grow, as
    /// glibc's `hblkhd` counts its mapped chunks (gauge; a resize within the mapping, the
    /// `realloc` fast case, leaves it alone).
    LargeBytes,
    /// Heaps (owner identities) created (total; heaps are never unmapped, O2).
    HeapsCreated,
    /// Heaps in the pools of abandoned heaps now, waiting for a thread (gauge).
    HeapsPooled,
}

/// Number of [`Stat`]s.
pub const NUM_STATS: usize = Stat::HeapsPooled as usize + 1;

static STATS: [AtomicUsize; NUM_STATS] = [const { AtomicUsize::new(0) }; NUM_STATS];

/// Adds `n` to `s` (for [`Stat::Mapped`], also raises the peak).
#[inline]
pub fn add(s: Stat, n: usize) {
    let old = STATS[s as usize].fetch_add(n, Ordering::Relaxed);
    if s == Stat::Mapped {
        STATS[Stat::MappedPeak as usize].fetch_max(old.wrapping_add(n), Ordering::Relaxed);
    }
}

/// Subtracts `n` from the gauge `s`.
#[inline]
pub fn sub(s: Stat, n: usize) {
    STATS[s as usize].fetch_sub(n, Ordering::Relaxed);
}

/// Records a mapping of `bytes` (one `mmap`).
#[inline]
pub fn mapped(bytes: usize) {
    add(Stat::Mapped, bytes);
    add(Stat::MapCalls, 1);
}

/// Records that a mapping of `bytes` went back to the OS (one `munmap`).
#[inline]
pub fn unmapped(bytes: usize) {
    sub(Stat::Mapped, bytes);
    add(Stat::UnmapCalls, 1);
}

/// Records a new small segment mapped from the OS.
#[inline]
pub fn segment_mapped() {
    mapped(crate::SEGMENT_SIZE);
    add(Stat::Segments, 1);
}

/// Records a small segment returned to the OS.
#[inline]
pub fn segment_unmapped() {
    unmapped(crate::SEGMENT_SIZE);
    sub(Stat::Segments, 1);
}

/// Records a new live large block whose mapping is `bytes` long.
#[inline]
pub fn large_alloc(bytes: usize) {
    add(Stat::LargeBlocks, 1);
    add(Stat::LargeBytes, bytes);
}

/// Records a large block freed whose mapping is `bytes` long.
#[inline]
pub fn large_free(bytes: usize) {
    sub(Stat::LargeBlocks, 1);
    sub(Stat::LargeBytes, bytes);
}

/// Records that a live large block's mapping went from `old` to `new` bytes (a resize
/// within the mapping changes nothing here).
#[inline]
pub fn large_resized(old: usize, new: usize) {
    add(Stat::LargeBytes, new);
    sub(Stat::LargeBytes, old);
}

/// Records a heap created, its metadata mapping of `bytes`.
#[inline]
pub fn heap_created(bytes: usize) {
    mapped(bytes);
    add(Stat::HeapsCreated, 1);
}

/// The current value of `s`.
#[inline]
pub fn get(s: Stat) -> usize {
    STATS[s as usize].load(Ordering::Relaxed)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn gauges_and_peak() {
        let (m0, p0, c0) = (
            get(Stat::Mapped),
            get(Stat::MappedPeak),
            get(Stat::MapCalls),
        );
        mapped(1 << 30);
        assert_eq!(get(Stat::Mapped), m0 + (1 << 30));
        assert!(get(Stat::MappedPeak) >= m0 + (1 << 30) && get(Stat::MappedPeak) >= p0);
        assert_eq!(get(Stat::MapCalls), c0 + 1);
        unmapped(1 << 30);
        assert_eq!(get(Stat::Mapped), m0);
        assert!(get(Stat::MappedPeak) >= m0 + (1 << 30));
    }
}
