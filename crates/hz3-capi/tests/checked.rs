//! The guarded C library: `libhz3_capi.so` built with `--features checked` (the
//! `Checked` flavour behind the C ABI; built once into its own target directory by
//! `common::checked_lib`). Death tests: each misuse case of tests/c/misuse.c, preloaded with
//! the guarded library, must die with SIGABRT and hz3's fixed line on stderr — every case
//! glibc's malloc detects, and more. The guarded library also passes the C stress test, the
//! C++ test and a real program (python3), and its C++ sized delete is validated.

mod common;

use common::{checked_lib, compile, compile_with, scratch, tail, Link, Run};
use std::os::unix::process::ExitStatusExt;

const DOUBLE: &str = "hz3: fatal: double free";
const INVALID: &str = "hz3: fatal: invalid free";
const LAYOUT: &str = "hz3: fatal: dealloc layout does not match the allocation";
const CORRUPT: &str = "hz3: fatal: free list corrupted (use after free?)";

/// Every misuse case and the line it must end with.
const CASES: [(&str, &str); 19] = [
    ("double-free", DOUBLE),
    ("double-free-after-another", DOUBLE),
    ("double-free-remote", DOUBLE),
    // A freed large block's mapping is cached or gone: its header names no block.
    ("double-free-large", INVALID),
    ("interior", INVALID),
    ("interior-large", INVALID),
    ("misaligned", INVALID),
    ("stack", INVALID),
    ("global", INVALID),
    ("foreign-glibc", INVALID),
    ("foreign-mmap", INVALID),
    ("realloc-freed", DOUBLE),
    ("realloc-freed-large", INVALID),
    ("realloc-interior", INVALID),
    ("realloc-stack", INVALID),
    ("realloc-global", INVALID),
    ("use-after-free-write", CORRUPT),
    ("sized-delete-wrong-size", LAYOUT),
    ("valid", ""),
];

#[test]
fn guarded_library_aborts_on_each_misuse() {
    let lib = checked_lib();
    let dir = scratch("checked-misuse");
    let exe = compile(&dir, "misuse.c", Link::Plain, &[]);
    let mut failures = Vec::new();
    for (case, line) in CASES {
        let out = Run::new(&exe)
            .arg(case)
            .preload_lib(lib)
            .timeout(60)
            .output();
        let err = out.stderr_str();
        let ok = if line.is_empty() {
            out.status.success() && !err.contains("hz3:")
        } else {
            out.status.signal() == Some(libc::SIGABRT) && err.lines().any(|l| l == line)
        };
        if !ok {
            failures.push(format!(
                "{case}: expected {line:?} and SIGABRT, got {:?}; stderr:\n{}",
                out.status,
                tail(&err, 2000)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fast library does not check (undefined behaviour stays undefined), but the same
/// program with no misuse runs clean under it too.
#[test]
fn misuse_program_valid_case_under_the_fast_library() {
    let dir = scratch("fast-valid");
    let exe = compile(&dir, "misuse.c", Link::Plain, &[]);
    Run::new(&exe)
        .arg("valid")
        .preload()
        .timeout(60)
        .output()
        .assert_success();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The guarded archive linked statically detects misuse as well.
#[test]
fn guarded_static_library_aborts() {
    let lib = checked_lib();
    let dir = scratch("checked-static");
    let exe = compile_with(lib, &dir, "misuse.c", Link::Static, &[]);
    for (case, line) in [("double-free", DOUBLE), ("interior-large", INVALID)] {
        let out = Run::new(&exe).arg(case).timeout(60).output();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{case}: {:?} {}",
            out.status,
            out.stderr_str()
        );
        assert!(
            out.stderr_str().lines().any(|l| l == line),
            "{case}: {}",
            out.stderr_str()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Valid use passes: the C stress test (pattern-checked blocks, remote frees, threads
/// recreated) and the C++ test (every operator form, sized deletes validated against the
/// allocation's class) run clean under the guarded library.
#[test]
fn guarded_library_passes_the_stress_and_cxx_tests() {
    let lib = checked_lib();
    let dir = scratch("checked-stress");
    let stress = compile(&dir, "stress.c", Link::Plain, &[]);
    let out = Run::new(&stress)
        .args(["4", "10", "20000", "0x5eed"])
        .preload_lib(lib)
        .timeout(300)
        .output();
    out.assert_success();
    assert!(
        out.stdout_str().contains("mismatches=0"),
        "{}: {}",
        out.what,
        out.stdout_str()
    );
    let cxx = compile(&dir, "cxx.cc", Link::Plain, &[]);
    let out = Run::new(&cxx)
        .args(["2", "10000"])
        .preload_lib(lib)
        .timeout(300)
        .output();
    out.assert_success();
    assert!(
        out.stdout_str().contains("cxx: ok sized delete loop"),
        "{}: {}",
        out.what,
        out.stdout_str()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real program under the guarded library: python3's allocation-heavy workload gives the
/// same output as without hz3 (pymalloc off, so every object goes through malloc/free).
#[test]
fn guarded_library_runs_python() {
    let probe = Run::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .timeout(120)
        .try_output();
    let python = match probe {
        Some(o) if o.status.success() && !o.stdout_str().trim().is_empty() => {
            o.stdout_str().trim().to_string()
        }
        _ => {
            eprintln!("SKIP: `python3` is not installed on this machine");
            return;
        }
    };
    let lib = checked_lib();
    let script = common::c_src("workload.py");
    let run = |preload: bool| {
        let r = Run::new(&python)
            .arg(&script)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONMALLOC", "malloc")
            .timeout(300);
        let r = if preload { r.preload_lib(lib) } else { r };
        r.output()
    };
    let base = run(false);
    base.assert_success();
    let hz3 = run(true);
    hz3.assert_success();
    assert!(
        hz3.stderr_str().contains("hz3-loaded: True"),
        "{}",
        hz3.stderr_str()
    );
    assert!(
        base.stdout == hz3.stdout,
        "outputs differ:\n{}\n---\n{}",
        base.stdout_str(),
        hz3.stdout_str()
    );
}
