//! MPSC intrusive lists of freed blocks: any thread pushes, one owner takes everything.
//!
//! Two representations share one word:
//! - [`RemoteList`]: the word is the head pointer (null = empty). Used for variant A's owner
//!   stash and for the page-local `remote_head` of B, C and D (whose queued/idle state lives in
//!   a separate word).
//! - [`PackedRemoteList`]: the low bit of the word is the page's *queued* flag and the rest is
//!   the head pointer (blocks are 16-byte aligned), so one CAS decides both (C-packed).
//!
//! Invariants:
//! - **R1** A block is in at most one list at a time; its first word is its link while listed.
//! - **R2** A pusher writes the link before the `Release` CAS that publishes the block; the
//!   taker's `Acquire` swap makes the links of every block it takes visible (no torn lists).
//! - **R3** Only one thread (the list's consumer) takes from a list, and it takes *everything*
//!   with one swap, so there is no pop and hence no ABA problem and no need for epoch
//!   reclamation.
//! - **R4** (packed) the word is `0` (idle, empty), `QUEUED` (queued or being processed, empty)
//!   or `head | QUEUED`; a non-empty list is always queued. A push that finds the word `0` is
//!   the unique push that must notify the owner.
//! - **R7** (packed, flagged) the push that wins the right to queue the page (it found the
//!   word idle, or flagged `NOTIFY`) acquires it: an `Acquire` fence after its `Release` CAS
//!   synchronises with the owner's `try_idle` / `try_mark_full` (AcqRel). Without it, the
//!   pusher's following `xqnext` store (queueing the page) is unordered with the previous
//!   queuer's store to the same field, C11 may order it first, and the owner can read the
//!   stale link and lose a page from its queue (found by `tests/loom_pageq.rs` in hz3-pageq).

use crate::sync::{fence, AtomicPtr, Ordering, UnsafeCell};
use core::ptr::{self, NonNull};

/// A free block viewed as a list node: its first word is the link.
#[repr(C)]
#[derive(Debug)]
pub struct Block {
    next: UnsafeCell<*mut Block>,
}

impl Block {
    /// A detached block (for tests and models that own their blocks).
    pub fn new() -> Self {
        Block {
            next: UnsafeCell::new(ptr::null_mut()),
        }
    }

    /// Reads the link of `b`.
    ///
    /// # Safety
    /// `b` points to a block owned by the caller (or published to it with acquire ordering).
    #[inline(always)]
    pub unsafe fn next(b: *mut Block) -> *mut Block {
        // SAFETY: the caller owns `b` (R1/R2), so the link is initialised and not written
        // concurrently.
        unsafe { (*b).next.with(|p| *p) }
    }

    /// Writes the link of `b`.
    ///
    /// # Safety
    /// `b` points to at least one writable word owned by the caller.
    #[inline(always)]
    pub unsafe fn set_next(b: *mut Block, next: *mut Block) {
        // SAFETY: the caller owns `b`; nobody else reads or writes its link now (R1).
        unsafe { (*b).next.with_mut(|p| *p = next) }
    }
}

impl Default for Block {
    fn default() -> Self {
        Self::new()
    }
}

/// The success ordering of [`RemoteList`]'s publishing CAS: `Release` (R2). A build with
/// `--cfg hz3_broken_ordering` weakens it to `Relaxed`, only so that the dynamic checkers can
/// be shown to catch a broken R2 (`tests/remote_threads.rs`, `broken_r2_is_caught`).
#[cfg(not(hz3_broken_ordering))]
const PUBLISH: Ordering = Ordering::Release;
#[cfg(hz3_broken_ordering)]
const PUBLISH: Ordering = Ordering::Relaxed;

/// What a push observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Push {
    /// The list was empty before this push (the empty → non-empty transition), or for a
    /// [`PackedRemoteList`], the word was idle: this push must notify the owner.
    pub notify: bool,
    /// Failed CAS attempts before the successful one.
    pub retries: u32,
}

