//! T10: the C allocation API contract (tests/c/api_contract.c), asserted case by case, with
//! the program linked against the shared library, linked against the static library, and
//! preloaded into a program that was linked with nothing but glibc.

mod common;

use common::{compile, scratch, Link, Run};

const KNOWN: [&str; 9] = [
    "a", "b", "c", "d", "c-packed", "e", "e-batch", "a-batch", "a-cache",
];

fn contract(link: Link) {
    let dir = scratch(&format!("api-{}", link.name()));
    let exe = compile(&dir, "api_contract.c", link, &[]);
    let out = Run::new(&exe)
        .preload_if(link == Link::Plain)
        .timeout(300)
        .output();
    out.assert_success();
    let stdout = out.stdout_str();
    assert!(
        stdout.contains("api_contract: all cases passed"),
        "{}: {stdout}",
        out.what
    );
    let strategy = stdout
        .lines()
        .find_map(|l| l.strip_prefix("strategy: "))
        .unwrap_or_else(|| panic!("{}: no strategy line in {stdout}", out.what));
    assert!(KNOWN.contains(&strategy), "unknown strategy {strategy:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn contract_preloaded() {
    contract(Link::Plain);
}

#[test]
fn contract_linked_shared() {
    contract(Link::Shared);
}

#[test]
fn contract_linked_static() {
    contract(Link::Static);
}

/// The preload fails loudly, not silently, when hz3 is not active: the same program run
/// without LD_PRELOAD exits 3 from its self-check. (Guards the guard every C test relies on.)
#[test]
fn self_check_detects_missing_preload() {
    let dir = scratch("api-selfcheck");
    let exe = compile(&dir, "api_contract.c", Link::Plain, &[]);
    let out = Run::new(&exe).timeout(60).output();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}: {}",
        out.what,
        out.stderr_str()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
