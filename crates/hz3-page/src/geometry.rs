//! The sizes everything else is laid out by: segments, pages and the page tag's fields. Below
//! both [`page`](crate::page) (which lays segments out) and [`size_class`](crate::size_class)
//! (whose tables are built in pages and tag units), so neither needs the other for them.

/// log2 of [`SEGMENT_SIZE`].
pub const SEGMENT_SHIFT: usize = 22;
/// Size and alignment of a segment.
pub const SEGMENT_SIZE: usize = 1 << SEGMENT_SHIFT;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: usize = 16;
/// Size of a page (the unit slabs are made of).
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Pages per segment, including the header page 0.
pub const PAGES_PER_SEGMENT: usize = SEGMENT_SIZE / PAGE_SIZE;

/// Owner ids are multiples of this (invariant P6 of [`page`](crate::page)): heaps live in OS pages, and their address is the id.
pub const TAG_OWNER_ALIGN: usize = 4096;
/// The class's shift in [`PageMeta::tag`](crate::PageMeta::tag) (P6): `class << 4` is the byte offset of the class's
/// entry in an array of 16-byte entries (a thread cache's bins).
pub const TAG_CLASS_SHIFT: u32 = 4;
