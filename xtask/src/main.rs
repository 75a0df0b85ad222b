//! `cargo xtask` — hz3-rs developer tasks. The main one is `cargo xtask bench-matrix`: the S121
//! matrix (every hz3 strategy) side by side with glibc, mimalloc, jemalloc and snmalloc, with a
//! report people read, a JSON file, a chart, and a CI regression gate. See docs/bench-matrix.md.

mod budget;
mod callgrind;
mod chart;
mod cli;
mod faults;
mod gate;
mod log;
mod machine;
mod matrix;
mod paths;
mod peers;
mod report;
mod results;
mod runner;
mod schema;
mod stats;
mod strategies;
mod table;

use std::path::Path;
use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    log::init(log::take_verbosity(&mut args));
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: &[String]) -> Result<bool, String> {
    let root = paths::workspace_root();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut command = cli::parse_raw(args, threads)?;
    let strategies = learn_strategies(&root, &command)?;
    command.resolve(&strategies::allocator_names(&strategies))?;
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(true)
        }
        Command::SyncBins => {
            let changes = strategies::sync_bins(&root, &strategies)?;
            if changes.is_empty() {
                println!("hz3 binaries are in sync with the strategy list");
            }
            for c in changes {
                println!("{c}");
            }
            Ok(true)
        }
        Command::Report(path) => {
            let m = results::load(&path)?;
            println!("machine: {}", m.machine.describe());
            println!();
            print!("{}", report::render_all(&m));
            Ok(true)
        }
        Command::ValidateJson(path) => {
            let m = results::load(&path)?;
            println!(
                "{}: valid {} ({} results)",
                path.display(),
                results::SCHEMA,
                m.cells.len()
            );
            Ok(true)
        }
        Command::Gate {
            baseline,
            current,
            tolerance,
            allow_other_cpu,
        } => {
            let b = results::load(&baseline)?;
            let c = results::load(&current)?;
            for w in gate::check_machines(&b, &c, allow_other_cpu)? {
                println!("{w}");
            }
            Ok(gate::print(&b, &c, tolerance))
        }
        Command::CallgrindGate(o) => callgrind::run(&o),
        Command::FaultGate(o) => faults::run(&o),
        Command::Soak(args) => soak(&root, &args).map(|()| true),
        Command::Memcheck => memcheck(&root).map(|()| true),
        Command::BenchMatrix(o) => matrix::run(&o, &root, &strategies),
    }
}

/// The hz3 strategy list, for the commands that need it (else empty): from `bench-system --list`,
/// built first unless the command says `--no-build` (then the one in its `--bin-dir`).
fn learn_strategies(root: &Path, command: &Command) -> Result<Vec<strategies::Strategy>, String> {
    let (build, bin_dir, peers, align_loops) = match command {
        Command::SyncBins => (true, None, false, 0),
        Command::BenchMatrix(o) => (
            o.build,
            o.bin_dir.clone(),
            o.allocators.is_empty()
                || o.allocators
                    .iter()
                    .any(|a| strategies::PEERS.contains(&a.as_str())),
            o.align_loops,
        ),
        Command::CallgrindGate(o) => (o.build, o.bin_dir.clone(), false, 0),
        Command::FaultGate(o) => (
            o.build,
            o.bin_dir.clone(),
            o.allocators
                .iter()
                .any(|a| strategies::PEERS.contains(&a.as_str())),
            0,
        ),
        _ => return Ok(Vec::new()),
    };
    let bench = if build {
        runner::build_bench_system(root, peers, align_loops)?
    } else {
        bin_dir
            .unwrap_or_else(paths::default_bin_dir)
            .join("bench-system")
    };
    runner::learn_strategies(&bench)
}

/// Runs a command in the workspace root; `Err` with `what` when it fails.
fn run_in(
    root: &std::path::Path,
    cmd: &mut std::process::Command,
    what: &str,
) -> Result<(), String> {
    cmd.current_dir(root);
    tracing::info!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// `cargo xtask soak`: builds and runs the soak program (crates/hz3-alloc/examples/soak.rs).
fn soak(root: &std::path::Path, args: &[String]) -> Result<(), String> {
    let mut cmd = runner::cargo_in(root);
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "hz3-alloc",
        "--example",
        "soak",
        "--",
    ])
    .args(args);
    run_in(root, &mut cmd, "soak")
}

/// `cargo xtask memcheck`: the hz3-alloc stress and lifecycle tests under valgrind memcheck,
/// failing on any reported error (testing.md T12).
fn memcheck(root: &std::path::Path) -> Result<(), String> {
    let out = runner::cargo_in(root)
        .args([
            "test",
            "--release",
            "-p",
            "hz3-alloc",
            "--test",
            "stress",
            "--no-run",
            "--message-format=json",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the stress test failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v.get("executable")
                .and_then(|e| e.as_str())
                .map(String::from)
        })
        .next_back()
        .ok_or("cargo did not report the stress test executable")?;
    let mut cmd = std::process::Command::new("valgrind");
    cmd.args([
        "--tool=memcheck",
        "--error-exitcode=99",
        "--quiet",
        &exe,
        "--test-threads=1",
        "hz3_a_cache::",
    ]);
    cmd.env("HZ3_TEST_SCALE", "1");
    run_in(root, &mut cmd, "valgrind memcheck of the stress test")
}
