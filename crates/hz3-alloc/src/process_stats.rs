//! Process statistics (`hz3_alloc::process_stats()`): what every hz3 instance of the process
//! holds from the OS together, on every flavour (the counters live on slow paths only, see
//! `hz3_page::stats`).

use hz3_page::stats::{get, Stat};
use hz3_page::{purge, SEGMENT_SIZE};

/// A snapshot of the process statistics (relaxed reads: while other threads run, two fields
/// may disagree for a moment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Bytes mapped from the OS now: small segments (owned and cached), large mappings (live
    /// and cached) and heap metadata.
    pub mapped: u64,
    /// The most bytes mapped at once.
    pub mapped_peak: u64,
    /// Mappings made (`mmap`).
    pub mmap_calls: u64,
    /// Mappings returned (`munmap`).
    pub munmap_calls: u64,
    /// Free slab pages still committed (dirty), waiting for their purge deadline.
    pub dirty: u64,
    /// Bytes given back to the OS while staying mapped (`MADV_DONTNEED`), total.
    pub purged: u64,
    /// Small segments mapped (owned by heaps or in the segment cache).
    pub segments: u64,
    /// Small segments in the segment cache.
    pub segments_cached: u64,
    /// Live large blocks.
    pub large_blocks: u64,
    /// Bytes mapped for the live large blocks (each block's mapping: usable size, header page
    /// and room to grow; what glibc's `mallinfo().hblkhd` counts for its mapped chunks).
    pub large_bytes: u64,
    /// Bytes of freed large mappings kept in the large-mapping cache.
    pub large_cached: u64,
    /// Heaps (owner identities) created.
    pub heaps_created: u64,
    /// Heaps waiting in the pools for a new thread.
    pub heaps_pooled: u64,
}

impl ProcessStats {
    /// Bytes of the small segments (`segments × 4 MiB`).
    pub fn segment_bytes(&self) -> u64 {
        self.segments * SEGMENT_SIZE as u64
    }

    /// `(name, value)` for every field, for printing without a formatter.
    pub fn fields(&self) -> [(&'static str, u64); 13] {
        [
            ("mapped", self.mapped),
            ("mapped_peak", self.mapped_peak),
            ("mmap_calls", self.mmap_calls),
            ("munmap_calls", self.munmap_calls),
            ("dirty", self.dirty),
            ("purged", self.purged),
            ("segments", self.segments),
            ("segments_cached", self.segments_cached),
            ("large_blocks", self.large_blocks),
            ("large_bytes", self.large_bytes),
            ("large_cached", self.large_cached),
            ("heaps_created", self.heaps_created),
            ("heaps_pooled", self.heaps_pooled),
        ]
    }
}

/// The process statistics now. Takes the large-mapping cache's lock for a moment; allocates
/// nothing. Counted in every flavour, `Fast` included:
///
/// ```
/// use hz3_alloc::{process_stats, Hz3};
/// use std::alloc::{GlobalAlloc, Layout};
///
/// let a: Hz3 = Hz3::new(); // the default strategy, Fast flavour
/// let before = process_stats();
/// let big = Layout::from_size_align(3 << 20, 16).unwrap();
/// // SAFETY: a non-zero layout; the block is freed below with the same layout.
/// let p = unsafe { a.alloc(big) };
/// assert!(!p.is_null());
/// let during = process_stats();
/// assert_eq!(during.large_blocks, before.large_blocks + 1);
/// assert!(during.large_bytes >= before.large_bytes + (3 << 20));
/// assert!(during.mapped >= 3 << 20 && during.mapped_peak >= during.mapped);
/// // SAFETY: `p` is live and was allocated with `big`.
/// unsafe { a.dealloc(p, big) };
/// assert_eq!(process_stats().large_blocks, before.large_blocks);
/// Hz3::<hz3_alloc::DefaultStrategy>::collect(); // returns cached memory to the OS
/// assert_eq!(process_stats().large_cached, 0);
/// ```
pub fn process_stats() -> ProcessStats {
    let g = |s| get(s) as u64;
    ProcessStats {
        mapped: g(Stat::Mapped),
        mapped_peak: g(Stat::MappedPeak),
        mmap_calls: g(Stat::MapCalls),
        munmap_calls: g(Stat::UnmapCalls),
        dirty: purge::dirty_bytes() as u64,
        purged: g(Stat::Purged),
        segments: g(Stat::Segments),
        segments_cached: g(Stat::SegmentsCached),
        large_blocks: g(Stat::LargeBlocks),
        large_bytes: g(Stat::LargeBytes),
        large_cached: hz3_tcache::large_cache::cached_bytes() as u64,
        heaps_created: g(Stat::HeapsCreated),
        heaps_pooled: g(Stat::HeapsPooled),
    }
}
