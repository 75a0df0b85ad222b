//! Shared helpers of the hz3-capi integration tests.
//!
//! The tests never reference `hz3_capi` from Rust (linking its rlib would replace `malloc` in
//! the test process itself). They drive the C ABI through C programs in `tests/c/`, compiled
//! with the machine's C compiler (`$CC` or `cc`) and run in three ways:
//!
//! * [`Link::Plain`] + [`Run::preload`]: a program that knows nothing of hz3, run with
//!   `LD_PRELOAD=libhz3_capi.so`;
//! * [`Link::Shared`]: linked against `libhz3_capi.so` (`-L -l`, with an rpath);
//! * [`Link::Static`]: linked against `libhz3_capi.a`.
//!
//! Where the library is: cargo builds the `cdylib` and `staticlib` of this package whenever it
//! builds the library for the integration tests, into `target/<profile>/deps/` (it does not
//! uplift them to `target/<profile>/` for `cargo test`). The test binary lives in that same
//! `deps/` directory, so the library is found next to `current_exe()`; failing that, in
//! `target/<profile>/` (where `cargo build` puts it); failing that, the helper runs
//! `$CARGO build -p hz3-capi` for the same profile and target directory.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

/// Where the built library lives.
#[derive(Debug)]
pub struct Lib {
    /// `libhz3_capi.so` (absolute).
    pub so: PathBuf,
    /// `libhz3_capi.a` (absolute).
    pub a: PathBuf,
    /// `target/<profile>/` of this test run: scratch files go under it.
    pub profile_dir: PathBuf,
}

const SO: &str = "libhz3_capi.so";
const A: &str = "libhz3_capi.a";

/// The library under test (located once per test binary).
pub fn lib() -> &'static Lib {
    static LIB: OnceLock<Lib> = OnceLock::new();
    LIB.get_or_init(locate)
}

/// The guarded library (`--features checked`), built once per test binary by
/// `$CARGO build -p hz3-capi --features checked` (same profile) into its own target directory,
/// `target/<profile>/hz3-checked-target/`, so that it never replaces the plain library.
pub fn checked_lib() -> &'static Lib {
    static LIB: OnceLock<Lib> = OnceLock::new();
    LIB.get_or_init(|| {
        let profile_dir = lib().profile_dir.clone();
        let target_dir = profile_dir.join("hz3-checked-target");
        let profile = profile_dir
            .file_name()
            .expect("profile name")
            .to_string_lossy()
            .into_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "hz3-capi", "--features", "checked"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", &target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let st = cmd
            .status()
            .expect("run cargo build -p hz3-capi --features checked");
        assert!(st.success(), "{cmd:?} failed: {st}");
        let out = target_dir.join(&profile);
        let (so, a) = (out.join(SO), out.join(A));
        assert!(
            so.is_file() && a.is_file(),
            "{SO}/{A} missing in {}",
            out.display()
        );
        Lib { so, a, profile_dir }
    })
}

fn locate() -> Lib {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe
        .parent()
        .expect("test binary has a parent dir")
        .to_path_buf();
    let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps has a parent").to_path_buf()
    } else {
        deps.clone()
    };
    for dir in [&deps, &profile_dir] {
        let (so, a) = (dir.join(SO), dir.join(A));
        if so.is_file() && a.is_file() {
            return Lib {
                so,
                a,
                profile_dir: profile_dir.clone(),
            };
        }
    }
    // Fallback: build it ourselves, same profile, same target dir.
    let target_dir = profile_dir
        .parent()
        .expect("profile dir has a parent")
        .to_path_buf();
    let profile = profile_dir
        .file_name()
        .expect("profile name")
        .to_string_lossy()
        .into_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "hz3-capi"])
        .env("CARGO_TARGET_DIR", &target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!("hz3-capi tests: {SO} not found next to the test binary; running {cmd:?}");
    let st = cmd.status().expect("run cargo build -p hz3-capi");
    assert!(st.success(), "cargo build -p hz3-capi failed: {st}");
    let (so, a) = (profile_dir.join(SO), profile_dir.join(A));
    assert!(
        so.is_file() && a.is_file(),
        "{SO}/{A} still missing in {}",
        profile_dir.display()
    );
    Lib { so, a, profile_dir }
}

/// `tests/c/<name>`.
pub fn c_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("c")
        .join(name)
}

/// A fresh, empty scratch directory under `target/<profile>/hz3-capi-tests/`, unique per call
/// (tests of one binary run in parallel).
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = lib()
        .profile_dir
        .join("hz3-capi-tests")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// How a C program is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not linked with hz3 (to be run under `LD_PRELOAD`, or as the glibc baseline).
    Plain,
    /// Linked against `libhz3_capi.so` (rpath set).
    Shared,
    /// Linked against `libhz3_capi.a`.
    Static,
}

