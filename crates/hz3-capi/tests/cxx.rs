//! The C++ operators: a C++ program checks that every replaceable `operator new` /
//! `operator delete` form resolves to hz3, that the new-handler loop and `std::bad_alloc`
//! follow the standard (thrown through hz3's operators), and runs a sized-delete-heavy loop
//! with local and remote sized deletes — under `LD_PRELOAD`, linked shared and linked static.
//! A program that replaces some operators itself keeps its own new/delete pairing.

mod common;

use common::{compile, scratch, Link, Run};

fn cxx(link: Link) {
    let dir = scratch(&format!("cxx-{}", link.name()));
    let exe = compile(&dir, "cxx.cc", link, &[]);
    let out = Run::new(&exe)
        .args(["4", "20000"])
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let s = out.stdout_str();
    for line in [
        "cxx: ok resolution 20/20 forms in hz3",
        "cxx: ok forms",
        "cxx: ok failure",
        "cxx: ok sized delete loop",
    ] {
        assert!(s.contains(line), "{}: no {line:?} in\n{s}", out.what);
    }
    assert!(s.contains("mismatches=0"), "{}: {s}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cxx_preloaded() {
    cxx(Link::Plain);
}

#[test]
fn cxx_linked_shared() {
    cxx(Link::Shared);
}

#[test]
fn cxx_linked_static() {
    cxx(Link::Static);
}

/// The program defines `operator new(size_t)` and `operator delete(void *)` with a header in
/// front of each block: hz3's other forms (sized delete, arrays, nothrow) forward to the C++
/// runtime's defaults, which call the program's own operators; every new meets its delete.
#[test]
fn cxx_program_with_its_own_operators() {
    let dir = scratch("cxx-replaced");
    for link in [Link::Plain, Link::Shared] {
        let exe = compile(&dir, "cxx_replaced.cc", link, &[]);
        let out = Run::new(&exe)
            .preload_if(link == Link::Plain)
            .timeout(120)
            .output();
        out.assert_success();
        assert!(
            out.stdout_str().contains("cxx_replaced: news="),
            "{}: {}",
            out.what,
            out.stdout_str()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
