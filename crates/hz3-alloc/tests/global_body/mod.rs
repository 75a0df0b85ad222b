//! The tests shared by the two global-allocator binaries (`global.rs`, `global_a.rs`); each
//! binary defines `SHRINK` and `LARGE_MIB` and its `#[global_allocator]`.

use super::{LARGE_MIB, SHRINK};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc;
use std::sync::Arc;

#[repr(C, align(4096))]
struct Page([u8; 4096]);

#[repr(C, align(65536))]
struct Big([u8; 100]);

#[repr(C, align(2097152))]
struct Huge(u8);

fn scale() -> usize {
    std::env::var("HZ3_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

#[test]
fn collections_grow_and_shrink() {
    let n = 100_000 * scale() / SHRINK;
    let mut v: Vec<u64> = Vec::new();
    for i in 0..n as u64 {
        v.push(i * 3);
    }
    assert_eq!(v.iter().sum::<u64>(), 3 * (n as u64) * (n as u64 - 1) / 2);
    v.truncate(10);
    v.shrink_to_fit();
    assert_eq!(v, (0..10).map(|i| i * 3).collect::<Vec<_>>());

    let mut m: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..n / 10 {
        m.entry(format!("key-{}", i % 997))
            .or_default()
            .push(i as u32);
    }
    assert_eq!(m.len(), 997.min(n / 10));
    let total: usize = m.values().map(|v| v.len()).sum();
    assert_eq!(total, n / 10);

    let mut b: BTreeMap<u64, Box<[u8]>> = BTreeMap::new();
    for i in 0..(n / 20) as u64 {
        b.insert(
            i.wrapping_mul(0x9E37_79B9),
            vec![i as u8; (i % 300) as usize].into_boxed_slice(),
        );
    }
    assert_eq!(b.len(), n / 20);
    for v in b.values() {
        if let Some(&f) = v.first() {
            assert!(v.iter().all(|&x| x == f));
        }
    }

    let mut q: VecDeque<String> = VecDeque::new();
    for i in 0..n / 10 {
        q.push_back("x".repeat(i % 200));
        if i % 3 == 0 {
            q.pop_front();
        }
    }
    assert!(q.iter().all(|s| s.chars().all(|c| c == 'x')));
}

#[test]
fn strings_and_boxes_of_many_sizes() {
    let mut boxes: Vec<Box<[u8]>> = Vec::new();
    for size in (1..=300_000usize / SHRINK)
        .step_by(97)
        .chain([1 << 20, 5 << 20])
    {
        boxes.push(vec![(size % 251) as u8; size].into_boxed_slice());
    }
    for b in &boxes {
        let want = (b.len() % 251) as u8;
        assert!(b.iter().all(|&x| x == want));
    }
    let mut s = String::new();
    for i in 0..20_000 / SHRINK {
        s.push_str(&i.to_string());
        if s.len() > 50_000 {
            s = s[s.len() / 2..].to_string();
        }
    }
    assert!(!s.is_empty());
    // Over-aligned types through Box.
    let pages: Vec<Box<Page>> = (0..16).map(|i| Box::new(Page([i as u8; 4096]))).collect();
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(&**p as *const Page as usize % 4096, 0);
        assert!(p.0.iter().all(|&x| x == i as u8));
    }
    let big: Vec<Box<Big>> = (0..4).map(|_| Box::new(Big([7; 100]))).collect();
    for b in &big {
        assert_eq!(&**b as *const Big as usize % 65536, 0);
    }
    // Built in place: `Box::new(Huge(3))` would first build the 2 MiB-aligned value on the
    // stack, which overflows a test thread's 2 MiB stack in a debug build.
    let mut h = Box::<Huge>::new_uninit();
    // SAFETY: `h` is a live, writable allocation of `Huge`; its only field is written here.
    unsafe { core::ptr::addr_of_mut!((*h.as_mut_ptr()).0).write(3) };
    // SAFETY: every field of `Huge` (the one `u8`) was initialised above.
    let h = unsafe { h.assume_init() };
    assert_eq!(&*h as *const Huge as usize % 2097152, 0);
    assert_eq!(h.0, 3);
    // Zeroed allocation through vec! of zeros.
    let z = vec![0u64; 200_000 / SHRINK];
    assert!(z.iter().all(|&x| x == 0));
}

#[test]
fn cross_thread_drops_over_channels() {
    let rounds = 20 * scale() / SHRINK.min(20);
    for round in 0..rounds {
        let (tx, rx) = mpsc::sync_channel::<Vec<String>>(16);
        let producers: Vec<_> = (0..3)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 / SHRINK {
                        let v: Vec<String> = (0..8)
                            .map(|k| format!("{round}-{t}-{i}-{k}-{}", "y".repeat((i * k) % 100)))
                            .collect();
                        tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumer = std::thread::spawn(move || {
            let mut n = 0usize;
            for v in rx {
                for s in &v {
                    assert!(s.starts_with(&format!("{round}-")));
                }
                n += v.len();
                drop(v); // freed on this thread: remote frees
            }
            n
        });
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(consumer.join().unwrap(), 3 * 8 * (2000 / SHRINK));
    }
}

#[test]
fn scoped_threads_and_arcs() {
    let data: Vec<Arc<Vec<u32>>> = (0..64)
        .map(|i| Arc::new((0..1000).map(|k| k * i).collect()))
        .collect();
    let sums: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = data
            .chunks(16)
            .map(|chunk| {
                s.spawn(move || {
                    let mut local: Vec<Arc<Vec<u32>>> = chunk.to_vec();
                    let mut extra = Vec::new();
                    for a in &local {
                        extra.push(a.iter().map(|&x| x as u64).collect::<Vec<u64>>());
                    }
                    local.clear();
                    extra.iter().map(|v| v.iter().sum::<u64>()).sum::<u64>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let want: u64 = (0..64u64).map(|i| i * 999 * 1000 / 2).sum();
    assert_eq!(sums.iter().sum::<u64>(), want);
    // Arcs dropped last on another thread.
    let a = Arc::new(vec![1u8; 1000]);
    let b = a.clone();
    std::thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(Arc::strong_count(&a), 1);
}

#[test]
fn large_vec() {
    let n = LARGE_MIB << 20;
    let mut v = vec![0u8; n];
    assert!(v.iter().step_by(4096).all(|&x| x == 0));
    for i in (0..n).step_by(4096) {
        v[i] = (i >> 12) as u8;
    }
    assert!((0..n).step_by(4096).all(|i| v[i] == (i >> 12) as u8));
    v.resize(n + (1 << 20), 1);
    assert_eq!(v[n], 1);
    v.truncate(100);
    v.shrink_to_fit();
    assert_eq!(v.len(), 100);
}

#[test]
fn many_short_threads() {
    for _ in 0..200 / SHRINK.min(4) {
        let h = std::thread::spawn(|| {
            let v: Vec<String> = (0..100).map(|i| i.to_string()).collect();
            v.join(",")
        });
        assert!(h.join().unwrap().starts_with("0,1,2"));
    }
}
