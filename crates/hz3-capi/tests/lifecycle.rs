//! Threads created by C code and dynamically loaded code: the C library must work inside
//! dlopened code and in threads created by C code, as a preloaded malloc meets both.
//!
//! * tests/c/threads.c: producer threads exit (some detached) while consumers still free their
//!   blocks; short threads whose first call is a free; a pthread key destructor that
//!   allocates after hz3's thread-exit hook ran.
//! * tests/c/plugin.c + dlopen_main.c: a shared library that mallocs in its constructor and
//!   frees in its destructor, dlopen'ed and dlclosed 50 times by a preloaded program, with
//!   blocks crossing between program, plugin and a plugin thread.

mod common;

use common::{compile, compile_shared_lib, scratch, Link, Run};

fn threads(link: Link) {
    let dir = scratch(&format!("threads-{}", link.name()));
    let exe = compile(&dir, "threads.c", link, &[]);
    let out = Run::new(&exe)
        .arg("1")
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let s = out.stdout_str();
    assert!(s.contains("mismatches 0"), "{}: {s}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn c_threads_preloaded() {
    threads(Link::Plain);
}

#[test]
fn c_threads_linked_static() {
    threads(Link::Static);
}

fn dlopen(link: Link) {
    let dir = scratch(&format!("dlopen-{}", link.name()));
    let plugin = compile_shared_lib(&dir, "plugin.c", "libhz3testplugin.so");
    let exe = compile(&dir, "dlopen_main.c", link, &[]);
    let out = Run::new(&exe)
        .arg(&plugin)
        .arg("50")
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let s = out.stdout_str();
    assert!(s.contains("50 iterations, 0 failures"), "{}: {s}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dlopen_preloaded() {
    dlopen(Link::Plain);
}

#[test]
fn dlopen_linked_shared() {
    dlopen(Link::Shared);
}
