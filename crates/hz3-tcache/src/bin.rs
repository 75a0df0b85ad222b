//! The bins of the thread cache: one intrusive LIFO of free blocks per size class, the empty
//! and dead sentinel heaps, the refill batch, and the bin links of the checked flavour.
//!
//! Invariants (see [`crate::heap`] for H2–H4 and H6):
//! - **H1** `bins` is the first field of `Local`, which is the first field of `Heap`
//!   (`repr(C)`), so the fast paths index bins from the heap pointer; the empty and dead
//!   sentinels ([`EMPTY_BINS`], [`DEAD_BINS`]) are just bins with null heads, which send every
//!   allocation to the slow path, and their address is never a slab owner, which sends every
//!   free to the slow path. A `Bin` is 16 bytes, so bin `c` lies at byte offset
//!   `c << TAG_CLASS_SHIFT` — the offset the page tag test yields for our own block (hz3-page
//!   P6): a free of our block finds its bin with one `xor` and one `add` from the heap
//!   pointer. Heaps are OS pages (ids are multiples of `TAG_OWNER_ALIGN`); a sentinel is a
//!   static, never in the same 4 KiB page as a heap, so no tag tests equal to it.
//! - **H5** In the checked flavour a bin link is stored as `next ^ secret ^ block` (a
//!   per-process secret from `getrandom`); links of spill and slab free lists are plain. A link
//!   is decoded and validated (`check_link`) whenever it leaves the bin.

use crate::config::Config;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
use hz3_page::{Block, NUM_CLASSES};

/// One size class of the thread cache: an intrusive LIFO of free blocks.
#[repr(C)]
#[derive(Debug)]
pub struct Bin {
    /// First free block (null = empty).
    pub head: *mut Block,
    /// Places left before the bin flushes: `limit` minus the blocks in the list (H2). A free
    /// decrements it and flushes when it falls below 0 (one `dec` and one sign test on the
    /// fast path, instead of a load, an increment, a store and a compare with `limit`); an
    /// allocation increments it.
    pub room: i32,
    /// The most blocks the bin holds outside a flush (H7).
    pub limit: u32,
}

/// The bin at byte offset `off` of the bins that start at `bins`, its address held in a
/// register: every access of the fast paths then addresses the bin as `[reg + disp]`, never
/// `[heap + off + disp]`. On this project's Intel machine (family 6 model 207) the bin's
/// loop-carried store→load round trips (head and count, every alloc/free pair) cost nothing
/// measurable when the store and the load share a plain base-plus-displacement address, and
/// about four times the pair's time when LLVM folds the offset into an indexed address
/// (local-fixed 449 M against 102 M pairs/s, same instructions): the CPU forwards (renames)
/// such memory round trips only in the simple form. The empty `asm!` is the one way to keep
/// LLVM from folding the index back in.
///
/// # Safety
/// `bins` points to an array of bins and `off` is a multiple of `size_of::<Bin>()` inside it.
#[inline(always)]
pub(crate) unsafe fn bin_at(bins: *mut u8, off: usize) -> *mut Bin {
    // SAFETY: in bounds by the caller's contract.
    let bin = unsafe { bins.add(off) };
    #[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
    {
        let mut bin = bin;
        // SAFETY: an empty instruction template that only names `bin` as an in/out register:
        // it reads and writes no memory (so `nomem` is right although a pointer passes
        // through), no stack and no flags; it only pins the value. (Passing the address as an
        // integer and rebuilding the pointer with `with_addr` lets LLVM fold the index back.)
        #[allow(clippy::pointers_in_nomem_asm_block)]
        unsafe {
            core::arch::asm!("/* {0} */", inout(reg) bin, options(pure, nomem, nostack, preserves_flags))
        };
        bin.cast()
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri), not(loom))))]
    bin.cast()
}

// H1: bin `c` is at byte offset `c << TAG_CLASS_SHIFT` of the bins (hz3-page P6).
const _: () = assert!(
    core::mem::size_of::<Bin>() == 1 << hz3_page::TAG_CLASS_SHIFT,
    "H1: a Bin is as long as the tag's class stride"
);

/// Bins of a sentinel heap (all empty).
#[repr(C, align(64))]
pub struct SentinelBins(pub [Bin; NUM_CLASSES]);

// SAFETY: the sentinel bins are never written (their heads are null, so no fast path pops;
// no slab is owned by their address, so no fast path pushes) — H1.
unsafe impl Sync for SentinelBins {}

const NULL_BIN: Bin = Bin {
    head: ptr::null_mut(),
    room: 0,
    limit: 0,
};
/// The heap of a thread that has not allocated yet.
pub static EMPTY_BINS: SentinelBins = SentinelBins([NULL_BIN; NUM_CLASSES]);
/// The heap of a thread whose heap was released at thread exit.
pub static DEAD_BINS: SentinelBins = SentinelBins([NULL_BIN; NUM_CLASSES]);

/// Blocks moved per refill from slabs or spill while the bin has its base limit (a grown bin,
/// H7, takes a quarter of its limit).
pub const fn batch_for(c: usize) -> u32 {
    let n = 16384 / hz3_page::size_class::CLASS_SIZE[c];
    if n < 2 {
        2
    } else if n > 32 {
        32
    } else {
        n
    }
}

