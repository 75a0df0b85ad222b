//! RSS behaviour (one test per binary run, strategies in sequence, so nothing else in the
//! process moves the RSS figures): T6 — a producer/consumer run whose consumer never
//! allocates keeps RSS bounded with no growth trend — and memory return — a large mixed live
//! set, freed and collected, gives its memory back to the OS.

use hz3_alloc::strategy::*;
use hz3_alloc::{Hz3, RemoteFree};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const MIB: usize = 1 << 20;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn size_for(x: u64) -> usize {
    16 + (x % 4080) as usize
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// T6: the producer allocates, the consumer only frees; the live set is the ring capacity.
fn producer_consumer<R: RemoteFree>(name: &str) {
    const RING: usize = 16 * 1024;
    const ROUNDS: usize = 12;
    const PER_ROUND: usize = 400_000;
    let ring: Arc<Vec<AtomicUsize>> = Arc::new((0..RING).map(|_| AtomicUsize::new(0)).collect());
    let live_bytes = RING * (16 + 4080 / 2);
    let base = rss();
    let mut samples = Vec::new();
    for round in 0..ROUNDS {
        let r = ring.clone();
        let consumer = std::thread::spawn(move || {
            let a = Hz3::<R>::new();
            let mut seen = 0;
            let mut i = 0;
            while seen < PER_ROUND {
                let p = r[i].swap(0, Ordering::Acquire);
                if p == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                // SAFETY: the producer allocated `p` (>= 16 bytes, size in its first word) and
                // handed it over once; we free it with its layout.
                unsafe {
                    let size = *(p as *const usize);
                    a.dealloc(p as *mut u8, Layout::from_size_align(size, 8).unwrap());
                }
                seen += 1;
                i = (i + 1) % RING;
            }
        });
        let a = Hz3::<R>::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ round as u64;
        let mut i = 0;
        for _ in 0..PER_ROUND {
            let size = size_for(xorshift(&mut x));
            // SAFETY: valid layout; ownership passes to the consumer through the ring.
            let p = unsafe { a.alloc(Layout::from_size_align(size, 8).unwrap()) };
            assert!(!p.is_null());
            // SAFETY: the block has at least 16 bytes.
            unsafe { *(p as *mut usize) = size };
            while ring[i].load(Ordering::Acquire) != 0 {
                std::hint::spin_loop();
            }
            ring[i].store(p as usize, Ordering::Release);
            i = (i + 1) % RING;
        }
        consumer.join().unwrap();
        samples.push(rss().saturating_sub(base));
    }
    Hz3::<R>::collect();
    let bound = live_bytes * 3 / 2 + 64 * MIB;
    let peak = *samples.iter().max().unwrap();
    let third = ROUNDS / 3;
    let early = *samples[..third].iter().max().unwrap();
    let late = *samples[ROUNDS - third..].iter().max().unwrap();
    println!(
        "T6 {name}: live {} MiB, RSS above start per round (MiB): {:?}",
        live_bytes / MIB,
        samples.iter().map(|s| s / MIB).collect::<Vec<_>>()
    );
    assert!(
        peak <= bound,
        "{name}: RSS {} MiB above start exceeds bound {} MiB",
        peak / MIB,
        bound / MIB
    );
    // A trend is growth beyond what the live set explains. The ring filling up when the
    // producer outpaces the consumer is not one: how full it gets depends on the machine's
    // load and the build (a full ring of these sizes takes up to 41 MiB of slabs against
    // 32 MiB of requested bytes), so late rounds may sit anywhere up to 1.5 x the live set.
    // Before H8 (a refill reuses queued pages before it maps), strategy B's queue grew
    // behind the producer in debug builds: 223-607 MiB in 4 of 7 runs.
    assert!(
        late <= early + early / 5 + 8 * MIB || late <= live_bytes * 3 / 2,
        "{name}: RSS grows: early max {} MiB, late max {} MiB",
        early / MIB,
        late / MIB
    );
}

/// Promise 5 for a program that changes sizes: one thread allocates `ROUND` bytes of size `s`
/// and a second thread frees them all; `s` grows every round (16, 32, 48, 64, then ×5/4), so
/// the owner never allocates a freed class again. Without `collect()`, remote-freed memory
/// must come home and serve the next sizes: RSS stays ≤ 1.5 × one round + 64 MiB.
fn size_shift<R: RemoteFree>(name: &str) {
    const ROUND: usize = 32 * MIB;
    const ROUNDS: usize = 24;
    let a = Hz3::<R>::new();
    let base = rss();
    let mut samples = Vec::new();
    let mut s = 16usize;
    for _ in 0..ROUNDS {
        let n = ROUND / s;
        let l = Layout::from_size_align(s, 8).unwrap();
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: valid layout; freed once by the consumer below.
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null());
            // SAFETY: `p` has `s >= 16` writable bytes.
            unsafe { p.write_bytes(0x3C, s.min(64)) };
            blocks.push(p as usize);
        }
        samples.push(rss().saturating_sub(base));
        std::thread::spawn(move || {
            let a = Hz3::<R>::new();
            for p in blocks {
                // SAFETY: live blocks of layout `l`, freed once.
                unsafe { a.dealloc(p as *mut u8, l) };
            }
        })
        .join()
        .unwrap();
        s = if s < 64 { s + 16 } else { s * 5 / 4 };
    }
    let bound = ROUND * 3 / 2 + 64 * MIB;
    let peak = *samples.iter().max().unwrap();
    println!(
        "size-shift {name}: {} MiB per round, RSS above start per round (MiB): {:?}",
        ROUND / MIB,
        samples.iter().map(|s| s / MIB).collect::<Vec<_>>()
    );
    assert!(
        peak <= bound,
        "{name}: RSS {} MiB above start exceeds bound {} MiB",
        peak / MIB,
        bound / MIB
    );
    Hz3::<R>::collect();
}

