//! The allocator on [`HeapOs`](common::heap_os::HeapOs), whose segments, heaps and large
//! blocks are allocations of the system allocator: the subset of the behavioural tests that
//! Miri runs (`.ci/miri.sh`), where every access hz3 makes to its own memory is checked
//! against that allocation's bounds, initialisation, aliasing and the threads' happens-before.
//! Natively they are quick tests like the others.
//!
//! For the default strategy and the drain-all (C) and cadence (E) page-queue strategies:
//! - local allocation and free of every kind of block (tiny, LUT-sized, aligned, the largest
//!   classes, large), with contents checked, and `realloc` through small and large sizes;
//! - remote frees: a consumer thread frees a producer's blocks while the producer keeps
//!   allocating and collects them back;
//! - thread exit: a thread exits holding blocks that a later thread frees (to an exited
//!   owner, whose heap that thread may adopt), and short threads reuse heaps.
//!
//! Each ends with the empty-check oracle.

mod common;

use common::heap_os::OnHeap;
use common::{check_fill, fill, isolated, serial, Inst};
use core::alloc::Layout;
use hz3_alloc::{Hz3, RemoteFree};
use std::sync::mpsc;

// Miri interprets every instruction: a few blocks per size still take every path once.
#[cfg(not(miri))]
const PER_SIZE: usize = 64;
#[cfg(miri)]
const PER_SIZE: usize = 4;
#[cfg(not(miri))]
const REMOTE_BLOCKS: usize = 2_000;
#[cfg(miri)]
const REMOTE_BLOCKS: usize = 60;

/// Bytes of each block filled and checked: all natively; under Miri, which interprets the
/// check byte by byte, the first 4 KiB (the block's bounds are Miri's to check).
fn checked(size: usize) -> usize {
    if cfg!(miri) {
        size.min(4096)
    } else {
        size
    }
}

/// (size, align) pairs: the LUT path, odd sizes, over-aligned, the largest small classes, and
/// large blocks (above `MAX_SMALL`).
const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (16, 8),
    (24, 8),
    (100, 4),
    (1000, 8),
    (4096, 4096),
    (20_000, 16),
    (200_000, 16),
    (300_000, 16),
    (5 << 20, 64),
];

/// A block handed to another thread (with its provenance: no integer round trip).
struct Sent(*mut u8, usize);
// SAFETY: the receiving thread becomes the block's only user.
unsafe impl Send for Sent {}

