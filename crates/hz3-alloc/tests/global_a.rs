//! As `global.rs`, smaller, with `Hz3A` (variant A, the owner stash) as the global allocator.

#[global_allocator]
static GLOBAL: hz3_alloc::Hz3A = hz3_alloc::Hz3A::new();

const SHRINK: usize = 4;
const LARGE_MIB: usize = 16;

#[test]
fn the_global_allocator_is_hz3a() {
    assert!(hz3_alloc::Hz3A::heap_count() >= 1);
    let b = Box::new(5u64);
    // SAFETY: `b` is a live block of the global allocator, i.e. of hz3 (A).
    assert!(unsafe { hz3_alloc::Hz3A::usable_size(&*b as *const u64 as *mut u8) } >= 8);
}

#[path = "global_body/mod.rs"]
mod body;
