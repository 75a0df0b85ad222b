//! The process-wide segment registry: one bit per possible segment address, so the checked
//! flavour can tell whether a pointer lies in memory hz3 owns *before* dereferencing anything
//! (a foreign pointer must produce "invalid free", not a segmentation fault).
//!
//! The bitmap covers the 47-bit user address space (2^25 segments = 4 MiB of bits), mapped
//! lazily with `MAP_NORESERVE`; only the words touched become resident.
//!
//! Invariant **SM1**: bit `a >> SEGMENT_SHIFT` is set while hz3 has a segment (small, or the
//! header segment of a large block) mapped at segment address `a`.

use crate::os::{OsMemory, SystemOs};
use crate::page::SEGMENT_SHIFT;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

const ADDRESS_BITS: usize = 47;
const SEGMENTS: usize = 1 << (ADDRESS_BITS - SEGMENT_SHIFT);
const WORDS: usize = SEGMENTS / 64;

static MAP: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());

fn map() -> *mut AtomicU64 {
    let m = MAP.load(Ordering::Acquire);
    if !m.is_null() {
        return m;
    }
    let fresh = SystemOs::map(WORDS * 8, crate::os::OS_PAGE).cast::<AtomicU64>();
    if fresh.is_null() {
        crate::fatal(crate::FatalKind::OutOfMetadata);
    }
    match MAP.compare_exchange(
        core::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => fresh,
        Err(winner) => {
            // SAFETY: `fresh` came from `map(WORDS * 8, ..)` and was never published.
            unsafe { SystemOs::unmap(fresh.cast(), WORDS * 8) };
            winner
        }
    }
}

#[inline]
fn slot(seg: usize) -> Option<(usize, u64)> {
    let i = seg >> SEGMENT_SHIFT;
    (i < SEGMENTS).then_some((i / 64, 1u64 << (i % 64)))
}

/// Records that hz3 mapped the segment at `seg` (SM1).
pub fn register(seg: usize) {
    if let Some((w, bit)) = slot(seg) {
        // SAFETY: `w < WORDS`, inside the bitmap mapping, which is never unmapped.
        unsafe { &*map().add(w) }.fetch_or(bit, Ordering::Release);
    }
}

/// Records that hz3 unmapped the segment at `seg` (SM1).
pub fn unregister(seg: usize) {
    if let Some((w, bit)) = slot(seg) {
        // SAFETY: as in `register`.
        unsafe { &*map().add(w) }.fetch_and(!bit, Ordering::Release);
    }
}

/// Whether the segment at `seg` is hz3's (SM1).
pub fn contains(seg: usize) -> bool {
    let m = MAP.load(Ordering::Acquire);
    if m.is_null() {
        return false;
    }
    match slot(seg) {
        // SAFETY: as in `register`.
        Some((w, bit)) => unsafe { &*m.add(w) }.load(Ordering::Acquire) & bit != 0,
        None => false,
    }
}
