//! [`HeapOs`]: an OS layer whose "mappings" are zeroed allocations of the system allocator,
//! and [`OnHeap`], the fast flavour on it. It exists for Miri, which interprets neither the
//! over-reserve-and-trim `mmap` of `SystemOs` (it cannot unmap part of a mapping) nor
//! `madvise`/`mremap`; under it, every segment, heap and large block of the instance is a Miri
//! allocation, so Miri checks every access hz3 makes to its own memory against the bounds,
//! provenance and aliasing of that allocation. Natively it is a plain (slow-to-return) OS
//! layer, and the tests that use it run there too.

use hz3_alloc::config::Config;
use hz3_page::{OsMemory, SEGMENT_SIZE};
use std::alloc::{GlobalAlloc, Layout, System};

/// Every mapping is aligned to this (the largest alignment hz3 asks of its OS layer), so that
/// `unmap`, which is not told the alignment, can rebuild the allocation's layout.
const ALIGN: usize = SEGMENT_SIZE;

/// Mappings from `System` (never the global allocator, which may be hz3 itself: contract 3).
pub struct HeapOs;

// SAFETY: (1) `alloc_zeroed` returns null or a zeroed, exclusive block of `size` bytes
// aligned to `ALIGN` >= `align`; (2) `decommit` zeroes the range in place; (3) `System` is
// not the global allocator and nothing here panics; (4) `discard` keeps the old bytes; (5),
// (6) the defaults never grow or move. `UNMAPS_PARTS` is false, so hz3 unmaps only whole
// mappings with their own length, which is what `dealloc` needs with `ALIGN`.
unsafe impl OsMemory for HeapOs {
    const UNMAPS_PARTS: bool = false;
    fn map(size: usize, align: usize) -> *mut u8 {
        match Layout::from_size_align(size, ALIGN) {
            Ok(l) if align <= ALIGN && size != 0 => {
                // SAFETY: `size` is a non-zero multiple of the OS page.
                let p = unsafe { System.alloc_zeroed(l) };
                // hz3 finds a segment's header again from an address (`segment_of`, P1).
                let _ = p.expose_provenance();
                p
            }
            _ => core::ptr::null_mut(),
        }
    }
    unsafe fn unmap(p: *mut u8, size: usize) {
        // SAFETY: hz3 unmaps whole mappings from `map`, so `p` came from `alloc_zeroed` with
        // this layout.
        unsafe { System.dealloc(p, Layout::from_size_align_unchecked(size, ALIGN)) }
    }
    unsafe fn decommit(p: *mut u8, size: usize) {
        // SAFETY: the range lies inside a live mapping (the caller's contract).
        unsafe { core::ptr::write_bytes(p, 0, size) }
    }
    unsafe fn discard(_p: *mut u8, _size: usize) {}
}

/// The fast flavour on [`HeapOs`].
pub struct OnHeap;

// SAFETY: ID 3 is the flavour slot the shipped flavours leave free; a test binary that uses
// this flavour uses no other flavour of ID 3.
unsafe impl Config for OnHeap {
    const NAME: &'static str = "on-heap";
    const ID: usize = 3;
    const STATS: bool = false;
    const CHECKS: bool = false;
    type Os = HeapOs;
}
