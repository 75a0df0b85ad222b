//! T5: multithread stress in the style of mimalloc's `test-stress`, for every strategy.
//!
//! `THREADS` threads share `SLOTS` atomic slots. Each thread, for `ITER` iterations, keeps a
//! private working set (allocate, free, realloc) and hands blocks to other threads by swapping
//! them into random slots; whatever it takes out of a slot (usually another thread's block: a
//! remote free) has its cookie checked and is freed. Every block is filled with a cookie
//! derived from its address and size. All threads exit and new ones start every round. At the
//! end everything is freed and the empty check must pass; cookie mismatches must be 0.

mod common;

use common::{isolated, scale, serial, Inst, Rng};
use core::alloc::Layout;
use hz3_alloc::{Config, RemoteFree};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

const THREADS: usize = 4;
const SLOTS: usize = 1000;

fn cookie(p: usize, size: usize) -> u64 {
    (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (size as u64).rotate_left(29)
        ^ 0xC0FF_EE00_D15E_A5E5
}

/// A block's size lives in its first word; the rest is cookie words.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn alloc_block<R: RemoteFree, C: Config>(size: usize) -> usize {
    let p = Inst::<R, C>::alloc(layout(size));
    assert!(!p.is_null());
    let words = size / 8;
    let c = cookie(p as usize, size);
    // SAFETY: `size >= 16` bytes, 8-aligned.
    unsafe {
        let w = p as *mut u64;
        w.write(size as u64);
        for i in 1..words {
            w.add(i).write(c ^ i as u64);
        }
    }
    p as usize
}

/// Checks and frees; returns the number of damaged words.
fn free_block<R: RemoteFree, C: Config>(p: usize) -> u64 {
    // SAFETY: `p` is a live block written by `alloc_block`.
    unsafe {
        let w = p as *mut u64;
        let size = w.read() as usize;
        if !(16..=(4 << 20)).contains(&size) {
            // The size word itself is damaged: we cannot free safely.
            panic!("block {p:#x}: size word {size:#x} damaged");
        }
        let c = cookie(p, size);
        let mut bad = 0;
        for i in 1..size / 8 {
            bad += (w.add(i).read() != c ^ i as u64) as u64;
        }
        Inst::<R, C>::dealloc(p as *mut u8, layout(size));
        bad
    }
}

fn pick_size(rng: &mut Rng) -> usize {
    let r = rng.next() % 1000;
    let n = if r < 900 {
        // Mostly small: biased towards the smallest classes.
        16 + (rng.next() % 64) as usize * if rng.chance(50) { 1 } else { 16 }
    } else if r < 998 {
        rng.range(1024, 64 * 1024)
    } else {
        rng.range(300 * 1024, 2 << 20)
    };
    n.max(16)
}

struct Shared {
    slots: Vec<AtomicUsize>,
    mismatches: AtomicU64,
    transfers: AtomicU64,
}