fn lay(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn local_alloc_free<R: RemoteFree>() {
    let _g = serial::<R, OnHeap>();
    isolated(|| {
        Inst::<R, OnHeap>::init_thread();
        for (k, &(size, align)) in SHAPES.iter().enumerate() {
            let l = lay(size, align);
            // Large blocks are mappings of their own: a few suffice.
            let n = if size > hz3_page::MAX_SMALL {
                2
            } else {
                PER_SIZE
            };
            let blocks: Vec<*mut u8> = (0..n)
                .map(|i| {
                    let p = Inst::<R, OnHeap>::alloc(l);
                    assert!(!p.is_null() && p.addr() % align == 0, "{size}/{align}");
                    // SAFETY: `p` has `size` writable bytes.
                    unsafe { fill(p, checked(size), (k * 1000 + i) as u64) };
                    p
                })
                .collect();
            for (i, &p) in blocks.iter().enumerate().rev() {
                // SAFETY: `p` is live with layout `l` and freed once.
                unsafe {
                    check_fill(p, checked(size), (k * 1000 + i) as u64).unwrap();
                    Inst::<R, OnHeap>::dealloc(p, l);
                }
            }
        }
        // realloc: grow a block through small and large sizes, keeping its contents, and back.
        let mut l = lay(24, 8);
        let mut p = Inst::<R, OnHeap>::alloc(l);
        // SAFETY: `p` has 24 bytes.
        unsafe { fill(p, 24, 7) };
        for new in [100, 5000, 300_000, 3 << 20, 1000] {
            // SAFETY: `p` is live with layout `l`.
            p = unsafe { Inst::<R, OnHeap>::realloc(p, l, new) };
            assert!(!p.is_null());
            // SAFETY: the first 24 bytes were kept; `p` has `new` bytes.
            unsafe { check_fill(p, 24, 7).unwrap() };
            l = lay(new, 8);
        }
        // SAFETY: live with layout `l`.
        unsafe { Inst::<R, OnHeap>::dealloc(p, l) };
        Hz3::<R, OnHeap>::collect();
    });
    Inst::<R, OnHeap>::assert_empty("local alloc/free");
}

fn remote_free<R: RemoteFree>() {
    let _g = serial::<R, OnHeap>();
    isolated(|| {
        let (tx, rx) = mpsc::channel::<Sent>();
        let consumer = std::thread::spawn(move || {
            for Sent(p, size) in rx {
                // SAFETY: the producer handed the block over after filling it.
                unsafe {
                    check_fill(p, size, size as u64).unwrap();
                    Inst::<R, OnHeap>::dealloc(p, lay(size, 8));
                }
            }
        });
        Inst::<R, OnHeap>::init_thread();
        for i in 0..REMOTE_BLOCKS {
            let size = [16, 48, 256, 3000][i % 4];
            let p = Inst::<R, OnHeap>::alloc(lay(size, 8));
            assert!(!p.is_null());
            // SAFETY: `p` has `size` bytes.
            unsafe { fill(p, size, size as u64) };
            tx.send(Sent(p, size)).unwrap();
            if i % 16 == 15 {
                // The producer's slow path: take back what was freed remotely so far.
                Hz3::<R, OnHeap>::collect();
            }
        }
        drop(tx);
        consumer.join().unwrap();
        Hz3::<R, OnHeap>::collect();
    });
    Inst::<R, OnHeap>::assert_empty("remote free");
}

fn thread_exit<R: RemoteFree>() {
    let _g = serial::<R, OnHeap>();
    // The owner exits with its blocks live.
    let held: Vec<Sent> = isolated(|| {
        Inst::<R, OnHeap>::init_thread();
        (0..REMOTE_BLOCKS / 4)
            .map(|i| {
                let size = [32, 512, 300_000][i % 3];
                let p = Inst::<R, OnHeap>::alloc(lay(size, 8));
                // SAFETY: `p` has `size` bytes.
                unsafe { fill(p, checked(size), i as u64) };
                Sent(p, size)
            })
            .collect()
    });
    // A later thread frees them (its first operation is a free of an exited owner's block).
    isolated(move || {
        for (i, &Sent(p, size)) in held.iter().enumerate() {
            // SAFETY: live blocks of the exited thread, freed once.
            unsafe {
                check_fill(p, checked(size), i as u64).unwrap();
                Inst::<R, OnHeap>::dealloc(p, lay(size, 8));
            }
        }
    });
    // Short threads one after another reuse the pooled heaps.
    let before = Hz3::<R, OnHeap>::heap_count();
    for _ in 0..4 {
        isolated(|| {
            Inst::<R, OnHeap>::init_thread();
            let p = Inst::<R, OnHeap>::alloc(lay(64, 8));
            // SAFETY: live, freed once.
            unsafe { Inst::<R, OnHeap>::dealloc(p, lay(64, 8)) };
        });
    }
    assert!(
        Hz3::<R, OnHeap>::heap_count() <= before + 1,
        "short threads did not reuse heaps"
    );
    isolated(Hz3::<R, OnHeap>::collect);
    Inst::<R, OnHeap>::assert_empty("thread exit");
}

macro_rules! strategies {
    ($($m:ident: $ty:ty;)*) => {$(
        mod $m {
            #[test]
            fn local_alloc_free() {
                super::local_alloc_free::<$ty>();
            }
            #[test]
            fn remote_free() {
                super::remote_free::<$ty>();
            }
            #[test]
            fn thread_exit() {
                super::thread_exit::<$ty>();
            }
        }
    )*};
}

strategies! {
    default: hz3_alloc::DefaultStrategy;
    drain_all: hz3_alloc::strategy::DrainAll;
    cadence: hz3_alloc::strategy::CadenceCollect;
}
