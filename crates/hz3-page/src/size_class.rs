//! Size classes: 16..=128 bytes in steps of 16, then four classes per doubling up to
//! [`MAX_SMALL`] (256 KiB), as jemalloc spaces them. Every power of two from 16 to `MAX_SMALL`
//! is a class, so any alignment up to [`MAX_CLASS_ALIGN`] is served by some class (invariant
//! SC3 below). Requests above `MAX_SMALL`, or aligned above `MAX_CLASS_ALIGN`, are "large".
//!
//! Invariants (tested exhaustively in `tests/size_class.rs`, T0):
//! - **SC1** `class_size` is strictly increasing and every size is a multiple of 16.
//! - **SC2** `class_size(class_of(n)) >= n` for `1 <= n <= MAX_SMALL`, and `class_of` picks the
//!   smallest such class.
//! - **SC3** `class_for(n, a)` (for `a <= MAX_CLASS_ALIGN`) returns the smallest class whose size
//!   is `>= n` and a multiple of `a`; because slabs start on [`PAGE_SIZE`]
//!   boundaries and blocks sit at multiples of the class size, every block of that class is
//!   `a`-aligned.
//! - **SC4** internal waste: `class_size(class_of(n)) <= n * 1.25` for `n > 128` (four classes
//!   per doubling), and `<= n + 15` for `n <= 128`.
//! - **SC5** a class's slab holds at least 4 blocks: `slab_pages(c) * PAGE_SIZE >= 4 * class_size(c)`.
//! - **SC6** bit `c` of [`LINE_EXCLUSIVE`] is set exactly when `class_size(c) % 64 == 0`; then,
//!   slabs starting on page boundaries, each block of class `c` covers whole cache lines.

use crate::geometry::{PAGE_SIZE, TAG_CLASS_SHIFT};

/// Number of size classes.
pub const NUM_CLASSES: usize = 8 + 4 * 11;
/// Largest size served from size classes.
pub const MAX_SMALL: usize = 256 * 1024;
/// Largest alignment served from size classes (a slab's start alignment).
pub const MAX_CLASS_ALIGN: usize = PAGE_SIZE;
/// Sizes up to this use the direct lookup table on the fast path (1025 bytes: sizes to 16 KiB
/// are common in C and C++ programs, and the table is read only where sizes fall).
pub const LUT_MAX: usize = 16384;

/// Bit `c` is set when class `c`'s blocks are whole 64-byte cache lines (SC6): such a block
/// shares no line with a neighbour, whoever holds the neighbour. (16, 32, 48, 80, 96, 112, 160
/// and 224 B are the classes that share lines.)
pub const LINE_EXCLUSIVE: u64 = {
    let mut m = 0u64;
    let mut c = 0;
    while c < NUM_CLASSES {
        if compute_class_size(c) % 64 == 0 {
            m |= 1 << c;
        }
        c += 1;
    }
    m
};

/// A size class index, `0 .. NUM_CLASSES`.
pub type SizeClass = usize;

const fn compute_class_size(c: usize) -> usize {
    if c < 8 {
        (c + 1) * 16
    } else {
        let g = (c - 8) / 4;
        let k = (c - 8) % 4 + 1;
        (1usize << (7 + g)) + k * (1usize << (5 + g))
    }
}

const fn compute_class_of(size: usize) -> usize {
    if size <= 128 {
        if size == 0 {
            0
        } else {
            (size - 1) / 16
        }
    } else {
        let lg = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize; // size-1 in [2^lg, 2^(lg+1))
        let step_shift = lg - 2;
        let k = (size - (1 << lg) + (1 << step_shift) - 1) >> step_shift; // 1..=4
        8 + (lg - 7) * 4 + (k - 1)
    }
}

const fn compute_slab_pages(c: usize) -> usize {
    let size = compute_class_size(c);
    let mut n = 1;
    while n < 16 && n * PAGE_SIZE < 8 * size {
        n *= 2;
    }
    n
}

