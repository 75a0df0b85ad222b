//! Slabs and segments of a heap: carving a new slab out of an owned segment, giving a slab
//! back, and the process-wide cache of free segments.
//!
//! Invariants:
//! - **G1** A small segment is owned by exactly one heap (`SegmentHeader::owner`), which alone
//!   changes its `free_pages`; bit `i` is set iff page `i` belongs to no slab.
//! - **G2** A segment whose pages are all free is unlinked from its heap and goes to the
//!   segment cache (decommitted) or back to the OS; no block of it is live (P3).
//! - **G3** The segment cache holds at most [`SEGMENT_CACHE_MAX`] segments, each decommitted
//!   (reads zero) and unowned.
//! - **G4** `dirty_pages ⊆ free_pages`; a segment holds fewer than [`DIRTY_PAGES_MAX`] dirty
//!   pages after any release, and none after `flush_all` (thread exit, `collect()`): freed
//!   memory goes back to the OS after a bounded amount of reuse-friendly slack.

use crate::heap::{list_push, list_remove, Heap, Local, ON_FULL, ON_PARTIAL};
use crate::lock::SpinLock;
use crate::config::Config;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::Ordering;
use hz3_page::{
    class_size, find_run, page_meta, page_start, run_mask, slab_capacity, slab_pages, OsMemory,
    PageMeta, SegmentHeader, SegmentKind, SystemOs, ALL_SLAB_PAGES, PAGE_SIZE, SEGMENT_SIZE,
};
use hz3_pageq::RemoteFree;

/// Free segments kept for reuse (decommitted) before unmapping.
pub const SEGMENT_CACHE_MAX: usize = 8;
/// Free-but-committed pages a segment may hold before they are decommitted (G4).
pub const DIRTY_PAGES_MAX: usize = 16;

/// Decommits every dirty free page of `seg` (in maximal runs).
///
/// # Safety
/// The caller owns `seg` (G1).
pub unsafe fn decommit_dirty(seg: *mut SegmentHeader) {
    // SAFETY: G1.
    let s = unsafe { &*seg };
    let mut dirty = s.dirty_pages.get();
    s.dirty_pages.set(0);
    while dirty != 0 {
        let start = dirty.trailing_zeros() as usize;
        let len = (!(dirty >> start)).trailing_zeros() as usize;
        // SAFETY: dirty pages are free (G4) and lie inside the segment.
        unsafe { SystemOs::decommit(page_start(seg, start), len * PAGE_SIZE) };
        dirty &= !run_mask(start, len);
    }
}

struct SegmentCache {
    lock: SpinLock,
    slots: UnsafeCell<[*mut SegmentHeader; SEGMENT_CACHE_MAX]>,
    len: UnsafeCell<usize>,
}

// SAFETY: `slots` and `len` are only accessed with `lock` held.
unsafe impl Sync for SegmentCache {}

static SEGMENT_CACHE: SegmentCache = SegmentCache {
    lock: SpinLock::new(),
    slots: UnsafeCell::new([ptr::null_mut(); SEGMENT_CACHE_MAX]),
    len: UnsafeCell::new(0),
};

/// A fresh or cached segment (zeroed data pages, header to be formatted), or null.
fn segment_acquire() -> *mut SegmentHeader {
    {
        let _g = SEGMENT_CACHE.lock.lock();
        // SAFETY: the lock is held (see `SegmentCache`).
        unsafe {
            let len = &mut *SEGMENT_CACHE.len.get();
            if *len > 0 {
                *len -= 1;
                return (*SEGMENT_CACHE.slots.get())[*len];
            }
        }
    }
    let seg = SystemOs::map(SEGMENT_SIZE, SEGMENT_SIZE);
    if !seg.is_null() {
        hz3_page::segmap::register(seg as usize);
    }
    seg.cast()
}

