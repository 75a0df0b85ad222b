//! Oversubscription: 32 producer/consumer pairs (64 threads) on a 2-core machine,
//! for every strategy. Each producer allocates blocks of mixed sizes, writes a cookie and
//! hands them through its own bounded queue to its consumer, which checks and frees them
//! (every free remote); producers and consumers exit while blocks are in transit to the
//! others. Every block must arrive once with its cookie intact, every thread must finish, and
//! the empty check must pass.

mod common;

use common::{scale, serial, Inst, Rng};
use core::alloc::Layout;
use hz3_alloc::{Config, RemoteFree};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

const PAIRS: usize = 32;
const QUEUE: usize = 64;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn cookie(p: usize, size: usize) -> u64 {
    (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ size as u64
}

struct Pair {
    slots: Vec<AtomicUsize>,
}

fn producer_consumer<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let per_pair = 3000 * scale();
    let bad = Arc::new(AtomicU64::new(0));
    let got = Arc::new(AtomicU64::new(0));
    let pairs: Vec<Arc<Pair>> = (0..PAIRS)
        .map(|_| {
            Arc::new(Pair {
                slots: (0..QUEUE).map(|_| AtomicUsize::new(0)).collect(),
            })
        })
        .collect();
    let mut handles = Vec::new();
    for (k, pair) in pairs.iter().enumerate() {
        let q = pair.clone();
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng::new(k as u64 * 7919 + R::ID as u64);
            for i in 0..per_pair {
                let size = if rng.chance(90) {
                    rng.range(16, 512)
                } else {
                    rng.range(512, 32 * 1024)
                };
                let p = Inst::<R, C>::alloc(layout(size));
                assert!(!p.is_null());
                // SAFETY: `size >= 16` bytes, 8-aligned.
                unsafe {
                    (p as *mut u64).write(size as u64);
                    (p as *mut u64).add(1).write(cookie(p as usize, size));
                }
                let slot = &q.slots[i % QUEUE];
                while slot.load(Ordering::Acquire) != 0 {
                    std::thread::yield_now();
                }
                slot.store(p as usize, Ordering::Release);
            }
        }));
        let q = pair.clone();
        let (bad, got) = (bad.clone(), got.clone());
        handles.push(std::thread::spawn(move || {
            for i in 0..per_pair {
                let slot = &q.slots[i % QUEUE];
                let p = loop {
                    let p = slot.swap(0, Ordering::AcqRel);
                    if p != 0 {
                        break p;
                    }
                    std::thread::yield_now();
                };
                // SAFETY: a live block handed over once; size in its first word.
                unsafe {
                    let size = (p as *const u64).read() as usize;
                    if (p as *const u64).add(1).read() != cookie(p, size) {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    Inst::<R, C>::dealloc(p as *mut u8, layout(size));
                }
                got.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "{}: damaged blocks",
        Inst::<R, C>::name()
    );
    assert_eq!(got.load(Ordering::Relaxed), (PAIRS * per_pair) as u64);
    Inst::<R, C>::assert_empty("oversubscribed producer/consumer");
}

per_strategy!(producer_consumer);
