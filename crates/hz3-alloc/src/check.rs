//! The checked flavour's validation (`Hz3<_, Checked>`): every free is checked before it
//! touches allocator state, and misuse aborts with one fixed message per kind
//! ([`FatalKind`](hz3_page::FatalKind)) written without allocating. The fast flavour compiles
//! none of this (`if C::CHECKS` is a constant).
//!
//! - foreign pointers (stack, other allocators, unmapped): the segment registry (SM1) is
//!   consulted before any hz3 metadata is read → `invalid free`;
//! - interior or misaligned pointers: the offset in the slab must be a multiple of the block
//!   size and below the slab's capacity; a large block must be exactly the mapped block →
//!   `invalid free`;
//! - double free, local or remote: one bit per block in page 0 of the segment (set while the
//!   user holds the block), cleared with an atomic `fetch_and`: a clear bit → `double free`
//!   (two racing frees of one block: exactly one wins);
//! - a `dealloc` layout of another size class → `dealloc layout does not match`;
//! - `realloc` validates its pointer the same way without freeing it ([`check_live`]): a freed
//!   block → `double free`, an interior, stack, foreign or stale large pointer → `invalid
//!   free`, a layout of another class → `dealloc layout does not match`.
//! - a use-after-free write to a cached block's link is caught when the bin pops it: the next
//!   link must be null or a block of the same heap and class (`free list corrupted`).

use core::alloc::Layout;
use core::sync::atomic::{AtomicU64, Ordering};
use hz3_page::{
    class_for, class_size, fatal, meta_of, page_start, segmap, segment_of, slab_capacity,
    FatalKind, CHECK_BITMAP_BYTES, CHECK_BITMAP_OFFSET,
};

/// The bitmap word and bit of small block `p`, after validating its position.
///
/// # Safety
/// `p`'s segment is registered (SM1) and its meta has a non-zero owner.
unsafe fn bit_of(p: *mut u8, layout: Option<Layout>) -> (&'static AtomicU64, u64) {
    // SAFETY: a registered segment is mapped, so its header and page 0 are readable.
    let meta = unsafe { &*meta_of(p) };
    let seg = segment_of(p);
    let c = meta.class();
    let head = meta.head.load(Ordering::Relaxed) as usize;
    let start = page_start(seg, head) as usize;
    let size = class_size(c);
    let off = (p as usize).wrapping_sub(start);
    if off % size != 0 || off / size >= slab_capacity(c) {
        fatal(FatalKind::InvalidFree);
    }
    if let Some(l) = layout {
        if class_for(l.size(), l.align()) != Some(c) {
            fatal(FatalKind::WrongLayout);
        }
    }
    let i = off / size;
    let word = seg as usize + CHECK_BITMAP_OFFSET + head * CHECK_BITMAP_BYTES + (i / 64) * 8;
    // SAFETY: inside page 0 of a mapped segment (const-asserted in hz3-page), 8-aligned.
    (unsafe { &*(word as *const AtomicU64) }, 1u64 << (i % 64))
}

/// Validates that `p` is a block hz3 handed out (a small block at a block boundary of a live
/// slab, or exactly a live large block) and, with `layout`, that the layout names its class.
/// Returns the block's bitmap word and bit (small blocks), `None` for a large block. Aborts
/// on misuse; does not look at the bit.
///
/// # Safety
/// None beyond `p` being any pointer value: nothing is dereferenced before the registry says
/// the memory is hz3's.
unsafe fn validate(p: *mut u8, layout: Option<Layout>) -> Option<(&'static AtomicU64, u64)> {
    if p.is_null() || !segmap::contains(segment_of(p) as usize) {
        fatal(FatalKind::InvalidFree);
    }
    // SAFETY: the segment is hz3's and mapped (SM1).
    let meta = unsafe { &*meta_of(p) };
    if meta.owner() == 0 {
        // SAFETY: mapped segment; `header` reads its kind.
        match unsafe { crate::large::header(p) } {
            Some(h) if h.large_block.get() == p => {
                if let Some(l) = layout {
                    if class_for(l.size(), l.align()).is_some() {
                        fatal(FatalKind::WrongLayout);
                    }
                }
            }
            // A free page of a live segment (its slab was released: a stale pointer), a
            // cached segment, or an interior pointer of a large block.
            _ => fatal(FatalKind::InvalidFree),
        }
        return None;
    }
    // SAFETY: registered segment, live slab.
    Some(unsafe { bit_of(p, layout) })
}

/// Validates the free of `p` and marks it free. Aborts on misuse.
///
/// # Safety
/// None beyond `p` being any pointer value (see [`validate`]).
pub unsafe fn check_free(p: *mut u8, layout: Option<Layout>) {
    // SAFETY: forwarded.
    if let Some((word, bit)) = unsafe { validate(p, layout) } {
        if word.fetch_and(!bit, Ordering::AcqRel) & bit == 0 {
            fatal(FatalKind::DoubleFree);
        }
    }
}

/// Validates `p` as [`check_free`] does but leaves it live (`realloc`, which may keep the
/// block): a block already freed aborts with `double free`.
///
/// # Safety
/// None beyond `p` being any pointer value (see [`validate`]).
pub unsafe fn check_live(p: *mut u8, layout: Option<Layout>) {
    // SAFETY: forwarded.
    if let Some((word, bit)) = unsafe { validate(p, layout) } {
        if word.load(Ordering::Acquire) & bit == 0 {
            fatal(FatalKind::DoubleFree);
        }
    }
}

/// Marks a small block as handed to the user.
///
/// # Safety
/// `p` is a block hz3 is about to return from a small class.
pub unsafe fn mark_alloc(p: *mut u8) {
    // SAFETY: a block we just popped: registered segment, live slab.
    let (word, bit) = unsafe { bit_of(p, None) };
    if word.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
        fatal(FatalKind::Internal);
    }
}
