//! Building the bench binaries and running each data point as a fresh process.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::workspace_root;
use crate::results::{parse_run_line, RunLine};
use crate::strategies::PEERS;

/// The bench binary of `allocator` (its stats binary with `stats`); a preload row's is bench-system.
pub fn bin_name(allocator: &str, stats: bool) -> String {
    match (crate::strategies::is_preload(allocator), stats) {
        (true, _) => "bench-system".to_string(),
        (false, true) => format!("bench-{allocator}-stats"),
        (false, false) => format!("bench-{allocator}"),
    }
}

/// Loop alignment, in bytes, of the bench binaries unless `--align-loops` says otherwise, so a row
/// does not move when an unrelated edit shifts the code (docs/bench-matrix.md, "Code placement").
pub const MATRIX_ALIGN_LOOPS: u32 = 64;

/// The LTO of the bench binaries: the release profile has none (it would make each of the test
/// binaries re-optimise the standard library), the bench binaries are built with thin LTO so
/// that each allocator is called with Rust's `__rust_alloc` shim inlined (see Cargo.toml).
/// Passed as cargo's `CARGO_PROFILE_RELEASE_LTO`: `--profile bench` would not do, since
/// `cargo rustc --profile bench` compiles a binary as a benchmark harness.
pub const BENCH_LTO: (&str, &str) = ("CARGO_PROFILE_RELEASE_LTO", "thin");

/// The cargo command that builds one bench binary `bin` (release profile with [`BENCH_LTO`]):
/// `cargo build` when `align_loops` is 0, else `cargo rustc … -- -C llvm-args=-align-loops=N`
/// (thin LTO carries the flag to every Rust crate of the binary without rebuilding the
/// dependencies).
fn bench_cmd(root: &Path, peers: bool, bin: &str, align_loops: u32) -> Command {
    let mut cmd = cargo_in(root);
    cmd.env(BENCH_LTO.0, BENCH_LTO.1);
    cmd.arg(if align_loops == 0 { "build" } else { "rustc" });
    cmd.args(["--release", "-p", "hz3-bench", "--bin", bin]);
    if peers {
        cmd.args(["--features", "peers"]);
    }
    cmd
}