const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        t[c] = compute_class_size(c) as u32;
        c += 1;
    }
    t
}

const fn build_lut() -> [u8; LUT_MAX / 16 + 1] {
    let mut t = [0u8; LUT_MAX / 16 + 1];
    let mut i = 0;
    while i <= LUT_MAX / 16 {
        t[i] = compute_class_of(i * 16) as u8;
        i += 1;
    }
    t
}

const fn build_offset_lut() -> [u16; LUT_MAX / 16 + 1] {
    let mut t = [0u16; LUT_MAX / 16 + 1];
    let mut i = 0;
    while i <= LUT_MAX / 16 {
        t[i] = (compute_class_of(i * 16) << TAG_CLASS_SHIFT) as u16;
        i += 1;
    }
    t
}

const fn build_slab_pages() -> [u8; NUM_CLASSES] {
    let mut t = [0u8; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        t[c] = compute_slab_pages(c) as u8;
        c += 1;
    }
    t
}

/// Block size of each class.
pub static CLASS_SIZE: [u32; NUM_CLASSES] = build_sizes();
/// `CLASS_LUT[(n + 15) / 16]` is the class of a request of `n <= LUT_MAX` bytes.
pub static CLASS_LUT: [u8; LUT_MAX / 16 + 1] = build_lut();
/// `CLASS_OFFSET_LUT[(n + 15) / 16] == CLASS_LUT[(n + 15) / 16] << TAG_CLASS_SHIFT`: the class
/// of a request as the byte offset of its entry in an array of 16-byte entries (the page tag's
/// unit, P6), so a thread cache finds the bin of a C `malloc` without a shift.
pub static CLASS_OFFSET_LUT: [u16; LUT_MAX / 16 + 1] = build_offset_lut();
/// Number of [`PAGE_SIZE`] pages in a slab of each class (1, 2, 4, 8 or 16).
pub static SLAB_PAGES: [u8; NUM_CLASSES] = build_slab_pages();

const _: () = assert!(compute_class_size(NUM_CLASSES - 1) == MAX_SMALL);
const _: () = assert!(compute_class_of(MAX_SMALL) == NUM_CLASSES - 1);
const _: () = assert!(compute_class_size(compute_class_of(129)) == 160);
const _: () = assert!(NUM_CLASSES <= 64);

/// The block size of class `c`.
#[inline(always)]
pub fn class_size(c: SizeClass) -> usize {
    CLASS_SIZE[c] as usize
}

/// The smallest class holding `size` bytes (`size <= MAX_SMALL`), 16-byte aligned.
#[inline(always)]
pub fn class_of(size: usize) -> SizeClass {
    debug_assert!(size <= MAX_SMALL);
    if size <= LUT_MAX {
        CLASS_LUT[(size + 15) >> 4] as usize
    } else {
        compute_class_of(size)
    }
}

/// The smallest class holding `size` bytes whose blocks are `align`-aligned, or `None` when the
/// request is large (`size > MAX_SMALL` or `align > MAX_CLASS_ALIGN`). `align` is a power of two.
#[inline]
pub fn class_for(size: usize, align: usize) -> Option<SizeClass> {
    if size > MAX_SMALL || align > MAX_CLASS_ALIGN {
        return None;
    }
    if align <= 16 {
        return Some(class_of(size));
    }
    let mut c = class_of(size.max(align));
    // SC3: a power-of-two class >= align exists, so this ends at or before it.
    while CLASS_SIZE[c] as usize & (align - 1) != 0 {
        c += 1;
    }
    Some(c)
}

/// Pages per slab of class `c`.
#[inline(always)]
pub fn slab_pages(c: SizeClass) -> usize {
    SLAB_PAGES[c] as usize
}

/// Blocks per slab of class `c`.
#[inline]
pub fn slab_capacity(c: SizeClass) -> usize {
    slab_pages(c) * PAGE_SIZE / class_size(c)
}
