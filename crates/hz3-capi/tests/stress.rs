//! T5 for the C ABI: the multithreaded hand-off stress of tests/c/stress.c (pattern-checked
//! blocks, remote frees through shared atomic slots, threads recreated every round), linked
//! against the static library, linked against the shared library, and under LD_PRELOAD.

mod common;

use common::{compile, scratch, Link, Run};

/// 4 threads x 10 rounds x 20000 operations (~600k blocks).
const ARGS: [&str; 4] = ["4", "10", "20000", "0x5eed"];

fn stress(link: Link) {
    let dir = scratch(&format!("stress-{}", link.name()));
    let exe = compile(&dir, "stress.c", link, &[]);
    let out = Run::new(&exe)
        .args(ARGS)
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let s = out.stdout_str();
    assert!(s.contains("mismatches=0"), "{}: {s}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stress_preloaded() {
    stress(Link::Plain);
}

#[test]
fn stress_linked_static() {
    stress(Link::Static);
}

#[test]
fn stress_linked_shared() {
    stress(Link::Shared);
}

/// The checker itself works: a block the program damages on purpose is reported.
#[test]
fn stress_checker_detects_corruption() {
    let dir = scratch("stress-selftest");
    let exe = compile(&dir, "stress.c", Link::Plain, &[]);
    let out = Run::new(&exe)
        .args(["2", "2", "2000", "7"])
        .env("HZ3_STRESS_CORRUPT", "1")
        .preload()
        .timeout(120)
        .output();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: {}",
        out.what,
        out.stderr_str()
    );
    assert!(
        out.stderr_str().contains("MISMATCH"),
        "{}: {}",
        out.what,
        out.stderr_str()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