/// Gives an empty segment back (G2, G3).
///
/// # Safety
/// No page of `seg` is in use and no heap links it.
unsafe fn segment_release(seg: *mut SegmentHeader) {
    // SAFETY: the whole segment is unused (caller); decommit zeroes it, header included, so a
    // later `segment_acquire` gets an all-zero header (every meta owner 0, P2).
    unsafe { SystemOs::decommit(seg.cast(), SEGMENT_SIZE) };
    {
        let _g = SEGMENT_CACHE.lock.lock();
        // SAFETY: the lock is held.
        unsafe {
            let len = &mut *SEGMENT_CACHE.len.get();
            if *len < SEGMENT_CACHE_MAX {
                (*SEGMENT_CACHE.slots.get())[*len] = seg;
                *len += 1;
                return;
            }
        }
    }
    hz3_page::segmap::unregister(seg as usize);
    // SAFETY: `seg` came from `SystemOs::map(SEGMENT_SIZE, ..)` and nothing uses it.
    unsafe { SystemOs::unmap(seg.cast(), SEGMENT_SIZE) };
}

/// Unmaps every cached segment (used by `collect`).
pub fn segment_cache_trim() {
    loop {
        let seg = {
            let _g = SEGMENT_CACHE.lock.lock();
            // SAFETY: the lock is held.
            unsafe {
                let len = &mut *SEGMENT_CACHE.len.get();
                if *len == 0 {
                    return;
                }
                *len -= 1;
                (*SEGMENT_CACHE.slots.get())[*len]
            }
        };
        hz3_page::segmap::unregister(seg as usize);
        // SAFETY: cached segments are unused and came from `map(SEGMENT_SIZE, ..)` (G3).
        unsafe { SystemOs::unmap(seg.cast(), SEGMENT_SIZE) };
    }
}

/// Resets the cache lock in a fork child.
///
/// # Safety
/// Only in the child right after `fork`, single-threaded.
pub unsafe fn segment_cache_after_fork_child() {
    // SAFETY: forwarded.
    unsafe { SEGMENT_CACHE.lock.force_unlock() };
}

/// Locks the segment cache across `fork` (prepare); the guard is forgotten and released by
/// [`segment_cache_after_fork_parent`] / `_child`.
pub fn segment_cache_before_fork() {
    core::mem::forget(SEGMENT_CACHE.lock.lock());
}

/// Releases the lock taken by [`segment_cache_before_fork`] in the parent.
///
/// # Safety
/// Only after `segment_cache_before_fork` in the same thread.
pub unsafe fn segment_cache_after_fork_parent() {
    // SAFETY: we hold the lock (forgotten guard).
    unsafe { SEGMENT_CACHE.lock.force_unlock() };
}

