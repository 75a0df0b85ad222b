//! The owner's doubly linked lists of slab heads (`partial[class]`, `full[class]`, H3),
//! linked through `PageMeta::next`/`prev`, with the list a head is on recorded in
//! `PageMeta::list_flags`.

use core::ptr;
use hz3_page::PageMeta;

/// Flags in `PageMeta::list_flags`: on `partial[class]`.
pub const ON_PARTIAL: u32 = 1;
/// Flags in `PageMeta::list_flags`: on `full[class]`.
pub const ON_FULL: u32 = 2;

/// Pushes `meta` at the front of the list `head`.
pub fn list_push(head: &mut *mut PageMeta, meta: &PageMeta) {
    let p = meta as *const PageMeta as *mut PageMeta;
    meta.prev.set(ptr::null_mut());
    meta.next.set(*head);
    if !head.is_null() {
        // SAFETY: list members are live slab heads of this heap.
        unsafe { &**head }.prev.set(p);
    }
    *head = p;
}

/// Unlinks `meta` from the list `head`.
pub fn list_remove(head: &mut *mut PageMeta, meta: &PageMeta) {
    let (prev, next) = (meta.prev.get(), meta.next.get());
    if prev.is_null() {
        *head = next;
    } else {
        // SAFETY: list members are live slab heads.
        unsafe { &*prev }.next.set(next);
    }
    if !next.is_null() {
        // SAFETY: as above.
        unsafe { &*next }.prev.set(prev);
    }
    meta.prev.set(ptr::null_mut());
    meta.next.set(ptr::null_mut());
}
