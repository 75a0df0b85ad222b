//! The policy of the OS boundary: when free memory goes back to the OS.
//!
//! hz3 keeps memory it freed *committed* for a while, so that a program that frees and
//! allocates again reuses warm pages instead of faulting fresh ones in, and returns it
//! (`MADV_DONTNEED` or `munmap`) only after it stayed unused for [`purge_delay_ms`]:
//!
//! - free slab pages of a segment (*dirty* pages) are decommitted when the segment's
//!   deadline (`SegmentHeader::purge_at`, set when its first dirty page appears) has passed,
//!   on the owner's next slow path — a bounded number of segments per visit, oldest first;
//! - free segments and freed large mappings wait in their caches on the same clock;
//! - the dirty pages of all heaps together are capped at [`purge_cap_bytes`]: a release that
//!   would exceed the cap purges the releasing heap's oldest dirty segments at once, so a
//!   program that frees everything and goes idle keeps at most about the cap;
//! - `collect()` (and the C library's `malloc_trim`) purges everything at once.
//!
//! Transparent huge pages follow the same rule of "only where it pays": a heap's segments are
//! advised for huge pages (`OsMemory::advise_huge`) only while the heap holds at least
//! [`huge_min_bytes`] of segments and touches what it allocates (hz3-tcache decides), so a
//! small program never pays a 2 MiB page for a few touched KiB; a segment whose dirty pages
//! are decommitted loses the advice for as long as its owner keeps it (the kernel could
//! otherwise collapse the purged half back into a resident huge page). Large blocks are not
//! advised: they are written through once as often as they are reused, and a huge-page fault
//! of fresh memory can cost more than the 4 KiB faults it saves.
//!
//! A delay of 0 restores eager return: pages are decommitted as soon as they are free and
//! freed large mappings are unmapped.
//!
//! The clock is `CLOCK_MONOTONIC_COARSE` in milliseconds (a vDSO read: no system call, no
//! allocation), read only on slow paths.
//!
//! Invariants:
//! - **PG1** `DIRTY` (the process-wide count behind [`dirty_bytes`]) is the sum, over every
//!   small segment (owned or cached), of its dirty pages × `PAGE_SIZE`; it changes only when a
//!   dirty bit is set or cleared.
//! - **PG2** a segment with dirty pages has `purge_at != 0`, and its heap's `purge_next` is at
//!   most the smallest `purge_at` of its segments (the owner's slow path looks at its segments
//!   once `now >= purge_next`).
//! - **PG3** purging only decommits pages that are free (dirty ⊆ free, G4) or unmaps
//!   mappings that hold no live block.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Default delay before unused memory is returned to the OS (ms).
pub const DEFAULT_PURGE_DELAY_MS: u64 = 100;
/// Default cap on dirty (free but committed) slab pages over all heaps.
pub const DEFAULT_PURGE_CAP_BYTES: usize = 256 << 20;
/// Default byte budget of the cache of freed large mappings.
pub const DEFAULT_LARGE_CACHE_BYTES: usize = 128 << 20;
/// Default segment bytes a heap holds before its segments get transparent huge pages.
pub const DEFAULT_HUGE_MIN_BYTES: usize = 16 << 20;

static PURGE_DELAY_MS: AtomicU64 = AtomicU64::new(DEFAULT_PURGE_DELAY_MS);
static PURGE_CAP_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_PURGE_CAP_BYTES);
static LARGE_CACHE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_LARGE_CACHE_BYTES);
static DIRTY: AtomicUsize = AtomicUsize::new(0);
static HUGE_MIN_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_HUGE_MIN_BYTES);

/// Milliseconds of `CLOCK_MONOTONIC_COARSE` (never 0, so 0 can mean "no deadline").
#[inline]
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out pointer; clock_gettime does not allocate.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000)
        | 1
}

/// The purge delay in ms (0 = eager return).
#[inline]
pub fn purge_delay_ms() -> u64 {
    PURGE_DELAY_MS.load(Ordering::Relaxed)
}

/// Sets the purge delay (ms); 0 restores eager return. Takes effect on the next slow paths.
pub fn set_purge_delay_ms(ms: u64) {
    PURGE_DELAY_MS.store(ms, Ordering::Relaxed);
}

/// The cap on dirty slab pages over all heaps, in bytes.
#[inline]
pub fn purge_cap_bytes() -> usize {
    PURGE_CAP_BYTES.load(Ordering::Relaxed)
}

/// Sets the cap on dirty slab pages (bytes).
pub fn set_purge_cap_bytes(bytes: usize) {
    PURGE_CAP_BYTES.store(bytes, Ordering::Relaxed);
}

/// The byte budget of the large-mapping cache.
#[inline]
pub fn large_cache_bytes() -> usize {
    LARGE_CACHE_BYTES.load(Ordering::Relaxed)
}

/// Sets the byte budget of the large-mapping cache (0 = unmap large blocks on free).
pub fn set_large_cache_bytes(bytes: usize) {
    LARGE_CACHE_BYTES.store(bytes, Ordering::Relaxed);
}

/// Segment bytes a heap holds before its segments are advised for transparent huge pages
/// (0 = never).
#[inline]
pub fn huge_min_bytes() -> usize {
    HUGE_MIN_BYTES.load(Ordering::Relaxed)
}

/// Sets the segment bytes a heap holds before its segments get transparent huge pages
/// (0 = never). Takes effect when the heap next carves a slab.
pub fn set_huge_min_bytes(bytes: usize) {
    HUGE_MIN_BYTES.store(bytes, Ordering::Relaxed);
}

/// Dirty slab bytes over all segments (PG1).
#[inline]
pub fn dirty_bytes() -> usize {
    DIRTY.load(Ordering::Relaxed)
}

/// Records `bytes` newly dirty (PG1).
#[inline]
pub fn add_dirty(bytes: usize) {
    DIRTY.fetch_add(bytes, Ordering::Relaxed);
}

/// Records `bytes` no longer dirty: reused or decommitted (PG1).
#[inline]
pub fn sub_dirty(bytes: usize) {
    DIRTY.fetch_sub(bytes, Ordering::Relaxed);
}

/// Whether the dirty pages exceed the cap.
#[inline]
pub fn over_cap() -> bool {
    dirty_bytes() > purge_cap_bytes()
}

/// The deadline for memory freed at `now` (`now + delay`).
#[inline]
pub fn deadline(now: u64) -> u64 {
    now.saturating_add(purge_delay_ms()) | 1
}