/// A bin's limit when its heap is new, after `collect()`/thread exit, and after a homecoming
/// pass found its class idle (H7).
pub const fn base_limit(c: usize) -> u32 {
    batch_for(c) * 4
}

/// Bytes of blocks a bin may grow to hold when its class thrashes (H7).
pub const BIN_GROW_BYTES: u32 = 128 * 1024;
/// Most blocks a grown bin may hold (H7).
pub const BIN_GROW_BLOCKS: u32 = 1024;

/// The largest limit bin `c` may grow to: `BIN_GROW_BYTES` of blocks, at most
/// `BIN_GROW_BLOCKS`, never below [`base_limit`] (H7).
pub const fn max_limit(c: usize) -> u32 {
    let by_bytes = BIN_GROW_BYTES / hz3_page::size_class::CLASS_SIZE[c];
    let m = if by_bytes > BIN_GROW_BLOCKS {
        BIN_GROW_BLOCKS
    } else {
        by_bytes
    };
    if m > base_limit(c) {
        m
    } else {
        base_limit(c)
    }
}

/// Address of the empty sentinel heap.
pub const EMPTY: *mut u8 = &EMPTY_BINS as *const _ as *mut u8;
/// Address of the dead sentinel heap.
pub const DEAD: *mut u8 = &DEAD_BINS as *const _ as *mut u8;

// ------------------------------------------------------------------------------------------
// Bin links (H5: encoded in the checked flavour)
// ------------------------------------------------------------------------------------------

/// Reads a bin link: plain in the fast flavour; in the checked flavour links are stored
/// XOR-ed with a per-process secret and the block's own address (H5), so a use-after-free
/// write of any value decodes to an invalid link and is caught by `check_link`.
///
/// # Safety
/// `b` is a block in one of this thread's bins.
#[inline(always)]
pub(crate) unsafe fn next<C: Config>(b: *mut Block) -> *mut Block {
    // SAFETY: forwarded.
    let raw = unsafe { Block::next(b) };
    if C::CHECKS {
        (raw as usize ^ link_secret() ^ b as usize) as *mut Block
    } else {
        raw
    }
}

/// Writes a bin link (encoded in the checked flavour, H5).
///
/// # Safety
/// `b` is a free block owned by this thread, entering or inside one of its bins.
#[inline(always)]
pub(crate) unsafe fn set_next<C: Config>(b: *mut Block, next: *mut Block) {
    let v = if C::CHECKS {
        (next as usize ^ link_secret() ^ b as usize) as *mut Block
    } else {
        next
    };
    // SAFETY: forwarded.
    unsafe { Block::set_next(b, v) }
}

/// Rewrites a bin chain (null-terminated) with plain links, before it leaves the bin.
///
/// # Safety
/// `b` starts a chain taken out of one of this thread's bins.
pub(crate) unsafe fn decode_chain<C: Config>(mut b: *mut Block, c: usize) {
    if !C::CHECKS {
        return;
    }
    while !b.is_null() {
        // SAFETY: a block of the chain.
        unsafe {
            let next = next::<C>(b);
            check_link(0, c, next);
            Block::set_next(b, next);
            b = next;
        }
    }
}

static LINK_SECRET: AtomicUsize = AtomicUsize::new(0);

/// The per-process secret of the checked flavour's encoded links (H5): from `getrandom(2)`,
/// set once (the first value stored wins, so every thread uses the same one).
#[inline]
fn link_secret() -> usize {
    let s = LINK_SECRET.load(Ordering::Relaxed);
    if s != 0 {
        return s;
    }
    link_secret_init()
}

#[cold]
fn link_secret_init() -> usize {
    let mut v: usize = 0;
    // SAFETY: `v` is a valid 8-byte buffer; getrandom does not allocate.
    let n = unsafe {
        libc::getrandom(
            (&mut v as *mut usize).cast(),
            core::mem::size_of::<usize>(),
            0,
        )
    };
    if n != core::mem::size_of::<usize>() as isize || v == 0 {
        v = (&v as *const usize as usize).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    }
    match LINK_SECRET.compare_exchange(0, v | 1, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => v | 1,
        Err(winner) => winner,
    }
}

/// Checked flavour: a bin link must be null or a block of the same heap and class, else the
/// block was written after it was freed.
#[cold]
fn check_link_failed() -> ! {
    hz3_page::fatal(hz3_page::FatalKind::CorruptFreeList)
}

#[inline]
pub(crate) fn check_link(heap: usize, c: usize, next: *mut Block) {
    if next.is_null() {
        return;
    }
    let p = next.cast::<u8>();
    if (p as usize) & 15 != 0 || !hz3_page::segmap::contains(hz3_page::segment_of(p) as usize) {
        check_link_failed();
    }
    // SAFETY: the segment is hz3's and mapped (SM1).
    let meta = unsafe { &*hz3_page::meta_of(p) };
    // `heap == 0`: the bin may hold foreign blocks, so only the class is checked.
    let owner = meta.owner();
    if owner == 0
        || (heap != 0 && owner != heap)
        || meta.class() != c
        || meta.tag() != owner | c << hz3_page::TAG_CLASS_SHIFT
    {
        check_link_failed();
    }
}