/// The cargo that runs us (`CARGO`, else `cargo` from `PATH`), in directory `root`.
pub fn cargo_in(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// Appends the alignment flag (after every cargo option) when `align_loops` is not 0.
fn align_flag(cmd: &mut Command, align_loops: u32) {
    if align_loops != 0 {
        cmd.args(["--", "-C", &format!("llvm-args=-align-loops={align_loops}")]);
    }
}

/// Builds exactly the bench binaries needed, with `--features peers` when a peer is among them:
/// one `cargo build --release -p hz3-bench --bin …` (with [`BENCH_LTO`]) for all of them when `align_loops` is 0, else
/// one `cargo rustc` each (see [`bench_cmd`]).
pub fn build(allocators: &[String], with_stats: bool, align_loops: u32) -> Result<(), String> {
    let peers = allocators.iter().any(|a| PEERS.contains(&a.as_str()));
    let mut bins: Vec<String> = Vec::new();
    for a in allocators {
        for stats in [false, true] {
            let b = bin_name(a, stats);
            if (!stats || (with_stats && crate::strategies::is_hz3(a))) && !bins.contains(&b) {
                bins.push(b);
            }
        }
    }
    let root = workspace_root();
    let Some((first, rest)) = bins.split_first() else {
        return Ok(());
    };
    let cmds: Vec<Command> = if align_loops == 0 {
        let mut cmd = bench_cmd(&root, peers, first, 0);
        for b in rest {
            cmd.args(["--bin", b]);
        }
        vec![cmd]
    } else {
        bins.iter()
            .map(|b| {
                let mut cmd = bench_cmd(&root, peers, b, align_loops);
                align_flag(&mut cmd, align_loops);
                cmd
            })
            .collect()
    };
    for mut cmd in cmds {
        run_in(&root, &mut cmd, "building the bench binaries")?;
    }
    if allocators.iter().any(|a| a == crate::strategies::PRELOAD) {
        build_capi(&root)?;
    }
    Ok(())
}

/// Runs a command in the workspace root (logged); `Err` with `what` when it fails.
pub fn run_in(root: &Path, cmd: &mut Command, what: &str) -> Result<(), String> {
    cmd.current_dir(root);
    tracing::info!("{what}: {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Builds hz3's C library, the `LD_PRELOAD` one (`cargo build --release -p hz3-capi`); its path.
pub fn build_capi(root: &Path) -> Result<PathBuf, String> {
    let mut cmd = cargo_in(root);
    cmd.args(["build", "--release", "-p", "hz3-capi"]);
    run_in(root, &mut cmd, "building hz3's C library")?;
    Ok(preload_lib(&crate::paths::default_bin_dir()))
}

/// Builds bench-system as [`build`] would (with the `peers` feature when the build that follows
/// wants it, and the same `align_loops`, so that neither the library nor the binary is built
/// twice); returns the binary.
pub fn build_bench_system(root: &Path, peers: bool, align_loops: u32) -> Result<PathBuf, String> {
    let mut cmd = bench_cmd(root, peers, "bench-system", align_loops);
    cmd.arg("--message-format=json-render-diagnostics");
    align_flag(&mut cmd, align_loops);
    tracing::info!("building bench-system to learn the strategy list: {cmd:?}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building bench-system failed ({})", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "bench-system")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo did not report the bench-system executable".into())
}

/// The strategy list, from `bench --list` (`bench` is a bench binary, e.g. bench-system).
pub fn learn_strategies(bench: &Path) -> Result<Vec<crate::strategies::Strategy>, String> {
    let out = run_capture(
        bench,
        &["--list".to_string()],
        std::time::Duration::from_secs(60),
    )?;
    crate::strategies::parse_list(&out).map_err(|e| format!("{} --list: {e}", bench.display()))
}

/// The preload library next to the bench binaries.
pub fn preload_lib(bin_dir: &Path) -> PathBuf {
    bin_dir.join("libhz3_capi.so")
}

/// What every data point of a matrix run shares.
pub struct PointSpec<'a> {
    pub bin_dir: &'a Path,
    pub duration_ms: u64,
    /// Live threads of `threads-many`.
    pub live_threads: usize,
    /// Blocks per live thread of `threads-many` (`None`: its default shape).
    pub blocks_per_thread: Option<usize>,
    /// The library each preload row runs under (`hz3-preload`, `mimalloc-preload`, ...).
    pub preloads: &'a [(String, PathBuf)],
}

/// Fails early, naming what is missing, when a needed binary was not built.
pub fn check_bins(bin_dir: &Path, allocators: &[String], with_stats: bool) -> Result<(), String> {
    let mut missing = Vec::new();
    if allocators.iter().any(|a| a == crate::strategies::PRELOAD) && !preload_lib(bin_dir).is_file()
    {
        missing.push(preload_lib(bin_dir).display().to_string());
    }
    for a in allocators {
        for s in [false, true] {
            if s && !(with_stats && crate::strategies::is_hz3(a)) {
                continue;
            }
            let p = bin_dir.join(bin_name(a, s));
            if !p.is_file() && !missing.contains(&p.display().to_string()) {
                missing.push(p.display().to_string());
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing bench binaries (build them or drop --no-build): {}",
            missing.join(", ")
        ))
    }
}

/// The trimmed stdout of `program args…` (run in `dir` when given) when it succeeds and prints
/// something: tool versions and package queries.
pub fn stdout_of(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.args(args).stdin(Stdio::null()).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// Runs `bin args…` with a timeout, returns stdout, or an error with the tail of stderr.
pub fn run_capture(bin: &Path, args: &[String], timeout: Duration) -> Result<String, String> {
    run_capture_env(bin, args, &[], timeout)
}

/// [`run_capture`] with extra environment variables.
pub fn run_capture_env(
    bin: &Path,
    args: &[String],
    env: &[(&str, PathBuf)],
    timeout: Duration,
) -> Result<String, String> {
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    }
    let out_t = drain(child.stdout.take().unwrap());
    let err_t = drain(child.stderr.take().unwrap());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Ok(st),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {:.0} s", timeout.as_secs_f64()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("wait failed: {e}")),
        }
    };
    if let Err(e) = status {
        // Do not wait for the pipes: a grandchild may still hold them open.
        return Err(format!("{}: {e}", bin.display()));
    }
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let tail = |s: &str| {
        let t: Vec<&str> = s.lines().rev().take(5).collect();
        t.into_iter().rev().collect::<Vec<_>>().join(" | ")
    };
    match status {
        Ok(st) if st.success() => Ok(stdout),
        Ok(st) => Err(format!(
            "{} exited with {st}: {}",
            bin.display(),
            tail(&stderr)
        )),
        Err(e) => Err(e),
    }
}

/// The arguments of one data point's process.
pub fn point_args(
    workload: &str,
    threads: usize,
    duration_ms: u64,
    live_threads: usize,
    blocks_per_thread: Option<usize>,
) -> Vec<String> {
    let mut args = format!("{workload} --threads {threads} --duration-ms {duration_ms}")
        .split(' ')
        .map(String::from)
        .collect::<Vec<_>>();
    if workload == "threads-many" {
        args.extend(["--live-threads".into(), live_threads.to_string()]);
        if let Some(b) = blocks_per_thread {
            args.extend(["--blocks-per-thread".into(), b.to_string()]);
        }
    }
    args
}

