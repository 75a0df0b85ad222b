//! Fatal errors: a fixed message written with a raw `write(2)`, then `abort()`.
//!
//! The allocator never panics and never allocates on an error path (rule 1): a panic would
//! unwind across `GlobalAlloc`/C, and formatting would allocate. Death tests match the exact
//! text of [`FatalKind::message`].

/// The kinds of fatal error hz3 reports. Each has one fixed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatalKind {
    /// The OS refused to map metadata the allocator cannot run without.
    OutOfMetadata,
    /// A block was freed twice (checked flavour).
    DoubleFree,
    /// A pointer that hz3 never returned was freed (checked flavour).
    InvalidFree,
    /// `dealloc` was given a layout whose size class differs from the block's (checked flavour).
    WrongLayout,
    /// A free-list link failed its integrity check: memory was written after free (checked flavour).
    CorruptFreeList,
    /// An internal invariant failed (a bug in hz3).
    Internal,
}

impl FatalKind {
    /// The exact line written to standard error before aborting.
    pub const fn message(self) -> &'static str {
        match self {
            FatalKind::OutOfMetadata => "hz3: fatal: out of memory for allocator metadata\n",
            FatalKind::DoubleFree => "hz3: fatal: double free\n",
            FatalKind::InvalidFree => "hz3: fatal: invalid free\n",
            FatalKind::WrongLayout => "hz3: fatal: dealloc layout does not match the allocation\n",
            FatalKind::CorruptFreeList => "hz3: fatal: free list corrupted (use after free?)\n",
            FatalKind::Internal => "hz3: fatal: internal invariant violated\n",
        }
    }
}

/// Writes the fixed message of `kind` to fd 2 and aborts the process. Never allocates, never
/// unwinds.
#[cold]
#[inline(never)]
pub fn fatal(kind: FatalKind) -> ! {
    let msg = kind.message();
    // SAFETY: `msg` is a valid readable buffer of `msg.len()` bytes for the whole call; write(2)
    // on fd 2 has no other precondition. A short or failed write is ignored: we abort anyway.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::abort()
    }
}
