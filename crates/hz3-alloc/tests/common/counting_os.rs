//! [`CountingOs`]: `SystemOs` with its mappings, unmappings and decommitted bytes counted,
//! every `map` refused while [`REFUSE`] is set and every `move_to` while [`REFUSE_MOVES`] is;
//! [`Counted`]: the fast flavour on it. The counters are process-wide, so a test binary that
//! reads them runs one test function.

use hz3_alloc::config::Config;
use hz3_page::{OsMemory, SystemOs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Successful `map` calls.
pub static MAPS: AtomicUsize = AtomicUsize::new(0);
/// `unmap` calls.
pub static UNMAPS: AtomicUsize = AtomicUsize::new(0);
/// Bytes passed to `decommit`.
pub static DECOMMITTED: AtomicUsize = AtomicUsize::new(0);
/// While set, `map` returns null.
pub static REFUSE: AtomicBool = AtomicBool::new(false);
/// While set, `move_to` fails (as the OS's does for a range it will not move).
pub static REFUSE_MOVES: AtomicBool = AtomicBool::new(false);

/// `SystemOs`, counted, and refusing every `map` while [`REFUSE`] is set.
pub struct CountingOs;

// SAFETY: every method forwards to `SystemOs` (which keeps the promises) or, for a refused
// `map`, returns null, which the contract allows.
unsafe impl OsMemory for CountingOs {
    const MOVES: bool = SystemOs::MOVES;
    fn map(size: usize, align: usize) -> *mut u8 {
        if REFUSE.load(Ordering::Relaxed) {
            return core::ptr::null_mut();
        }
        MAPS.fetch_add(1, Ordering::Relaxed);
        SystemOs::map(size, align)
    }
    unsafe fn unmap(p: *mut u8, size: usize) {
        UNMAPS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { SystemOs::unmap(p, size) }
    }
    unsafe fn decommit(p: *mut u8, size: usize) {
        DECOMMITTED.fetch_add(size, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { SystemOs::decommit(p, size) }
    }
    unsafe fn discard(p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { SystemOs::discard(p, size) }
    }
    unsafe fn grow_in_place(p: *mut u8, old: usize, new: usize) -> bool {
        // SAFETY: forwarded.
        unsafe { SystemOs::grow_in_place(p, old, new) }
    }
    unsafe fn move_to(p: *mut u8, old: usize, target: *mut u8, new: usize) -> bool {
        if REFUSE_MOVES.load(Ordering::Relaxed) {
            return false;
        }
        // SAFETY: forwarded.
        unsafe { SystemOs::move_to(p, old, target, new) }
    }
}

/// The fast flavour on [`CountingOs`].
pub struct Counted;

// SAFETY: ID 3 is the flavour slot the shipped flavours leave free; a test binary that uses
// this flavour uses no other flavour of ID 3.
unsafe impl Config for Counted {
    const NAME: &'static str = "counted";
    const ID: usize = 3;
    const STATS: bool = false;
    const CHECKS: bool = false;
    type Os = CountingOs;
}
