//! Building the bench binaries and running each data point as a fresh process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{Bins, MatrixOpts};
use crate::paths::workspace_root;
use crate::results::{parse_run_line, RunLine};
use crate::strategies::{is_hz3, is_preload, PEERS, PRELOAD};

/// The bench binary of `allocator` (its stats binary with `stats`); a preload row's is bench-system.
pub fn bin_name(allocator: &str, stats: bool) -> String {
    if is_preload(allocator) {
        return "bench-system".into();
    }
    format!("bench-{allocator}{}", if stats { "-stats" } else { "" })
}

/// The bench binaries `allocators` run on (and the hz3 stats binaries with `with_stats`), each once.
fn needed_bins(allocators: &[String], with_stats: bool) -> Vec<String> {
    let mut bins: Vec<String> = Vec::new();
    for a in allocators {
        for b in [bin_name(a, false), bin_name(a, with_stats && is_hz3(a))] {
            bins.extend((!bins.contains(&b)).then_some(b));
        }
    }
    bins
}

/// `cargo build` of `bins` with thin LTO, or with `align` not 0 `cargo rustc … -- -C
/// llvm-args=-align-loops=N` (thin LTO carries it to every Rust crate without rebuilding them).
fn bench_cmd(root: &Path, peers: bool, bins: &[String], extra: &[&str], align: u32) -> Command {
    let mut cmd = cargo_in(root);
    // Thin LTO inlines Rust's `__rust_alloc` shim (the release profile has none, see Cargo.toml);
    // not `cargo rustc --profile bench`, which compiles a binary as a benchmark harness.
    cmd.env("CARGO_PROFILE_RELEASE_LTO", "thin");
    cmd.arg(if align == 0 { "build" } else { "rustc" });
    cmd.args(["--release", "-p", "hz3-bench", "--bin", &bins[0]]);
    cmd.args(["--features", "peers"].iter().filter(|_| peers));
    cmd.args(bins[1..].iter().flat_map(|b| ["--bin", b]));
    cmd.args(extra);
    if align != 0 {
        cmd.args(["--", "-C", &format!("llvm-args=-align-loops={align}")]);
    }
    cmd
}

/// The cargo that runs us (`CARGO`, else `cargo` from `PATH`), in directory `root`.
pub fn cargo_in(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// The directory of the bench binaries `allocs` need, checked; first (unless `--no-build`)
/// builds them, and hz3's C library for the `hz3-preload` row.
pub fn build(bins: &Bins, allocs: &[String], stats: bool, align: u32) -> Result<PathBuf, String> {
    let peers = allocs.iter().any(|a| PEERS.contains(&a.as_str()));
    let (needed, root) = (needed_bins(allocs, stats), workspace_root());
    if bins.build {
        for b in needed.chunks(if align == 0 { usize::MAX } else { 1 }) {
            let cmd = &mut bench_cmd(&root, peers, b, &[], align);
            run_in(&root, cmd, "building the bench binaries")?;
        }
        if allocs.iter().any(|a| a == PRELOAD) {
            build_capi(&root)?;
        }
    }
    let dir = bins.bin_dir.clone();
    check_bins(&dir, allocs, stats)?;
    Ok(dir)
}

/// Runs a command in the workspace root (logged); `Err` with `what` when it fails.
pub fn run_in(root: &Path, cmd: &mut Command, what: &str) -> Result<(), String> {
    cmd.current_dir(root);
    tracing::info!("{what}: {cmd:?}");
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed ({s})")),
        Err(e) => Err(format!("{what}: cannot start: {e}")),
    }
}

/// Builds hz3's C library, the `LD_PRELOAD` one (`cargo build --release -p hz3-capi`); its path.
pub fn build_capi(root: &Path) -> Result<PathBuf, String> {
    let args = ["build", "--release", "-p", "hz3-capi"];
    run_in(root, cargo_in(root).args(args), "building hz3's C library")?;
    Ok(preload_lib(&crate::paths::default_bin_dir()))
}

/// The executable of target `name` among the JSON messages of a cargo build (its `stdout`).
pub fn cargo_executable(stdout: &[u8], name: &str) -> Option<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == name)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
}

/// Builds bench-system as [`build`] would (so that nothing is built twice); returns the binary.
pub fn build_bench_system(root: &Path, peers: bool, align_loops: u32) -> Result<PathBuf, String> {
    let json = ["--message-format=json-render-diagnostics"];
    let mut cmd = bench_cmd(root, peers, &["bench-system".into()], &json, align_loops);
    tracing::info!("building bench-system to learn the strategy list: {cmd:?}");
    let out = cmd.stderr(Stdio::inherit()).output();
    let out = out.map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building bench-system failed ({})", out.status));
    }
    cargo_executable(&out.stdout, "bench-system")
        .ok_or_else(|| "cargo did not report the bench-system executable".into())
}

/// The strategy list, from `bench --list` (`bench` is a bench binary, e.g. bench-system).
pub fn learn_strategies(bench: &Path) -> Result<Vec<crate::strategies::Strategy>, String> {
    let out = capture(Command::new(bench).arg("--list"), Duration::from_secs(60))?;
    crate::strategies::parse_list(&out).map_err(|e| format!("{} --list: {e}", bench.display()))
}

/// The preload library next to the bench binaries.
pub fn preload_lib(bin_dir: &Path) -> PathBuf {
    bin_dir.join("libhz3_capi.so")
}

