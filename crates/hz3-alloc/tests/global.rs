//! An integration test binary whose global allocator is hz3 (`Hz3`, the default strategy):
//! everything std and the test harness allocate goes through it — collections, strings,
//! over-aligned boxes, threads with cross-thread drops, scoped threads, a 100 MiB vector.

#[global_allocator]
static GLOBAL: hz3_alloc::Hz3 = hz3_alloc::Hz3::new();

/// Divides the workload sizes (1 here; the `global_a` binary runs a smaller version).
const SHRINK: usize = 1;
const LARGE_MIB: usize = 100;

#[test]
fn the_global_allocator_is_hz3() {
    let before = hz3_alloc::Hz3::<hz3_alloc::DefaultStrategy>::heap_count();
    std::thread::spawn(|| drop(vec![1u8; 100])).join().unwrap();
    assert!(before >= 1 && hz3_alloc::Hz3::<hz3_alloc::DefaultStrategy>::heap_count() >= 1);
    let b = Box::new(5u64);
    // SAFETY: `b` is a live block of the global allocator, i.e. of hz3.
    let usable = unsafe {
        hz3_alloc::Hz3::<hz3_alloc::DefaultStrategy>::usable_size(&*b as *const u64 as *mut u8)
    };
    assert!(usable >= 8);
}

#[path = "global_body/mod.rs"]
mod body;