fn worker<R: RemoteFree, C: Config>(sh: &Shared, tid: usize, round: usize, iters: usize) {
    let mut rng = Rng::new(((round * 131 + tid) as u64) << 8 | R::ID as u64);
    let mut data: Vec<usize> = Vec::new();
    let mut bad = 0;
    for _ in 0..iters {
        // Private working set: allocate, or free / realloc a random element.
        if data.len() < 16 || rng.chance(50) {
            data.push(alloc_block::<R, C>(pick_size(&mut rng)));
        } else {
            let i = rng.range(0, data.len() - 1);
            let p = data.swap_remove(i);
            if rng.chance(10) {
                // realloc: check, grow or shrink, re-fill.
                // SAFETY: live block.
                let size = unsafe { (p as *const u64).read() } as usize;
                let c = cookie(p, size);
                for k in 1..size / 8 {
                    // SAFETY: as above.
                    bad += (unsafe { (p as *const u64).add(k).read() } != c ^ k as u64) as u64;
                }
                let new = pick_size(&mut rng);
                // SAFETY: live block with `layout(size)`.
                let q = unsafe { Inst::<R, C>::realloc(p as *mut u8, layout(size), new) } as usize;
                assert!(q != 0);
                let c = cookie(q, new);
                // SAFETY: `q` holds `new` bytes; the first min(size, new) bytes were copied.
                unsafe {
                    let w = q as *mut u64;
                    for k in 1..size.min(new) / 8 {
                        let old = w.add(k).read();
                        bad += (old != cookie(p, size) ^ k as u64) as u64;
                    }
                    w.write(new as u64);
                    for k in 1..new / 8 {
                        w.add(k).write(c ^ k as u64);
                    }
                }
                data.push(q);
            } else {
                bad += free_block::<R, C>(p);
            }
        }
        // Hand-off through the shared slots.
        if !data.is_empty() && rng.chance(30) {
            let i = rng.range(0, data.len() - 1);
            let p = data.swap_remove(i);
            let s = rng.range(0, SLOTS - 1);
            let old = sh.slots[s].swap(p, Ordering::AcqRel);
            sh.transfers.fetch_add(1, Ordering::Relaxed);
            if old != 0 {
                bad += free_block::<R, C>(old);
            }
        }
    }
    // Free most of the working set, leave a few blocks in slots for the next round.
    for (k, p) in data.into_iter().enumerate() {
        if k % 8 == 0 {
            let s = rng.range(0, SLOTS - 1);
            let old = sh.slots[s].swap(p, Ordering::AcqRel);
            if old != 0 {
                bad += free_block::<R, C>(old);
            }
        } else {
            bad += free_block::<R, C>(p);
        }
    }
    sh.mismatches.fetch_add(bad, Ordering::Relaxed);
}

fn run_stress<R: RemoteFree, C: Config>(threads: usize, rounds: usize, iters: usize) {
    let sh = Arc::new(Shared {
        slots: (0..SLOTS).map(|_| AtomicUsize::new(0)).collect(),
        mismatches: AtomicU64::new(0),
        transfers: AtomicU64::new(0),
    });
    for round in 0..rounds {
        // Kill and recreate every thread each round.
        let hs: Vec<_> = (0..threads)
            .map(|tid| {
                let sh = sh.clone();
                std::thread::spawn(move || worker::<R, C>(&sh, tid, round, iters))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    // Free what is left in the slots (from a fresh thread: all remote frees).
    let sh2 = sh.clone();
    isolated(move || {
        let mut bad = 0;
        for s in &sh2.slots {
            let p = s.swap(0, Ordering::AcqRel);
            if p != 0 {
                bad += free_block::<R, C>(p);
            }
        }
        sh2.mismatches.fetch_add(bad, Ordering::Relaxed);
    });
    assert_eq!(
        sh.mismatches.load(Ordering::Relaxed),
        0,
        "{}: cookie mismatches",
        Inst::<R, C>::name()
    );
    assert!(sh.transfers.load(Ordering::Relaxed) > 0);
}

fn stress<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let s = scale();
    run_stress::<R, C>(THREADS, 8 * s, 8000 * s);
    Inst::<R, C>::assert_empty("stress");
}

/// More threads than cores, shorter rounds: more thread exits with blocks in transit.
fn stress_many_threads<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let s = scale();
    run_stress::<R, C>(4 * THREADS, 4 * s, 800 * s);
    Inst::<R, C>::assert_empty("stress_many_threads");
}

/// Oversubscribed: 64 threads on this 2-core machine, recreated every round, so
/// threads holding the global locks (heap pool, caches, fallback heap) get preempted while
/// others wait; every block must still be delivered once and every thread finish.
fn stress_64_threads<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let s = scale();
    run_stress::<R, C>(64, 3 * s, 300 * s);
    Inst::<R, C>::assert_empty("stress_64_threads");
}

per_strategy!(stress, stress_many_threads, stress_64_threads);

mod flavours {
    use hz3_alloc::config::{Checked, WithStats};
    use hz3_alloc::strategy::{DrainAll, OwnerStash, Packets, PageQueuePop};

    #[test]
    fn checked_c_stress() {
        super::stress::<DrainAll, Checked>();
    }
    #[test]
    fn checked_d_stress() {
        super::stress::<Packets, Checked>();
    }
    #[test]
    fn stats_a_stress() {
        super::stress::<OwnerStash, WithStats>();
    }
    #[test]
    fn stats_b_stress() {
        super::stress::<PageQueuePop, WithStats>();
    }
}
