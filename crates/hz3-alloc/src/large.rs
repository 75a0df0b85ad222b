//! Large blocks (above `MAX_SMALL`, or aligned above `MAX_CLASS_ALIGN`): one OS mapping each,
//! with a segment header placed so that `segment_of(p)` finds it (P1).
//!
//! Layout: for `align < SEGMENT_SIZE` the mapping starts at a segment boundary `base`, the
//! header is at `base` and the block at `base + max(PAGE_SIZE, align)`. For larger alignments
//! the block sits at an `align` boundary `p` and the header at `p - SEGMENT_SIZE` (so
//! `segment_of(p) = (p - 1) & !(SEGMENT_SIZE - 1)` is the header). The header's page metas
//! stay zero, so a free of a large block always reaches the slow path (P2).
//!
//! Invariant **L1**: `kind == Large`, `map_base`/`map_len` describe the whole mapping,
//! `large_block` is the block's address and `large_size` its usable size (the request rounded
//! up to whole OS pages; `p + large_size` lies inside the mapping).

use core::ptr;
use core::sync::atomic::Ordering;
use hz3_page::{segment_of, OsMemory, SegmentHeader, SegmentKind, SystemOs, OS_PAGE, PAGE_SIZE, SEGMENT_SIZE};

/// Maps a large block; null on overflow or OS failure.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let size = match size.checked_add(OS_PAGE - 1) {
        Some(s) => s & !(OS_PAGE - 1),
        None => return ptr::null_mut(),
    };
    let (base, p, len) = if align < SEGMENT_SIZE {
        let off = align.max(PAGE_SIZE);
        let Some(len) = size.checked_add(off) else { return ptr::null_mut() };
        let base = SystemOs::map(len, SEGMENT_SIZE);
        if base.is_null() {
            return base;
        }
        (base, base as usize + off, len)
    } else {
        let Some(len) = size.checked_add(align).and_then(|l| l.checked_add(SEGMENT_SIZE)) else {
            return ptr::null_mut();
        };
        let base = SystemOs::map(len, SEGMENT_SIZE);
        if base.is_null() {
            return base;
        }
        let p = (base as usize + SEGMENT_SIZE + align - 1) & !(align - 1);
        (base, p, len)
    };
    let hdr = segment_of(p as *const u8);
    // SAFETY: `hdr` lies inside the fresh mapping (at `base` or `p - SEGMENT_SIZE >= base`),
    // is segment aligned and zeroed; nobody else knows it yet.
    unsafe {
        let h = &*hdr;
        h.map_base.set(base);
        h.map_len.set(len);
        h.large_size.set(size);
        h.large_block.set(p as *mut u8);
        h.kind.store(SegmentKind::Large as u32, Ordering::Release);
    }
    hz3_page::segmap::register(hdr as usize);
    p as *mut u8
}

/// The header of `p` if it is a large block.
///
/// # Safety
/// `p` was returned by hz3 and its meta reads owner 0.
#[inline]
pub unsafe fn header(p: *mut u8) -> Option<&'static SegmentHeader> {
    // SAFETY: P1: the segment of any hz3 block is mapped and starts with a header.
    let h = unsafe { &*segment_of(p) };
    (h.kind.load(Ordering::Relaxed) == SegmentKind::Large as u32).then_some(h)
}

/// Usable size of a large block.
pub fn usable_size(h: &SegmentHeader) -> usize {
    h.large_size.get()
}

/// Unmaps a large block.
///
/// # Safety
/// `h` is the header of a live large block that the caller gives up.
pub unsafe fn free(h: &SegmentHeader) {
    let (base, len) = (h.map_base.get(), h.map_len.get());
    hz3_page::segmap::unregister(h as *const SegmentHeader as usize);
    // SAFETY: L1: the mapping came from `SystemOs::map(len, ..)`; nothing in it is live.
    unsafe { SystemOs::unmap(base, len) };
}
