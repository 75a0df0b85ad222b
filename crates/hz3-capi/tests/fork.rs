//! T8: fork from a multithreaded parent (tests/c/fork.c). The parent's 4 threads allocate and
//! free continuously while the main thread forks 20 times; every child allocates, frees,
//! spawns a thread that allocates, and exits 0 (an alarm watchdog in the child, so a deadlock
//! fails instead of hanging: 60 s, far above the milliseconds a child needs, so machine load
//! never trips it). Preloaded and linked.

mod common;

use common::{compile, scratch, Link, Run};

fn fork_test(link: Link) {
    let dir = scratch(&format!("fork-{}", link.name()));
    let exe = compile(&dir, "fork.c", link, &[]);
    let out = Run::new(&exe)
        .arg("20")
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let s = out.stdout_str();
    assert!(s.contains("20 forks, 0 failures"), "{}: {s}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fork_preloaded() {
    fork_test(Link::Plain);
}

#[test]
fn fork_linked_static() {
    fork_test(Link::Static);
}

#[test]
fn fork_linked_shared() {
    fork_test(Link::Shared);
}
