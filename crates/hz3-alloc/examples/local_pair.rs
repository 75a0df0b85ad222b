//! A rough single-thread figure: alloc+free pairs per second of hz3 against the system
//! allocator, measured in one run (explicit `GlobalAlloc` calls, sizes 16..128 bytes, plus a
//! ring of 1024 live blocks). Not a test and not the benchmark matrix — a quick look.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

fn pairs<A: GlobalAlloc>(a: &A, n: usize) -> f64 {
    let t = Instant::now();
    let mut x = 0x9e3779b97f4a7c15u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let size = 16 + (x as usize & 112);
        let l = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: valid non-zero layout; the block is freed with the same layout.
        unsafe {
            let p = a.alloc(l);
            black_box(p);
            a.dealloc(p, l);
        }
    }
    n as f64 / t.elapsed().as_secs_f64() / 1e6
}

fn ring<A: GlobalAlloc>(a: &A, n: usize) -> f64 {
    let mut slots = vec![(std::ptr::null_mut::<u8>(), Layout::new::<u8>()); 1024];
    let t = Instant::now();
    let mut x = 0x2545f4914f6cdd1du64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let s = &mut slots[i & 1023];
        // SAFETY: each slot holds null or a live block with its layout.
        unsafe {
            if !s.0.is_null() {
                a.dealloc(s.0, s.1);
            }
            let l = Layout::from_size_align(16 + (x as usize & 112), 8).unwrap();
            *s = (a.alloc(l), l);
        }
    }
    let r = n as f64 / t.elapsed().as_secs_f64() / 1e6;
    for s in slots {
        if !s.0.is_null() {
            // SAFETY: live block with its layout.
            unsafe { a.dealloc(s.0, s.1) };
        }
    }
    r
}

fn main() {
    let n = 20_000_000;
    let hz3 = hz3_alloc::Hz3::<hz3_alloc::strategy::DrainAll>::new();
    for round in 0..3 {
        let (s1, h1) = (pairs(&System, n), pairs(&hz3, n));
        let (s2, h2) = (ring(&System, n), ring(&hz3, n));
        println!(
            "round {round}: pair  system {s1:7.1} M/s  hz3 {h1:7.1} M/s  ratio {:.2}\n         ring  system {s2:7.1} M/s  hz3 {h2:7.1} M/s  ratio {:.2}",
            h1 / s1,
            h2 / s2
        );
    }
}