impl Link {
    pub fn name(self) -> &'static str {
        match self {
            Link::Plain => "plain",
            Link::Shared => "shared",
            Link::Static => "static",
        }
    }
}

/// The C compiler: `$CC`, else `cc`.
pub fn cc() -> String {
    std::env::var("CC")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cc".into())
}

/// The C++ compiler: `$CXX`, else `c++`.
pub fn cxx() -> String {
    std::env::var("CXX")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "c++".into())
}

/// Common compile flags. `-fno-builtin` keeps the compiler from folding or removing
/// `malloc`/`free` pairs, so every case really reaches the allocator.
fn base_flags(cmd: &mut Command) {
    cmd.args([
        "-std=gnu11",
        "-O2",
        "-g",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
    ])
    .args(["-fno-builtin", "-pthread", "-D_GNU_SOURCE"])
    .arg("-I")
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
    .arg("-I")
    .arg(c_src(""));
}

fn run_compiler(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the compiler {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "compiling {what} failed ({}):\n{:?}\n{}",
        out.status,
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `tests/c/<src>` (plus `extra` flags) into `<dir>/<stem>-<link>` and returns the
/// executable.
pub fn compile(dir: &Path, src: &str, link: Link, extra: &[&str]) -> PathBuf {
    compile_with(lib(), dir, src, link, extra)
}

/// As [`compile`], linked (for `Shared` and `Static`) against `lib`.
pub fn compile_with(lib: &Lib, dir: &Path, src: &str, link: Link, extra: &[&str]) -> PathBuf {
    let cpp = src.ends_with(".cc");
    let stem = src.trim_end_matches(".cc").trim_end_matches(".c");
    let exe = dir.join(format!("{stem}-{}", link.name()));
    let mut cmd = if cpp {
        let mut c = Command::new(cxx());
        c.args([
            "-std=c++17",
            "-O2",
            "-g",
            "-Wall",
            "-Wextra",
            "-Wno-unused-parameter",
            "-pthread",
        ])
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"));
        c
    } else {
        let mut c = Command::new(cc());
        base_flags(&mut c);
        c
    };
    cmd.arg(c_src(src)).args(extra).arg("-o").arg(&exe);
    match link {
        Link::Plain => {}
        Link::Shared => {
            let libdir = lib.so.parent().expect("lib dir");
            cmd.arg("-DHZ3_LINKED")
                .arg(format!("-L{}", libdir.display()))
                .arg("-Wl,--no-as-needed")
                .arg("-lhz3_capi")
                .arg(format!("-Wl,-rpath,{}", libdir.display()))
                // DT_RPATH, not DT_RUNPATH: cargo's LD_LIBRARY_PATH for tests lists
                // target/<profile> too, whose uplifted copy of the library may be older than
                // the one next to the test binary.
                .arg("-Wl,--disable-new-dtags");
        }
        Link::Static => {
            // -rdynamic: export malloc & co. from the executable, so that libc.so and dlsym
            // see them (the interposition a static link relies on).
            cmd.arg("-DHZ3_LINKED").arg("-rdynamic").arg(&lib.a);
            cmd.args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"]);
        }
    }
    cmd.args(["-ldl", "-lpthread"]);
    run_compiler(cmd, src);
    exe
}

/// Compiles `tests/c/<src>` into the shared library `<dir>/<name>`.
pub fn compile_shared_lib(dir: &Path, src: &str, name: &str) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new(cc());
    base_flags(&mut cmd);
    cmd.args(["-shared", "-fPIC"])
        .arg(c_src(src))
        .arg("-o")
        .arg(&out);
    run_compiler(cmd, src);
    out
}

/// The result of a finished program.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// A printable description of what ran (for messages).
    pub what: String,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// Panics (with both streams, truncated) unless the program exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "{} failed: {}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.what,
            describe(self.status),
            tail(&self.stdout_str(), 6000),
            tail(&self.stderr_str(), 6000)
        );
        self
    }
}

/// The last `n` bytes of `s` (at a char boundary).
pub fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

fn describe(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => {
            format!(
                "killed by signal {s}{}",
                if st.core_dumped() {
                    " (core dumped)"
                } else {
                    ""
                }
            )
        }
        _ => format!("{st}"),
    }
}

/// A program to run.
pub struct Run {
    cmd: Command,
    what: String,
    timeout: Duration,
    preload: bool,
    stdin: Option<PathBuf>,
}