/// One data point: a fresh process of `bench-<allocator>[-stats] <workload>` (for a preload row,
/// `bench-system` with the row's library in `LD_PRELOAD`).
pub fn run_point(
    spec: &PointSpec,
    allocator: &str,
    stats: bool,
    workload: &str,
    threads: usize,
) -> Result<RunLine, String> {
    let bin = spec.bin_dir.join(bin_name(allocator, stats));
    let args = point_args(
        workload,
        threads,
        spec.duration_ms,
        spec.live_threads,
        spec.blocks_per_thread,
    );
    let timeout = Duration::from_millis(spec.duration_ms * 10 + 60_000);
    let preload = crate::strategies::is_preload(allocator);
    let env: Vec<(&str, PathBuf)> = if preload {
        let lib = spec
            .preloads
            .iter()
            .find(|(a, _)| a == allocator)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| format!("no library to preload for {allocator}"))?;
        vec![("LD_PRELOAD", lib)]
    } else {
        vec![]
    };
    tracing::debug!(
        "{}{} {}",
        if preload { "LD_PRELOAD=… " } else { "" },
        bin.display(),
        args.join(" ")
    );
    let out = run_capture_env(&bin, &args, &env, timeout)?;
    let mut line = parse_run_line(&out).map_err(|e| format!("{}: {e}", bin.display()))?;
    let reported = if preload { "system" } else { allocator };
    if line.allocator != reported || line.workload != workload {
        return Err(format!(
            "{} reported {}/{}, expected {reported}/{workload}",
            bin.display(),
            line.allocator,
            line.workload
        ));
    }
    line.allocator = allocator.to_string();
    tracing::debug!(
        "{} {} (peak RSS {} KiB, valid {})",
        line.value,
        line.unit,
        line.peak_rss_kib,
        line.valid
    );
    Ok(line)
}

/// Progress on stderr: one rewritten line on a terminal, else a line per group (a `tracing`
/// event of target [`crate::log::PROGRESS`]).
pub struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    /// Rewrite one line: stderr is a terminal and the progress target is enabled.
    tty: bool,
    last_group: String,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal()
                && tracing::enabled!(target: crate::log::PROGRESS, tracing::Level::INFO),
            last_group: String::new(),
        }
    }

    pub fn eta_secs(&self) -> Option<f64> {
        if self.done == 0 {
            return None;
        }
        let per = self.start.elapsed().as_secs_f64() / self.done as f64;
        Some(per * (self.total - self.done) as f64)
    }

    /// Called before each run.
    pub fn show(&mut self, group: &str, what: &str) {
        let eta = self.eta_secs().map_or("?".into(), crate::table::duration);
        let line = format!(
            "[{:>width$}/{}] {group} {what}  elapsed {}  remaining {} runs, ETA {eta}",
            self.done + 1,
            self.total,
            crate::table::duration(self.start.elapsed().as_secs_f64()),
            self.total - self.done,
            width = self.total.to_string().len()
        );
        if self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K{line}");
            let _ = e.flush();
        } else if group != self.last_group {
            tracing::info!(target: crate::log::PROGRESS, "{line}");
            self.last_group = group.to_string();
        }
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn advance(&mut self) {
        self.done += 1;
    }

    /// Clears the rewritten line (before a message that must not be overwritten).
    fn clear(&self) {
        if self.tty {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }

    /// A run that failed: a warning that stays on screen.
    pub fn failed(&self, msg: &str) {
        self.clear();
        tracing::warn!("run FAILED: {msg}");
    }

    pub fn finish(&self) {
        self.clear();
        tracing::info!(
            "{} runs in {}",
            self.done,
            crate::table::duration(self.start.elapsed().as_secs_f64())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(bin_name("hz3-a", false), "bench-hz3-a");
        assert_eq!(bin_name("hz3-a", true), "bench-hz3-a-stats");
    }

    #[test]
    fn preload_rows_run_bench_system_with_their_library() {
        assert_eq!(bin_name("mimalloc-preload", false), "bench-system");
        assert_eq!(bin_name("hz3-preload", false), "bench-system");
        assert_eq!(
            point_args("threads-many", 2, 400, 64, None)[5..],
            ["--live-threads", "64"]
        );
        assert_eq!(
            point_args("threads-many", 2, 400, 64, Some(48))[5..],
            ["--live-threads", "64", "--blocks-per-thread", "48"]
        );
        assert_eq!(
            point_args("xmalloc", 4, 400, 64, Some(48)),
            ["xmalloc", "--threads", "4", "--duration-ms", "400"]
        );
    }

    #[test]
    fn check_bins_names_what_is_missing() {
        let err = check_bins(
            Path::new("/nonexistent"),
            &["system".into(), "hz3-a".into()],
            true,
        )
        .unwrap_err();
        assert!(
            err.contains("bench-system") && err.contains("bench-hz3-a-stats"),
            "{err}"
        );
    }

    #[test]
    fn run_capture_reports_exit_status_and_timeouts() {
        let sh = Path::new("/bin/sh");
        let ok = run_capture(
            sh,
            &["-c".into(), "echo hi".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(ok, "hi\n");
        let err = run_capture(
            sh,
            &["-c".into(), "echo boom >&2; exit 3".into()],
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(err.contains("boom") && err.contains('3'), "{err}");
        let err = run_capture(
            sh,
            &["-c".into(), "sleep 5".into()],
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }

    #[test]
    fn eta_follows_the_average_run() {
        let mut p = Progress::new(10);
        assert_eq!(p.eta_secs(), None);
        p.advance();
        assert!(p.eta_secs().unwrap() >= 0.0);
    }
}
