//! T9: the checked flavour detects misuse and aborts with the exact fixed message; valid use
//! passes. Each misuse runs in a child process (this test binary re-executed with
//! `HZ3_DEATH=<scenario>`), which must die with SIGABRT and print the message.

use hz3_alloc::config::Checked;
use hz3_alloc::strategy::{CachedStash, DrainAll, OwnerStash};
use hz3_alloc::Hz3;
use std::alloc::{GlobalAlloc, Layout, System};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

type A = Hz3<DrainAll, Checked>;
type AStash = Hz3<OwnerStash, Checked>;
/// The default strategy, whose `dealloc` takes the sized path (it trusts the layout's class).
type ACache = Hz3<CachedStash, Checked>;

fn l(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// Runs one misuse scenario (in the child). Every branch must abort before returning.
fn scenario(name: &str) {
    let a = A::new();
    // SAFETY: deliberately violates the allocator contract; the checked flavour must abort.
    unsafe {
        match name {
            "local-double-free" => {
                let p = a.alloc(l(64));
                a.dealloc(p, l(64));
                a.dealloc(p, l(64));
            }
            "remote-double-free" => {
                let p = a.alloc(l(64)) as usize;
                std::thread::spawn(move || A::new().dealloc(p as *mut u8, l(64)))
                    .join()
                    .unwrap();
                a.dealloc(p as *mut u8, l(64));
            }
            "remote-double-free-stash" => {
                let s = AStash::new();
                let p = s.alloc(l(48)) as usize;
                std::thread::spawn(move || AStash::new().dealloc(p as *mut u8, l(48)))
                    .join()
                    .unwrap();
                std::thread::spawn(move || AStash::new().dealloc(p as *mut u8, l(48)))
                    .join()
                    .unwrap();
            }
            "stack-pointer" => {
                let mut x = [0u64; 8];
                a.dealloc(x.as_mut_ptr().cast(), l(64));
            }
            "interior-pointer" => {
                let p = a.alloc(l(256));
                a.dealloc(p.add(16), l(256));
            }
            "misaligned-pointer" => {
                let p = a.alloc(l(256));
                a.dealloc(p.add(1), l(256));
            }
            "foreign-pointer" => {
                let p = System.alloc(l(64));
                a.dealloc(p, l(64));
            }
            "wrong-layout" => {
                let p = a.alloc(l(64));
                a.dealloc(p, l(4096));
            }
            "cache-wrong-layout" => {
                let c = ACache::new();
                let p = c.alloc(l(64));
                c.dealloc(p, l(48));
            }
            "cache-remote-double-free" => {
                // The first free caches the foreign block in the freeing thread's bin; the
                // second, from a third thread, must still be caught.
                let c = ACache::new();
                let p = c.alloc(l(96)) as usize;
                std::thread::spawn(move || ACache::new().dealloc(p as *mut u8, l(96)))
                    .join()
                    .unwrap();
                std::thread::spawn(move || ACache::new().dealloc(p as *mut u8, l(96)))
                    .join()
                    .unwrap();
            }
            "cache-local-double-free" => {
                let c = ACache::new();
                let p = c.alloc(l(2000));
                c.dealloc(p, l(2000));
                c.dealloc(p, l(2000));
            }
            "large-interior" => {
                let p = a.alloc(l(1 << 20));
                a.dealloc(p.add(4096), l(1 << 20));
            }
            "use-after-free-write" => {
                let p = a.alloc(l(96));
                let q = a.alloc(l(96));
                a.dealloc(q, l(96));
                a.dealloc(p, l(96));
                // p is now the bin head and its first word links to q: clobber it.
                *(p as *mut usize) = 0xdead_beef_0000;
                let _ = a.alloc(l(96));
            }
            "use-after-free-forged-link" => {
                // A write of a plausible pointer (another live block of the same heap and
                // class): caught because bin links are encoded (H5).
                let live = a.alloc(l(96));
                let p = a.alloc(l(96));
                a.dealloc(p, l(96));
                *(p as *mut usize) = live as usize;
                let _ = a.alloc(l(96));
            }
            // realloc validates its pointer as dealloc does (GlobalAlloc::realloc and the C-style
            // realloc_raw), before it could return a freed block or read a stale header.
            "realloc-freed-small" => {
                let p = a.alloc(l(64));
                a.dealloc(p, l(64));
                let _ = a.realloc(p, l(64), 60); // same class: would return `p` unchecked
            }
            "realloc-freed-large" => {
                let p = a.alloc(l(1 << 20));
                a.dealloc(p, l(1 << 20));
                let _ = a.realloc(p, l(1 << 20), 2 << 20);
            }
            "realloc-foreign" => {
                let p = System.alloc(l(64));
                let _ = a.realloc(p, l(64), 128);
            }
            "realloc-stack" => {
                let mut x = [0u64; 8];
                let _ = a.realloc(x.as_mut_ptr().cast(), l(64), 128);
            }
            "realloc-interior" => {
                let p = a.alloc(l(256));
                let _ = a.realloc(p.add(16), l(256), 200);
            }
            "realloc-large-interior" => {
                let p = a.alloc(l(1 << 20));
                let _ = a.realloc(p.add(8), l(1 << 20), 1 << 21);
            }
            "realloc-wrong-layout" => {
                let p = a.alloc(l(64));
                let _ = a.realloc(p, l(4096), 64);
            }
            "realloc-raw-freed-small" => {
                let p = A::alloc_raw(100, 16);
                A::free_raw(p);
                let _ = A::realloc_raw(p, 100, 16);
            }
            "realloc-raw-freed-large" => {
                let p = A::alloc_raw(1 << 20, 16);
                A::free_raw(p);
                let _ = A::realloc_raw(p, 3 << 20, 16);
            }
            "realloc-raw-foreign" => {
                let p = System.alloc(l(64));
                let _ = A::realloc_raw(p, 128, 16);
            }
            "realloc-raw-interior" => {
                let p = A::alloc_raw(256, 16);
                let _ = A::realloc_raw(p.add(16), 512, 16);
            }
            "cache-realloc-freed-small" => {
                let c = ACache::new();
                let p = c.alloc(l(2000));
                c.dealloc(p, l(2000));
                let _ = c.realloc(p, l(2000), 2001);
            }
            other => panic!("unknown scenario {other}"),
        }
    }
    // Reaching here means the misuse went undetected.
    std::process::exit(3);
}

#[test]
fn death_child() {
    if let Ok(s) = std::env::var("HZ3_DEATH") {
        scenario(&s);
    }
}

fn expect_abort(name: &str, message: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["death_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("HZ3_DEATH", name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{name}: expected SIGABRT, got {:?}; stderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.lines().any(|line| line == message),
        "{name}: expected the line {message:?} on stderr, got:\n{stderr}"
    );
}

#[test]
fn local_double_free_aborts() {
    expect_abort("local-double-free", "hz3: fatal: double free");
}

#[test]
fn remote_double_free_aborts() {
    expect_abort("remote-double-free", "hz3: fatal: double free");
}

#[test]
fn remote_double_free_through_the_stash_aborts() {
    expect_abort("remote-double-free-stash", "hz3: fatal: double free");
}

#[test]
fn stack_pointer_free_aborts() {
    expect_abort("stack-pointer", "hz3: fatal: invalid free");
}

#[test]
fn interior_pointer_free_aborts() {
    expect_abort("interior-pointer", "hz3: fatal: invalid free");
}

#[test]
fn misaligned_pointer_free_aborts() {
    expect_abort("misaligned-pointer", "hz3: fatal: invalid free");
}

#[test]
fn foreign_pointer_free_aborts() {
    expect_abort("foreign-pointer", "hz3: fatal: invalid free");
}

#[test]
fn wrong_layout_aborts() {
    expect_abort(
        "wrong-layout",
        "hz3: fatal: dealloc layout does not match the allocation",
    );
}

#[test]
fn default_strategy_wrong_layout_aborts() {
    expect_abort(
        "cache-wrong-layout",
        "hz3: fatal: dealloc layout does not match the allocation",
    );
}

#[test]
fn default_strategy_double_frees_abort() {
    expect_abort("cache-local-double-free", "hz3: fatal: double free");
    expect_abort("cache-remote-double-free", "hz3: fatal: double free");
}

#[test]
fn large_interior_pointer_aborts() {
    expect_abort("large-interior", "hz3: fatal: invalid free");
}

#[test]
fn use_after_free_write_is_detected() {
    expect_abort(
        "use-after-free-write",
        "hz3: fatal: free list corrupted (use after free?)",
    );
}

#[test]
fn use_after_free_write_of_a_plausible_pointer_is_detected() {
    expect_abort(
        "use-after-free-forged-link",
        "hz3: fatal: free list corrupted (use after free?)",
    );
}

#[test]
fn realloc_of_a_freed_block_aborts() {
    expect_abort("realloc-freed-small", "hz3: fatal: double free");
    expect_abort("realloc-raw-freed-small", "hz3: fatal: double free");
    expect_abort("cache-realloc-freed-small", "hz3: fatal: double free");
    // A freed large block's mapping is cached or gone: its header no longer names a block.
    expect_abort("realloc-freed-large", "hz3: fatal: invalid free");
    expect_abort("realloc-raw-freed-large", "hz3: fatal: invalid free");
}

#[test]
fn realloc_of_an_invalid_pointer_aborts() {
    expect_abort("realloc-foreign", "hz3: fatal: invalid free");
    expect_abort("realloc-raw-foreign", "hz3: fatal: invalid free");
    expect_abort("realloc-stack", "hz3: fatal: invalid free");
    expect_abort("realloc-interior", "hz3: fatal: invalid free");
    expect_abort("realloc-raw-interior", "hz3: fatal: invalid free");
    expect_abort("realloc-large-interior", "hz3: fatal: invalid free");
}

#[test]
fn realloc_with_a_wrong_layout_aborts() {
    expect_abort(
        "realloc-wrong-layout",
        "hz3: fatal: dealloc layout does not match the allocation",
    );
}

/// Valid use under the checked flavour never aborts: many sizes, realloc, remote frees.
#[test]
fn valid_use_passes_checks() {
    let a = Hz3::<OwnerStash, Checked>::new();
    let mut live = Vec::new();
    for i in 0..20_000usize {
        let size = 1 + (i * 7919) % 5000;
        // SAFETY: valid layouts; each block is freed once with its layout.
        unsafe {
            let p = a.alloc(l(size));
            assert!(!p.is_null());
            p.write_bytes(0xA5, size);
            live.push((p as usize, size));
            if i % 3 == 0 {
                let (q, s) = live.swap_remove(i % live.len());
                let q2 = a.realloc(q as *mut u8, l(s), s * 2 + 1);
                assert!(!q2.is_null());
                live.push((q2 as usize, s * 2 + 1));
            }
        }
    }
    let half = live.split_off(live.len() / 2);
    let t = std::thread::spawn(move || {
        let a = Hz3::<OwnerStash, Checked>::new();
        for (p, s) in half {
            // SAFETY: live blocks, freed once each (remote frees).
            unsafe { a.dealloc(p as *mut u8, l(s)) };
        }
    });
    for (p, s) in live {
        // SAFETY: live blocks, freed once each.
        unsafe { a.dealloc(p as *mut u8, l(s)) };
    }
    t.join().unwrap();
}
