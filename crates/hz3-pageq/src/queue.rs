//! The owner × size-class page queue: a Treiber stack of [`PageMeta`] linked through
//! `PageMeta::xqnext`.
//!
//! Invariants:
//! - **Q1** A page is in at most one queue, at most once (the strategies' state protocols
//!   guarantee it: only the thread that moves a page's state idle → queued pushes it, and only
//!   the owner, which holds it while processing, requeues it).
//! - **Q2** Any thread pushes; only the queue's owner pops or drains (single consumer).
//! - **Q3** `pop` is ABA-free: between the owner's load of `head == h` and its CAS, `h` cannot
//!   leave the queue (only the owner removes) nor enter it again (Q1), and any push moves `head`
//!   away from `h`, failing the CAS. So `h.xqnext` read after the load is still `h`'s successor
//!   when the CAS succeeds. No reclamation scheme is needed: page metas live in segment
//!   headers that outlive any page in a queue (a page with queued remote blocks has `used > 0`,
//!   P3).
//! - **Q4** A queue whose owner has exited stays attached to the owner heap, which hz3-tcache
//!   keeps (abandoned) until a new thread adopts it; the adopter drains the queue like any owner.

use crate::sync::{AtomicPtr, Ordering};
use core::ptr::{self, NonNull};
use hz3_page::PageMeta;

/// A multi-producer, single-consumer stack of pages.
///
/// ```
/// use hz3_page::PageMeta;
/// use hz3_pageq::PageQueue;
/// let q = PageQueue::new();
/// let (a, b) = (PageMeta::new(), PageMeta::new());
/// // SAFETY: `a` and `b` outlive the queue's use of them and are queued once each.
/// unsafe {
///     q.push(&a);
///     q.push(&b);
/// }
/// assert!(std::ptr::eq(q.pop().unwrap(), &b));
/// let rest = q.drain_all();
/// assert!(std::ptr::eq(rest, &a));
/// assert!(q.pop().is_none());
/// ```
#[derive(Debug)]
pub struct PageQueue {
    head: AtomicPtr<PageMeta>,
}

impl PageQueue {
    /// An empty queue.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        PageQueue {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }
    /// An empty queue.
    #[cfg(loom)]
    pub fn new() -> Self {
        PageQueue {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes one page. Any thread. Returns the number of failed CAS attempts.
    ///
    /// # Safety
    /// `page` is in no queue (Q1) and stays valid while queued.
    #[inline]
    pub unsafe fn push(&self, page: &PageMeta) -> u32 {
        let p = NonNull::from(page);
        // SAFETY: forwarded; a single page is a chain whose first and last coincide.
        unsafe { self.push_list(p, p) }
    }

    /// Pushes the chain `first ..= last` (linked through `xqnext`) with one successful CAS.
    /// Returns the number of failed CAS attempts.
    ///
    /// # Safety
    /// Every page of the chain is in no queue (Q1) and stays valid while queued.
    #[inline]
    pub unsafe fn push_list(&self, first: NonNull<PageMeta>, last: NonNull<PageMeta>) -> u32 {
        let mut old = self.head.load(Ordering::Relaxed);
        let mut retries = 0;
        loop {
            // SAFETY: `last` is valid (caller) and not yet visible to the consumer.
            unsafe { last.as_ref() }
                .xqnext
                .store(old, Ordering::Relaxed);
            // Release publishes `xqnext` and everything the pusher wrote before.
            match self.head.compare_exchange_weak(
                old,
                first.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return retries,
                Err(cur) => {
                    old = cur;
                    retries += 1;
                }
            }
        }
    }

    /// Pops one page (one CAS). Owner only (Q2); ABA-free by Q3.
    #[inline]
    pub fn pop(&self) -> Option<&PageMeta> {
        self.pop_counted().0
    }

    /// [`pop`](Self::pop), also returning the failed CAS attempts.
    #[inline]
    pub fn pop_counted(&self) -> (Option<&PageMeta>, u32) {
        let mut retries = 0;
        let mut h = self.head.load(Ordering::Acquire);
        loop {
            if h.is_null() {
                return (None, retries);
            }
            // SAFETY: `h` is in the queue and cannot leave it except through this consumer
            // (Q2/Q3), so it is valid; Acquire on `head` made its `xqnext` visible.
            let next = unsafe { &*h }.xqnext.load(Ordering::Relaxed);
            match self
                .head
                .compare_exchange_weak(h, next, Ordering::Acquire, Ordering::Acquire)
            {
                // SAFETY: the page is now exclusively the consumer's and valid (Q3).
                Ok(_) => return (Some(unsafe { &*h }), retries),
                Err(cur) => {
                    h = cur;
                    retries += 1;
                }
            }
        }
    }

    /// Takes the whole queue with one swap; returns the first page of a chain linked through
    /// `xqnext` (null-terminated). Owner only (Q2).
    #[inline]
    pub fn drain_all(&self) -> *mut PageMeta {
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }

    /// Whether the queue looks empty (relaxed snapshot).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }
}

#[cfg(not(loom))]
impl Default for PageQueue {
    fn default() -> Self {
        Self::new()
    }
}
