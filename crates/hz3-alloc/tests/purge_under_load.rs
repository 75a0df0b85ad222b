//! Purging while other threads allocate and free: with the purge delay at 0 (eager return)
//! every page that becomes free is decommitted and every freed large mapping released at once,
//! so the purge paths (decommit of dirty pages, the segment and large-mapping caches, the
//! process-wide dirty count) run concurrently with remote frees, thread exits and `collect`.
//! Written for the dynamic checkers (ThreadSanitizer natively; Miri on the heap-backed OS
//! layer); the assertions are the contents of every block and the empty-check oracle.
//!
//! One test function: the purge settings are process-wide.

mod common;

use common::{check_fill, fill, Inst};
use core::alloc::Layout;
use hz3_alloc::strategy::DrainAll;
use hz3_page::purge;
use std::sync::mpsc;

#[cfg(not(miri))]
type Flavour = hz3_alloc::config::Fast;
/// Miri cannot run `SystemOs` (partial `munmap`, `madvise`): the heap-backed layer instead.
#[cfg(miri)]
type Flavour = common::heap_os::OnHeap;

type I = Inst<DrainAll, Flavour>;

#[cfg(not(miri))]
const ROUNDS: usize = 400;
#[cfg(miri)]
const ROUNDS: usize = 12;

/// Bytes of each block filled and checked (under Miri the first 4 KiB: it checks byte by
/// byte, and the bounds are its own to check).
fn checked(size: usize) -> usize {
    if cfg!(miri) {
        size.min(4096)
    } else {
        size
    }
}

/// A block handed to another thread.
struct Sent(*mut u8, usize, u64);
// SAFETY: the receiving thread becomes the block's only user.
unsafe impl Send for Sent {}

fn size_of_round(i: usize) -> usize {
    [48, 4000, 40_000, 600_000][i % 4]
}

#[test]
fn purge_while_threads_allocate_and_free() {
    purge::set_purge_delay_ms(0);
    let (tx, rx) = mpsc::channel::<Sent>();
    // Two producers allocate (their slabs fill and empty, large blocks come and go); one
    // consumer frees their blocks remotely and calls `collect` now and then.
    let producers: Vec<_> = (0..2u64)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    let size = size_of_round(i + t as usize);
                    let l = Layout::from_size_align(size, 16).unwrap();
                    let p = I::alloc(l);
                    assert!(!p.is_null());
                    let tag = t << 32 | i as u64;
                    // SAFETY: `p` has `size` bytes.
                    unsafe { fill(p, checked(size), tag) };
                    if i % 3 == 0 {
                        // Freed locally: its page may become free and be decommitted at once.
                        // SAFETY: live with layout `l`, freed once.
                        unsafe {
                            check_fill(p, checked(size), tag).unwrap();
                            I::dealloc(p, l);
                        }
                    } else {
                        tx.send(Sent(p, size, tag)).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        for (n, Sent(p, size, tag)) in rx.into_iter().enumerate() {
            // SAFETY: handed over after filling; freed once.
            unsafe {
                check_fill(p, checked(size), tag).unwrap();
                I::dealloc(p, Layout::from_size_align(size, 16).unwrap());
            }
            if n % 32 == 31 {
                hz3_alloc::Hz3::<DrainAll, Flavour>::collect();
            }
        }
    });
    for p in producers {
        p.join().unwrap();
    }
    consumer.join().unwrap();
    std::thread::spawn(hz3_alloc::Hz3::<DrainAll, Flavour>::collect)
        .join()
        .unwrap();
    purge::set_purge_delay_ms(purge::DEFAULT_PURGE_DELAY_MS);
    I::assert_empty("purge under load");
}
