//! The per-thread heap slots, one per allocator instance.
//!
//! By default the slots are a const-initialised `thread_local!` without `Drop` (no
//! registration, no allocation); in an executable that is one `fs:`-relative load
//! (local-exec). In a `cdylib` Rust uses the general-dynamic model — a `__tls_get_addr` call per
//! access — and `-Z tls-model` is nightly-only, so the `ie-tls` feature (turned on by
//! hz3-capi, x86-64 Linux only) defines the slots in assembly as an *initial-exec* TLS object:
//! `mov reg, [rip + sym@GOTTPOFF]; add reg, fs:[0]`, no call. The `.tdata` image carries the
//! address of [`EMPTY_BINS`](crate::bin::EMPTY_BINS) as each slot's initial value.
//!
//! Invariant **T1**: a slot holds `EMPTY`, `DEAD` or the address of a heap held by this thread
//! (O1).
//! Beside each slot, a young-phase word (O4): how many small-block allocations this thread
//! made through the shared fallback heap before it took a heap of its own, their bytes, and
//! its frees of other heaps' blocks.

use crate::config::MAX_INSTANCES;

#[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "ie-tls"))]
mod imp {
    use super::MAX_INSTANCES;
    use crate::bin::EMPTY_BINS;

    core::arch::global_asm!(
        ".pushsection .tdata,\"awT\",@progbits",
        ".p2align 6",
        ".globl hz3_tls_slots",
        ".hidden hz3_tls_slots",
        ".type hz3_tls_slots, @tls_object",
        ".size hz3_tls_slots, {bytes}",
        "hz3_tls_slots:",
        ".rept {n}",
        ".quad {empty}",
        ".endr",
        ".rept {n}",
        ".quad 0",
        ".endr",
        ".popsection",
        bytes = const MAX_INSTANCES * 16,
        n = const MAX_INSTANCES,
        empty = sym EMPTY_BINS,
    );

    /// This thread's slot array (its address is fixed for the thread's life, so the asm is
    /// `pure`/`nomem` and the compiler may reuse it).
    #[inline(always)]
    fn base() -> *mut *mut u8 {
        let t: usize;
        // SAFETY: computes the address of this thread's copy of `hz3_tls_slots` (a hidden
        // IE-TLS object defined above): GOT-held offset plus the thread pointer at fs:0.
        unsafe {
            core::arch::asm!(
                "mov {t}, qword ptr [rip + hz3_tls_slots@GOTTPOFF]",
                "add {t}, qword ptr fs:[0]",
                t = out(reg) t,
                options(nostack, pure, nomem),
            );
        }
        t as *mut *mut u8
    }

    /// Reads slot `i`.
    #[inline(always)]
    pub fn get(i: usize) -> *mut u8 {
        debug_assert!(i < MAX_INSTANCES);
        // SAFETY: `i < MAX_INSTANCES`; the slot belongs to this thread.
        unsafe { *base().add(i) }
    }

    /// Writes slot `i`.
    #[inline(always)]
    pub fn set(i: usize, p: *mut u8) {
        debug_assert!(i < MAX_INSTANCES);
        // SAFETY: as in `get`.
        unsafe { *base().add(i) = p }
    }
    /// Reads young-phase word `i` (O4).
    #[inline]
    pub fn young(i: usize) -> usize {
        debug_assert!(i < MAX_INSTANCES);
        // SAFETY: the object holds `2 * MAX_INSTANCES` words; the counters follow the slots.
        unsafe { *base().add(MAX_INSTANCES + i) as usize }
    }

    /// Writes young-phase word `i` (O4).
    #[inline]
    pub fn set_young(i: usize, n: usize) {
        debug_assert!(i < MAX_INSTANCES);
        // SAFETY: as in `young`.
        unsafe { *base().add(MAX_INSTANCES + i) = n as *mut u8 }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux", feature = "ie-tls")))]
mod imp {
    use super::MAX_INSTANCES;
    use crate::bin::EMPTY;
    use core::cell::Cell;

    std::thread_local! {
        static SLOTS: [Cell<*mut u8>; MAX_INSTANCES] =
            const { [const { Cell::new(EMPTY) }; MAX_INSTANCES] };
    }

    /// Reads slot `i`.
    #[inline(always)]
    pub fn get(i: usize) -> *mut u8 {
        SLOTS.with(|s| s[i].get())
    }

    /// Writes slot `i`.
    #[inline(always)]
    pub fn set(i: usize, p: *mut u8) {
        SLOTS.with(|s| s[i].set(p))
    }
    std::thread_local! {
        static YOUNG: [Cell<usize>; MAX_INSTANCES] =
            const { [const { Cell::new(0) }; MAX_INSTANCES] };
    }

    /// Reads young-phase word `i` (O4).
    #[inline]
    pub fn young(i: usize) -> usize {
        YOUNG.with(|s| s[i].get())
    }

    /// Writes young-phase word `i` (O4).
    #[inline]
    pub fn set_young(i: usize, n: usize) {
        YOUNG.with(|s| s[i].set(n))
    }
}

pub use imp::{get, set, set_young, young};