impl<R: RemoteFree, C: Config> Heap<R, C> {
    /// Carves a new slab of class `c` from an owned segment (or a new one) and puts it at the
    /// front of `partial[c]`. Null if the OS is out of memory.
    ///
    /// # Safety
    /// H4.
    pub(crate) unsafe fn new_slab(&self, local: &mut Local<R>, c: usize) -> *mut PageMeta {
        let n = slab_pages(c);
        let mut seg = local.segments;
        let mut found = None;
        while !seg.is_null() {
            // SAFETY: segments on our list are live and ours (G1).
            let s = unsafe { &*seg };
            if let Some(i) = find_run(s.free_pages.get(), n) {
                found = Some((seg, i));
                break;
            }
            seg = s.next.get();
        }
        let (seg, idx) = match found {
            Some(f) => f,
            None => {
                let seg = segment_acquire();
                if seg.is_null() {
                    return ptr::null_mut();
                }
                // SAFETY: a fresh/cached segment is zeroed and ours alone.
                let s = unsafe { &*seg };
                s.kind.store(SegmentKind::Small as u32, Ordering::Relaxed);
                s.owner.set(self.shared.id);
                s.free_pages.set(ALL_SLAB_PAGES);
                s.prev.set(ptr::null_mut());
                s.next.set(local.segments);
                if !local.segments.is_null() {
                    // SAFETY: our segment list.
                    unsafe { &*local.segments }.prev.set(seg);
                }
                local.segments = seg;
                (seg, find_run(ALL_SLAB_PAGES, n).unwrap_or(1))
            }
        };
        // SAFETY: G1: we own the segment.
        let s = unsafe { &*seg };
        s.free_pages.set(s.free_pages.get() & !run_mask(idx, n));
        s.dirty_pages.set(s.dirty_pages.get() & !run_mask(idx, n));
        // SAFETY: `idx + n <= 64` (found in the mask); metas of a live segment.
        let head = unsafe { &*page_meta(seg, idx) };
        head.free.set(ptr::null_mut());
        head.used.set(0);
        head.carved.set(0);
        head.capacity.set(slab_capacity(c) as u32);
        head.block_size.set(class_size(c) as u32);
        head.slab_pages.set(n as u32);
        head.start.set(page_start(seg, idx));
        head.list_flags.set(ON_PARTIAL);
        for i in idx..idx + n {
            // SAFETY: as above.
            let m = unsafe { &*page_meta(seg, i) };
            m.class.store(c as u32, Ordering::Relaxed);
            m.head.store(idx as u32, Ordering::Relaxed);
            // P4: owner last; the slab has no block outside it yet.
            m.owner.store(self.shared.id, Ordering::Relaxed);
        }
        list_push(&mut local.partial[c], head);
        head as *const PageMeta as *mut PageMeta
    }

    /// Gives slab `head` back to its segment, and the segment to the cache if it is empty.
    ///
    /// # Safety
    /// H4; `head.used == 0` and the slab is in no queue or packet (H3).
    pub(crate) unsafe fn release_slab(&self, local: &mut Local<R>, head: &PageMeta) {
        let c = head.class();
        match head.list_flags.get() {
            ON_PARTIAL => list_remove(&mut local.partial[c], head),
            ON_FULL => list_remove(&mut local.full[c], head),
            _ => {}
        }
        head.list_flags.set(0);
        let (seg, idx) = hz3_page::meta_index(head);
        let n = head.slab_pages.get() as usize;
        for i in idx..idx + n {
            // SAFETY: pages of the slab in a live segment.
            let m = unsafe { &*page_meta(seg, i) };
            m.owner.store(0, Ordering::Relaxed);
        }
        // No block is outside the slab, so no pusher exists: clear flags a strategy left
        // (E's NOTIFY). A remote block left here would be a lost block (S5, checked inside).
        head.reset_remote();
        // SAFETY: G1: we own the segment.
        let s = unsafe { &*seg };
        let free = s.free_pages.get() | run_mask(idx, n);
        s.free_pages.set(free);
        if n >= 4 {
            // Large slabs: give their memory back at once (medium sizes are not hot).
            // SAFETY: the slab has no live block (`used == 0`).
            unsafe { SystemOs::decommit(page_start(seg, idx), n * PAGE_SIZE) };
        } else {
            // Small slabs: keep the pages warm for reuse, up to a bound per segment (G4).
            let dirty = s.dirty_pages.get() | run_mask(idx, n);
            s.dirty_pages.set(dirty);
            if dirty.count_ones() as usize >= DIRTY_PAGES_MAX && free != ALL_SLAB_PAGES {
                // SAFETY: G1: we own the segment; dirty pages are free.
                unsafe { decommit_dirty(seg) };
            }
        }
        if free == ALL_SLAB_PAGES {
            let (prev, next) = (s.prev.get(), s.next.get());
            if prev.is_null() {
                local.segments = next;
            } else {
                // SAFETY: our segment list.
                unsafe { &*prev }.next.set(next);
            }
            if !next.is_null() {
                // SAFETY: our segment list.
                unsafe { &*next }.prev.set(prev);
            }
            // SAFETY: every page is free and the segment is unlinked (G2).
            unsafe { segment_release(seg) };
        }
    }
}
