//! T13: real programs under `LD_PRELOAD=libhz3_capi.so`, with output compared to a run
//! without it: `python3` on an allocation-heavy workload (tests/c/workload.py, also with
//! `PYTHONMALLOC=malloc` so every object goes through malloc), `sort` of a generated file of a
//! million lines, and `git` on a small generated repository. A program that is not installed
//! is skipped with a notice on stderr.

mod common;

use common::{have_program, scratch, tail, Output, Run};
use std::fmt::Write as _;
use std::path::Path;

fn skip(prog: &str) {
    eprintln!(
        "SKIP: `{prog}` is not installed on this machine; its LD_PRELOAD smoke test did not run"
    );
}

/// Both runs exited 0 and wrote the same stdout.
fn assert_same(base: &Output, hz3: &Output) {
    base.assert_success();
    hz3.assert_success();
    if base.stdout != hz3.stdout {
        let (b, h) = (base.stdout_str(), hz3.stdout_str());
        let line = b.lines().zip(h.lines()).position(|(x, y)| x != y);
        panic!(
            "{} and {} disagree (stdout {} vs {} bytes, first differing line {:?}):\n--- baseline (tail) ---\n{}\n--- hz3 (tail) ---\n{}",
            base.what,
            hz3.what,
            b.len(),
            h.len(),
            line,
            tail(&b, 3000),
            tail(&h, 3000)
        );
    }
}

/// The loader really maps hz3 into a preloaded program (the guard for sort and git, which
/// cannot report it themselves).
fn assert_preload_maps_hz3() {
    let out = Run::new("cat")
        .arg("/proc/self/maps")
        .preload()
        .timeout(60)
        .output();
    out.assert_success();
    assert!(
        out.stdout_str().contains("libhz3_capi"),
        "hz3 not mapped under LD_PRELOAD:\n{}",
        out.stdout_str()
    );
}

#[test]
fn python_workload_same_output() {
    // Resolve the real interpreter once (python3 may be a wrapper script, e.g. a pyenv shim).
    let probe = Run::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .timeout(120)
        .try_output();
    let python = match probe {
        Some(o) if o.status.success() && !o.stdout_str().trim().is_empty() => {
            o.stdout_str().trim().to_string()
        }
        _ => return skip("python3"),
    };
    let script = common::c_src("workload.py");
    let run = |preload: bool, pymalloc: &str| {
        Run::new(&python)
            .arg(&script)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONMALLOC", pymalloc)
            .preload_if(preload)
            .timeout(300)
            .output()
    };
    let base = run(false, "pymalloc");
    assert!(
        base.stderr_str().contains("hz3-loaded: False"),
        "baseline: {}",
        base.stderr_str()
    );
    for pymalloc in ["pymalloc", "malloc"] {
        let hz3 = run(true, pymalloc);
        assert_same(&base, &hz3);
        assert!(
            hz3.stderr_str().contains("hz3-loaded: True"),
            "python (PYTHONMALLOC={pymalloc}) under LD_PRELOAD does not map hz3: {}",
            hz3.stderr_str()
        );
    }
}

/// A million lines of pseudo-random words and numbers (deterministic).
fn write_lines(path: &Path, n: usize) {
    let mut s = String::with_capacity(n * 24);
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 3 + (x % 13) as usize;
        for k in 0..len {
            s.push((b'a' + ((x >> ((k * 5) % 60)) % 26) as u8) as char);
        }
        let _ = writeln!(s, " {} {}", (x >> 20) % 1_000_000, i % 977);
    }
    std::fs::write(path, s).expect("write sort input");
}