/// Allocate ~1 GiB of mixed sizes (small, medium, large), free everything, collect: RSS falls
/// to within 64 MiB of the starting figure.
fn memory_returns<R: RemoteFree>(name: &str) {
    let a = Hz3::<R>::new();
    Hz3::<R>::collect();
    let start = rss();
    let mut live = Vec::new();
    let mut total = 0usize;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    while total < 1 << 30 {
        let r = xorshift(&mut x);
        let size = match r % 100 {
            0..=79 => 16 + (r >> 8) as usize % 1024,
            80..=97 => 1024 + (r >> 8) as usize % (128 * 1024),
            _ => 256 * 1024 + (r >> 8) as usize % (4 * MIB),
        };
        let l = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: valid layout; freed below with the same layout.
        let p = unsafe { a.alloc(l) };
        assert!(!p.is_null());
        // SAFETY: `p` has `size` writable bytes; touch every page.
        unsafe { p.write_bytes(0x5A, size) };
        live.push((p, l));
        total += size;
    }
    let peak = rss();
    // Free half on another thread (remote frees), half here.
    let half: Vec<(usize, Layout)> = live
        .split_off(live.len() / 2)
        .into_iter()
        .map(|(p, l)| (p as usize, l))
        .collect();
    std::thread::spawn(move || {
        let a = Hz3::<R>::new();
        for (p, l) in half {
            // SAFETY: live blocks, freed once.
            unsafe { a.dealloc(p as *mut u8, l) };
        }
    })
    .join()
    .unwrap();
    for (p, l) in live {
        // SAFETY: live blocks, freed once.
        unsafe { a.dealloc(p, l) };
    }
    Hz3::<R>::collect();
    let end = rss();
    println!(
        "memory return {name}: start {} MiB, peak {} MiB, after free+collect {} MiB",
        start / MIB,
        peak / MIB,
        end / MIB
    );
    assert!(
        peak >= start + 900 * MIB,
        "{name}: the live set was not resident?"
    );
    assert!(
        end <= start + 64 * MIB,
        "{name}: RSS {} MiB did not return near {} MiB",
        end / MIB,
        start / MIB
    );
}

#[test]
fn rss_bounded_and_returned_for_every_strategy() {
    macro_rules! each {
        ($($t:ty => $n:literal),*) => {$(
            producer_consumer::<$t>($n);
            size_shift::<$t>($n);
            memory_returns::<$t>($n);
        )*};
    }
    each!(OwnerStash => "a", PageQueuePop => "b", DrainAll => "c", Packets => "d",
          DrainAllPacked => "c-packed", CadenceCollect => "e", BatchedCadence => "e-batch",
          BatchedStash => "a-batch", CachedStash => "a-cache");
}
