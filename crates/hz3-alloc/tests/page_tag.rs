//! hz3-page P6 through the whole allocator: every page of a live slab carries
//! `tag == owner | class << TAG_CLASS_SHIFT`, and a released page tag 0 — also after slabs are
//! released and their pages reused for another class, the case where a stale tag would send
//! the metadata free (C `free`, `Instance::free`) to the wrong bin.

mod common;

use common::{isolated, serial, Inst};
use core::alloc::Layout;
use hz3_alloc::{Config, Hz3, RemoteFree};
use hz3_page::{class_for, meta_of, TAG_CLASS_SHIFT, TAG_OWNER_ALIGN};

/// P6 for the page of live block `p`, allocated with `l`.
fn assert_tagged(p: *mut u8, l: Layout, what: &str) {
    // SAFETY: P1: `p` is a live small block of hz3, so its page metadata is mapped.
    let m = unsafe { &*meta_of(p) };
    let (owner, class) = (m.owner(), m.class());
    assert!(
        owner != 0 && owner % TAG_OWNER_ALIGN == 0,
        "{what}: owner {owner:#x}"
    );
    assert_eq!(
        class,
        class_for(l.size(), l.align()).unwrap(),
        "{what}: class"
    );
    assert_eq!(m.tag(), owner | class << TAG_CLASS_SHIFT, "{what}: tag");
}

/// Fills slabs with one class, frees everything and collects (the slabs go back to their
/// segment), then fills the same pages with another class; the tags follow, and the blocks
/// freed through the metadata path land in bins of their own class (the next allocations of
/// each class get blocks of that class's pages).
fn tags_follow_reuse<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        Inst::<R, C>::init_thread();
        let small = Layout::from_size_align(48, 8).unwrap();
        let big = Layout::from_size_align(768, 8).unwrap();
        for round in 0..3 {
            for (l, n) in [(small, 20_000), (big, 2_000)] {
                let v: Vec<*mut u8> = (0..n).map(|_| Inst::<R, C>::alloc(l)).collect();
                for &p in &v {
                    assert_tagged(p, l, &format!("round {round}, size {}", l.size()));
                }
                // Free half, reallocate: the bins hand back blocks of the class's own pages.
                for &p in v.iter().step_by(2) {
                    // SAFETY: allocated above with `l`, freed once.
                    unsafe { Inst::<R, C>::dealloc(p, l) };
                }
                let again: Vec<*mut u8> = (0..n / 2).map(|_| Inst::<R, C>::alloc(l)).collect();
                for &p in &again {
                    assert_tagged(p, l, &format!("round {round}, reused, size {}", l.size()));
                }
                for &p in v.iter().skip(1).step_by(2).chain(&again) {
                    // SAFETY: live blocks allocated with `l`, each freed once.
                    unsafe { Inst::<R, C>::dealloc(p, l) };
                }
                Hz3::<R, C>::collect();
            }
        }
    });
    Inst::<R, C>::assert_empty("tags_follow_reuse");
}

per_strategy!(tags_follow_reuse);