#[test]
fn sort_same_output() {
    if !have_program("sort", "--version") {
        return skip("sort");
    }
    assert_preload_maps_hz3();
    let dir = scratch("sort");
    let input = dir.join("lines.txt");
    write_lines(&input, 1_000_000);
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let variants: [&[&str]; 2] = [
        // Default: in-memory sort (threads when the machine has several cores).
        &[],
        // Numeric key then word, a small buffer (temporary files and merges), two threads.
        &["-t", " ", "-k2,2n", "-k1,1", "-S", "4M", "--parallel=2"],
    ];
    for args in variants {
        let run = |preload: bool| {
            Run::new("sort")
                .args(args)
                .arg("-T")
                .arg(&tmp)
                .arg(&input)
                .env("LC_ALL", "C")
                .preload_if(preload)
                .timeout(300)
                .output()
        };
        let base = run(false);
        let hz3 = run(true);
        assert_eq!(
            base.stdout.iter().filter(|&&b| b == b'\n').count(),
            1_000_000,
            "sort {args:?} lost lines"
        );
        assert_same(&base, &hz3);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes the generated working tree of commit `c` into `repo`.
fn write_tree(repo: &Path, c: usize) {
    for f in 0..120usize {
        let sub = repo.join(format!("dir{}", f % 6));
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join(format!("file{f}.txt"));
        if c > 0 && f % 4 == c % 4 {
            continue; // untouched in this commit
        }
        if c == 3 && f % 10 == 0 {
            let _ = std::fs::remove_file(&path); // deletions
            continue;
        }
        let mut s = String::new();
        for line in 0..(20 + (f * 7 + c * 3) % 60) {
            let _ = writeln!(
                s,
                "file {f} line {line} rev {c} {}",
                "word ".repeat((line + f + c) % 9)
            );
        }
        std::fs::write(&path, s).unwrap();
    }
}

/// Runs the git session in `repo` and returns everything it printed, command by command.
fn git_session(repo: &Path, home: &Path, preload: bool) -> Vec<(String, Output)> {
    std::fs::create_dir_all(repo).unwrap();
    let mut outs = Vec::new();
    let git = |args: &[&str], commit: usize| {
        let date = format!("@{} +0000", 1_600_000_000 + commit * 3600);
        Run::new("git")
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "gc.auto=0",
                "-c",
                "pack.threads=2",
            ])
            .args(args)
            .current_dir(repo)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "hz3 test")
            .env("GIT_AUTHOR_EMAIL", "hz3@example.invalid")
            .env("GIT_COMMITTER_NAME", "hz3 test")
            .env("GIT_COMMITTER_EMAIL", "hz3@example.invalid")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .preload_if(preload)
            .timeout(300)
            .output()
    };
    let mut step = |args: &[&str], commit: usize| {
        let out = git(args, commit);
        out.assert_success();
        outs.push((args.join(" "), out));
    };
    step(&["init", "-q"], 0);
    for c in 0..4 {
        write_tree(repo, c);
        step(&["add", "-A"], c);
        let msg = format!("commit {c}");
        step(&["commit", "-q", "-m", &msg], c);
    }
    step(&["checkout", "-q", "-b", "side", "HEAD~2"], 4);
    std::fs::write(repo.join("side.txt"), "side branch\n".repeat(100)).unwrap();
    step(&["add", "side.txt"], 4);
    step(&["commit", "-q", "-m", "side"], 4);
    step(&["checkout", "-q", "main"], 5);
    step(&["merge", "-q", "--no-edit", "side"], 5);
    step(&["log", "--stat", "--format=%H %an <%ae> %ad%n%s"], 5);
    step(&["log", "-p", "-n", "2", "--format=%H"], 5);
    step(&["diff", "--stat", "HEAD~3", "HEAD"], 5);
    step(&["grep", "-n", "line 7 rev 2"], 5);
    step(&["blame", "--porcelain", "dir1/file7.txt"], 5);
    step(&["gc", "-q", "--prune=now"], 5);
    step(&["fsck", "--full", "--strict", "--no-dangling"], 5);
    step(&["rev-list", "--objects", "--all"], 5);
    step(&["ls-tree", "-r", "-l", "HEAD"], 5);
    step(&["cat-file", "-p", "HEAD"], 5);
    step(&["rev-parse", "HEAD", "HEAD^{tree}"], 5);
    outs
}

#[test]
fn git_same_output() {
    if !have_program("git", "--version") {
        return skip("git");
    }
    assert_preload_maps_hz3();
    let dir = scratch("git");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let base = git_session(&dir.join("base"), &home, false);
    let hz3 = git_session(&dir.join("hz3"), &home, true);
    assert_eq!(base.len(), hz3.len());
    for ((cmd, b), (_, h)) in base.iter().zip(&hz3) {
        assert!(
            !b.stdout.is_empty() || !cmd.starts_with("log"),
            "git {cmd} printed nothing"
        );
        if b.stdout != h.stdout {
            panic!(
                "git {cmd}: output differs under LD_PRELOAD\n--- baseline ---\n{}\n--- hz3 ---\n{}",
                tail(&b.stdout_str(), 3000),
                tail(&h.stdout_str(), 3000)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