/// An MPSC list of blocks whose word is the head pointer.
///
/// ```
/// use hz3_page::{Block, RemoteList};
/// let list = RemoteList::new();
/// let mut a = Block::new();
/// let mut b = Block::new();
/// // SAFETY: the blocks live on this stack frame for the whole example and are pushed once.
/// unsafe {
///     assert!(list.push((&mut a).into()).notify); // empty -> non-empty
///     assert!(!list.push((&mut b).into()).notify);
/// }
/// let head = list.take_all();
/// assert_eq!(head, &mut b as *mut Block);
/// assert!(list.take_all().is_null());
/// ```
#[repr(transparent)]
#[derive(Debug)]
pub struct RemoteList {
    head: AtomicPtr<Block>,
}

impl RemoteList {
    /// An empty list.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        RemoteList {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }
    /// An empty list.
    #[cfg(loom)]
    pub fn new() -> Self {
        RemoteList {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes one block. Any thread.
    ///
    /// # Safety
    /// `b` is a block the caller owns and gives up (R1); it stays valid until taken.
    #[inline]
    pub unsafe fn push(&self, b: NonNull<Block>) -> Push {
        // SAFETY: forwarded contract; a single block is a list whose first and last coincide.
        unsafe { self.push_list(b, b) }
    }

    /// Pushes the chain `first ..= last` (already linked through their first words). Any thread.
    ///
    /// # Safety
    /// The caller owns every block of the chain and gives them up; `last` is reachable from
    /// `first`.
    #[inline]
    pub unsafe fn push_list(&self, first: NonNull<Block>, last: NonNull<Block>) -> Push {
        let mut old = self.head.load(Ordering::Relaxed);
        let mut retries = 0;
        loop {
            // SAFETY: the caller owns `last` until the CAS below publishes it (R1).
            unsafe { Block::set_next(last.as_ptr(), old) };
            // Release: publishes the links written above (R2).
            match self
                .head
                .compare_exchange_weak(old, first.as_ptr(), PUBLISH, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Push {
                        notify: old.is_null(),
                        retries,
                    }
                }
                Err(cur) => {
                    old = cur;
                    retries += 1;
                }
            }
        }
    }

    /// Takes every block (one swap). Consumer only (R3).
    #[inline]
    pub fn take_all(&self) -> *mut Block {
        // Acquire: pairs with the pushers' Release (R2).
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }

    /// Whether the list looks empty (a relaxed snapshot).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// The raw word (relaxed snapshot).
    #[inline]
    pub fn raw(&self) -> usize {
        self.head.load(Ordering::Relaxed).addr()
    }

    /// Owner only, with no pusher possible (P3): clears the word.
    #[inline]
    pub fn reset(&self) {
        self.head.store(ptr::null_mut(), Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
impl Default for RemoteList {
    fn default() -> Self {
        Self::new()
    }
}

/// The queued flag in a [`PackedRemoteList`] word.
pub const QUEUED: usize = 1;

/// The words that carry flags and no head: addresses without provenance (nothing is ever
/// read through them), so the lists' words stay pointers and every head keeps the provenance
/// of the block it was pushed as (`-Zmiri-strict-provenance` checks this).
const QUEUED_WORD: *mut Block = ptr::without_provenance_mut(QUEUED);
const NOTIFY_WORD: *mut Block = ptr::without_provenance_mut(NOTIFY);

/// An MPSC list whose word packs the head pointer and a *queued* flag (R4).
///
/// ```
/// use hz3_page::{Block, PackedRemoteList};
/// let list = PackedRemoteList::new();
/// let mut a = Block::new();
/// // SAFETY: `a` lives for the whole example and is pushed once.
/// let push = unsafe { list.push((&mut a).into()) };
/// assert!(push.notify); // idle -> queued: the pusher enqueues the page
/// let head = list.take_all_keep_queued();
/// assert_eq!(head, &mut a as *mut Block);
/// assert!(list.try_idle()); // nothing arrived meanwhile: back to idle
/// ```
#[repr(transparent)]
#[derive(Debug)]
pub struct PackedRemoteList {
    word: AtomicPtr<Block>,
}

impl PackedRemoteList {
    /// An idle, empty list.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        PackedRemoteList {
            word: AtomicPtr::new(ptr::null_mut()),
        }
    }
    /// An idle, empty list.
    #[cfg(loom)]
    pub fn new() -> Self {
        PackedRemoteList {
            word: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes one block and sets the queued flag in the same CAS. `notify` is true exactly when
    /// the word was idle, i.e. this caller must enqueue the page (R4).
    ///
    /// # Safety
    /// As [`RemoteList::push`]; `b` is at least 2-byte aligned.
    #[inline]
    pub unsafe fn push(&self, b: NonNull<Block>) -> Push {
        let mut old = self.word.load(Ordering::Relaxed);
        let mut retries = 0;
        loop {
            // The flag bits are set and cleared as byte offsets from the pointer (`b` is aligned,
            // so `+ QUEUED` is `| QUEUED`): strict provenance, and the same single add/sub as
            // the integer form, where `map_addr` cost the CAS loop extra instructions.
            // SAFETY: the caller owns `b` until the CAS publishes it (R1).
            unsafe { Block::set_next(b.as_ptr(), old.wrapping_byte_sub(old.addr() & QUEUED)) };
            let new = b.as_ptr().wrapping_byte_add(QUEUED);
            // Release publishes the link (R2).
            match self
                .word
                .compare_exchange_weak(old, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    let notify = old.addr() & QUEUED == 0;
                    if notify {
                        // R7: the winner of idle -> queued takes the page over from the owner's
                        // `try_idle` (AcqRel), so its later writes to the page (`xqnext` when it
                        // queues it) are ordered after everything the previous round did.
                        fence(Ordering::Acquire);
                    }
                    return Push { notify, retries };
                }
                Err(cur) => {
                    old = cur;
                    retries += 1;
                }
            }
        }
    }

    /// Owner, while the page is queued or being processed: takes every block and leaves the
    /// word `QUEUED` (still claimed by the owner).
    #[inline]
    pub fn take_all_keep_queued(&self) -> *mut Block {
        self.word
            .swap(QUEUED_WORD, Ordering::Acquire)
            .map_addr(|a| a & !QUEUED)
    }

    /// Owner, after processing: `QUEUED → 0` (idle). Fails exactly when a push arrived since the
    /// last take; the page then has blocks, is still flagged queued, and the owner must requeue
    /// it — no pusher will (R4), so no wakeup is lost.
    #[inline]
    pub fn try_idle(&self) -> bool {
        self.word
            .compare_exchange(
                QUEUED_WORD,
                ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The raw word (relaxed snapshot), for assertions.
    #[inline]
    pub fn raw(&self) -> usize {
        self.word.load(Ordering::Relaxed).addr()
    }
}

#[cfg(not(loom))]
impl Default for PackedRemoteList {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts the blocks of a chain and returns `(count, last)`.
///
/// # Safety
/// `head` is null or the start of a null-terminated chain the caller owns.
pub unsafe fn chain_len(head: *mut Block) -> (usize, *mut Block) {
    let mut n = 0;
    let mut last = ptr::null_mut();
    let mut cur = head;
    while !cur.is_null() {
        n += 1;
        last = cur;
        // SAFETY: `cur` is a block of the caller's chain.
        cur = unsafe { Block::next(cur) };
    }
    (n, last)
}

/// The notify flag of a [`FlaggedRemoteList`]: the owner marked the page full, so the next
/// push must queue it.
pub const NOTIFY: usize = 2;
/// Both flag bits of a [`FlaggedRemoteList`].
pub const FLAGS: usize = QUEUED | NOTIFY;

/// An MPSC list whose word carries two flags, for cadence collection (E): pages the owner is
/// allocating from are collected by the owner on its own slow path with no notification;
/// only a page the owner marked full ([`NOTIFY`]) is queued, once, by the first push after
/// the mark.
///
/// Invariants:
/// - **R5** the word is `head` (no flags: the owner collects on its cadence), `NOTIFY` (full,
///   empty), `head | QUEUED` or `QUEUED` (queued or being processed). Pushes never add a flag
///   to an unflagged word, so the owner may take an unflagged list with one swap.
/// - **R6** exactly one push sees `NOTIFY` (it replaces it with `QUEUED`) and that push queues
///   the page; only the owner sets `NOTIFY` (from `0`) and clears `QUEUED`.
///
/// ```
/// use hz3_page::{Block, FlaggedRemoteList};
/// let list = FlaggedRemoteList::new();
/// let (mut a, mut b) = (Block::new(), Block::new());
/// // SAFETY: the blocks outlive the list's use of them; each is pushed once.
/// unsafe {
///     assert!(!list.push_list((&mut a).into(), (&mut a).into()).notify); // no flag: silent
///     assert_eq!(list.take_unflagged(), &mut a as *mut Block);
///     assert!(list.try_mark_full());
///     assert!(list.push_list((&mut b).into(), (&mut b).into()).notify); // first push after NOTIFY
/// }
/// assert_eq!(list.take_all_keep_queued(), &mut b as *mut Block);
/// assert!(list.try_idle());
/// ```
#[repr(transparent)]
#[derive(Debug)]
pub struct FlaggedRemoteList {
    word: AtomicPtr<Block>,
}

impl FlaggedRemoteList {
    /// An empty, unflagged list.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        FlaggedRemoteList {
            word: AtomicPtr::new(ptr::null_mut()),
        }
    }
    /// An empty, unflagged list.
    #[cfg(loom)]
    pub fn new() -> Self {
        FlaggedRemoteList {
            word: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes the chain `first ..= last`. `notify` is true for the one push that found
    /// [`NOTIFY`] (R6): the caller must queue the page.
    ///
    /// # Safety
    /// As [`RemoteList::push_list`]; blocks are at least 4-byte aligned.
    #[inline]
    pub unsafe fn push_list(&self, first: NonNull<Block>, last: NonNull<Block>) -> Push {
        let mut old = self.word.load(Ordering::Relaxed);
        let mut retries = 0;
        loop {
            // Flags as byte offsets from aligned pointers, as in `PackedRemoteList::push`.
            // SAFETY: the caller owns the chain until the CAS publishes it (R1).
            unsafe { Block::set_next(last.as_ptr(), old.wrapping_byte_sub(old.addr() & FLAGS)) };
            let flag = if old.addr() & FLAGS != 0 { QUEUED } else { 0 };
            let new = first.as_ptr().wrapping_byte_add(flag);
            // Release publishes the links (R2).
            match self
                .word
                .compare_exchange_weak(old, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    let notify = old.addr() & NOTIFY != 0;
                    if notify {
                        // R7: the push that consumed NOTIFY takes the page over from the
                        // owner's `try_mark_full` (AcqRel) before it writes `xqnext`.
                        fence(Ordering::Acquire);
                    }
                    return Push { notify, retries };
                }
                Err(cur) => {
                    old = cur;
                    retries += 1;
                }
            }
        }
    }

    /// Owner: takes an unflagged list (null if empty or flagged; R5 makes the swap safe).
    #[inline]
    pub fn take_unflagged(&self) -> *mut Block {
        let w = self.word.load(Ordering::Relaxed).addr();
        if w == 0 || w & FLAGS != 0 {
            return ptr::null_mut();
        }
        // Acquire pairs with the pushers' Release (R2). Only the owner adds flags, so the
        // word is still unflagged here.
        self.word.swap(ptr::null_mut(), Ordering::Acquire)
    }

    /// Owner: marks an empty, unflagged page full (`0 → NOTIFY`). Fails if blocks arrived
    /// (the owner should take them instead) or a flag is set.
    #[inline]
    pub fn try_mark_full(&self) -> bool {
        self.word
            .compare_exchange(
                ptr::null_mut(),
                NOTIFY_WORD,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Owner, for a queued page: takes every block and leaves the word `QUEUED`.
    #[inline]
    pub fn take_all_keep_queued(&self) -> *mut Block {
        self.word
            .swap(QUEUED_WORD, Ordering::Acquire)
            .map_addr(|a| a & !FLAGS)
    }

    /// Owner, after processing a queued page: `QUEUED → 0`; fails when a push arrived.
    #[inline]
    pub fn try_idle(&self) -> bool {
        self.word
            .compare_exchange(
                QUEUED_WORD,
                ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The raw word (relaxed snapshot).
    #[inline]
    pub fn raw(&self) -> usize {
        self.word.load(Ordering::Relaxed).addr()
    }
}

#[cfg(not(loom))]
impl Default for FlaggedRemoteList {
    fn default() -> Self {
        Self::new()
    }
}