impl Run {
    pub fn new(program: impl AsRef<std::ffi::OsStr>) -> Self {
        let program = program.as_ref();
        let mut cmd = Command::new(program);
        // Never let an outer LD_PRELOAD leak into a baseline run.
        cmd.env_remove("LD_PRELOAD");
        Run {
            cmd,
            what: program.to_string_lossy().into_owned(),
            timeout: Duration::from_secs(120),
            preload: false,
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.what.push(' ');
        self.what.push_str(&a.as_ref().to_string_lossy());
        self.cmd.arg(a);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        for a in args {
            self = self.arg(a);
        }
        self
    }
    pub fn env(mut self, k: impl AsRef<std::ffi::OsStr>, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }
    pub fn stdin_file(mut self, f: impl AsRef<Path>) -> Self {
        self.stdin = Some(f.as_ref().to_path_buf());
        self
    }
    pub fn timeout(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }
    /// Runs under `LD_PRELOAD=libhz3_capi.so` if `on`.
    pub fn preload_if(self, on: bool) -> Self {
        if on {
            self.preload_lib(lib())
        } else {
            self
        }
    }
    /// Runs under `LD_PRELOAD=<lib's .so>` (e.g. [`checked_lib`]).
    pub fn preload_lib(mut self, lib: &Lib) -> Self {
        self.cmd.env("LD_PRELOAD", &lib.so);
        self.preload = true;
        self
    }
    pub fn preload(self) -> Self {
        self.preload_if(true)
    }

    /// Spawns the program; `None` if the executable does not exist (for optional programs).
    pub fn try_output(mut self) -> Option<Output> {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match &self.stdin {
            Some(f) => {
                self.cmd
                    .stdin(std::fs::File::open(f).expect("open stdin file"));
            }
            None => {
                self.cmd.stdin(Stdio::null());
            }
        }
        let what = if self.preload {
            format!("LD_PRELOAD=hz3 {}", self.what)
        } else {
            self.what.clone()
        };
        let child = match self.cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot spawn {what}: {e}"),
        };
        let out = wait_with_timeout(child, self.timeout, &what);
        let out = Output {
            status: out.0,
            stdout: out.1,
            stderr: out.2,
            what,
        };
        if self.preload {
            let err = out.stderr_str();
            assert!(
                !err.contains("cannot be preloaded"),
                "{}: the dynamic loader refused the preload:\n{err}",
                out.what
            );
        }
        Some(out)
    }

    /// Runs the program to completion (panics if it cannot be started or times out).
    pub fn output(self) -> Output {
        let what = self.what.clone();
        self.try_output()
            .unwrap_or_else(|| panic!("{what}: program not found"))
    }
}

/// Waits for `child`, reading both pipes; kills it (and fails) after `timeout`.
fn wait_with_timeout(
    mut child: Child,
    timeout: Duration,
    what: &str,
) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let pid = child.id();
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let st = child.wait();
        let _ = tx.send(());
        st
    });
    if rx.recv_timeout(timeout).is_err() {
        // SAFETY: plain kill(2) of the child we spawned (not yet reaped: the waiter has not
        // returned).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let _ = waiter.join();
        let err = t_err.join().unwrap_or_default();
        panic!(
            "{what}: no exit within {timeout:?} (deadlock?); killed.\n--- stderr (tail) ---\n{}",
            tail(&String::from_utf8_lossy(&err), 4000)
        );
    }
    let st = waiter
        .join()
        .expect("waiter thread")
        .expect("wait for child");
    (
        st,
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default(),
    )
}

/// Runs `exe` with `args` in every requested way (linked builds directly, `Plain` under
/// `LD_PRELOAD`) and asserts exit 0; returns the outputs.
pub fn run_all(exes: &[(Link, PathBuf)], args: &[&str], timeout: u64) -> Vec<Output> {
    exes.iter()
        .map(|(link, exe)| {
            let out = Run::new(exe)
                .args(args)
                .preload_if(*link == Link::Plain)
                .timeout(timeout)
                .output();
            out.assert_success();
            out
        })
        .collect()
}

/// Compiles `src` for every link mode in `links`.
pub fn compile_all(dir: &Path, src: &str, links: &[Link], extra: &[&str]) -> Vec<(Link, PathBuf)> {
    links
        .iter()
        .map(|&l| (l, compile(dir, src, l, extra)))
        .collect()
}

/// Whether a program exists on this machine (for the optional real programs): it can be
/// started at all. A program that starts but fails is not "missing".
pub fn have_program(prog: &str, probe_arg: &str) -> bool {
    Run::new(prog)
        .arg(probe_arg)
        .timeout(60)
        .try_output()
        .is_some()
}