/// Fails early, naming what is missing, when a needed binary was not built.
pub fn check_bins(bin_dir: &Path, allocators: &[String], with_stats: bool) -> Result<(), String> {
    let preload = allocators.iter().any(|a| a == PRELOAD);
    let lib = preload.then(|| preload_lib(bin_dir));
    let bins = needed_bins(allocators, with_stats).into_iter();
    let missing: Vec<String> = (lib.into_iter().chain(bins.map(|b| bin_dir.join(b))))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let what = "missing bench binaries (build them or drop --no-build)";
    Err(format!("{what}: {}", missing.join(", ")))
}

/// The trimmed stdout of `program args…` (in `dir` when given) if it succeeds and prints something.
pub fn stdout_of(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir.unwrap_or(Path::new(".")));
    let out = capture(&mut cmd, Duration::from_secs(600)).ok()?;
    Some(out.trim().to_string()).filter(|s| !s.is_empty())
}

/// Runs `cmd` with a timeout: its stdout, or an error with the tail of its stderr.
pub fn capture(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let bin = Path::new(cmd.get_program()).display().to_string();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let child = cmd.stderr(Stdio::piped()).spawn();
    let mut child = child.map_err(|e| format!("cannot start {bin}: {e}"))?;
    let (o, e) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || std::io::read_to_string(o).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(e).unwrap_or_default());
    let start = Instant::now();
    // On a timeout, do not wait for the pipes: a grandchild may still hold them open.
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill().and_then(|()| child.wait());
                let secs = timeout.as_secs_f64();
                return Err(format!("{bin}: timed out after {secs:.0} s"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{bin}: wait failed: {e}")),
        }
    };
    if status.success() {
        return Ok(out.join().unwrap_or_default());
    }
    let err = err.join().unwrap_or_default();
    let lines: Vec<&str> = err.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    Err(format!("{bin} exited with {status}: {tail}"))
}

/// The arguments of one data point's process.
pub fn point_args(o: &MatrixOpts, workload: &str, threads: usize) -> Vec<String> {
    let ms = o.duration_ms;
    let mut args = format!("{workload} --threads {threads} --duration-ms {ms}");
    if workload == "threads-many" {
        args += &format!(" --live-threads {}", o.live_threads);
        if let Some(b) = o.blocks_per_thread {
            args += &format!(" --blocks-per-thread {b}");
        }
    }
    args.split(' ').map(String::from).collect()
}

/// One data point, a fresh process (a preload row's: bench-system with its `preloads` library).
pub fn run_point(
    o: &MatrixOpts,
    bin_dir: &Path,
    preloads: &[(String, PathBuf)],
    allocator: &str,
    stats: bool,
    workload: &str,
    threads: usize,
) -> Result<RunLine, String> {
    let bin = bin_dir.join(bin_name(allocator, stats));
    let args = point_args(o, workload, threads);
    let timeout = Duration::from_millis(o.duration_ms * 10 + 60_000);
    let preload = is_preload(allocator);
    let mut cmd = Command::new(&bin);
    match preloads.iter().find(|(a, _)| a == allocator) {
        _ if !preload => &mut cmd,
        Some((_, lib)) => cmd.env("LD_PRELOAD", lib),
        None => return Err(format!("no library to preload for {allocator}")),
    };
    let env_text = if preload { "LD_PRELOAD=… " } else { "" };
    tracing::debug!("{env_text}{} {}", bin.display(), args.join(" "));
    let out = capture(cmd.args(&args), timeout)?;
    let bin = bin.display();
    let mut line = parse_run_line(&out).map_err(|e| format!("{bin}: {e}"))?;
    // The names hold no `/`.
    let got = format!("{}/{}", line.allocator, line.workload);
    let expected = format!("{}/{workload}", if preload { "system" } else { allocator });
    if got != expected {
        return Err(format!("{bin} reported {got}, expected {expected}"));
    }
    line.allocator = allocator.to_string();
    let (value, unit, rss, valid) = (line.value, &line.unit, line.peak_rss_kib, line.valid);
    tracing::debug!("{value} {unit} (peak RSS {rss} KiB, valid {valid})");
    Ok(line)
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
        let opts = |args: &str| {
            let argv = format!("xtask bench-matrix --duration-ms 400 --live-threads 64{args}");
            match <crate::cli::Cli as clap::Parser>::parse_from(argv.split(' ')).command {
                Some(crate::cli::Command::BenchMatrix(o)) => o,
                c => panic!("{c:?}"),
            }
        };
        let mut spec = opts("");
        assert_eq!(
            point_args(&spec, "threads-many", 2)[5..],
            ["--live-threads", "64"]
        );
        spec = opts(" --blocks-per-thread 48");
        assert_eq!(
            point_args(&spec, "threads-many", 2)[5..],
            ["--live-threads", "64", "--blocks-per-thread", "48"]
        );
        assert_eq!(
            point_args(&spec, "xmalloc", 4),
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
        let ok = capture(
            Command::new(sh).args(["-c", "echo hi"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(ok, "hi\n");
        let err = capture(
            Command::new(sh).args(["-c", "echo boom >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(err.contains("boom") && err.contains('3'), "{err}");
        let err = capture(
            Command::new(sh).args(["-c", "sleep 5"]),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }
}
