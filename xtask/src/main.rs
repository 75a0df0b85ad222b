//! `cargo xtask` — hz3-rs developer tasks. The main one is `cargo xtask bench-matrix`: the S121
//! matrix (every hz3 strategy) side by side with glibc, mimalloc, jemalloc and snmalloc, with a
//! report people read, a JSON file, a chart, and a CI regression gate. See docs/bench-matrix.md.

mod budget;
mod callgrind;
/// The workload names and sets: the benches' own list, compiled in (one source for both).
#[allow(dead_code)] // the callgrind names are the benches' alone
#[path = "../../benches/src/catalogue.rs"]
mod catalogue;
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
mod servers;
mod stats;
mod strategies;
mod table;

use std::path::Path;
use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let cli = <cli::Cli as clap::Parser>::parse();
    log::init(cli.verbose);
    let Some(command) = cli.command else {
        let _ = <cli::Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    };
    match real_main(command) {
        Ok(passed) => ExitCode::from(u8::from(!passed)),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(mut command: Command) -> Result<bool, String> {
    let root = paths::workspace_root();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let strategies = learn_strategies(&root, &command)?;
    command.resolve(&strategies::allocator_names(&strategies), threads)?;
    match command {
        Command::SyncBins => {
            let mut changes = strategies::sync_bins(&root, &strategies)?;
            if changes.is_empty() {
                changes.push("hz3 binaries are in sync with the strategy list".into());
            }
            changes.iter().for_each(|c| println!("{c}"));
            Ok(true)
        }
        Command::Report { path, chart } => {
            let m = results::load(&path)?;
            print!("{}", report::render_all(&m));
            chart.map_or(Ok(true), |p| chart::write(&p, &m).map(|()| true))
        }
        Command::ValidateJson { path } => {
            let (n, schema) = (results::load(&path)?.cells.len(), results::SCHEMA);
            println!("{}: valid {schema} ({n} results)", path.display());
            Ok(true)
        }
        Command::Gate(o) => {
            let (b, c) = (results::load(&o.baseline)?, results::load(&o.current)?);
            let warnings = gate::check_machines(&b.machine, &c.machine, o.allow_other_cpu)?;
            warnings.iter().for_each(|w| println!("{w}"));
            Ok(gate::print(&b, &c, o.tolerance))
        }
        Command::CallgrindGate(o) => callgrind::run(&o),
        Command::FaultGate(o) => faults::run(&o),
        Command::Soak { args } => {
            let mut cmd = runner::cargo_in(&root);
            cmd.args("run --release -q -p hz3-alloc --example soak --".split(' '));
            runner::run_in(&root, cmd.args(args), "soak").map(|()| true)
        }
        Command::Memcheck => memcheck(&root).map(|()| true),
        Command::Servers(o) => servers::run(&root, &o),
        Command::BenchMatrix(o) => matrix::run(&o, &root, &strategies),
    }
}

/// The hz3 strategy list from `bench-system --list` (built unless `--no-build`), if needed.
fn learn_strategies(root: &Path, command: &Command) -> Result<Vec<strategies::Strategy>, String> {
    let any_peer = |a: &[String]| a.iter().any(|a| strategies::PEERS.contains(&a.as_str()));
    let (bins, peers, align_loops) = match command {
        Command::SyncBins => (None, false, 0),
        Command::BenchMatrix(o) => {
            let peers = o.allocators.is_empty() || any_peer(&o.allocators);
            (Some(&o.bins), peers, o.align_loops)
        }
        Command::CallgrindGate(o) => (Some(&o.bins), false, 0),
        Command::FaultGate(o) => (Some(&o.bins), any_peer(&o.allocators), 0),
        _ => return Ok(Vec::new()),
    };
    let bench = match bins {
        Some(b) if !b.build => b.bin_dir.join("bench-system"),
        _ => runner::build_bench_system(root, peers, align_loops)?,
    };
    runner::learn_strategies(&bench)
}

/// `cargo xtask memcheck`: hz3-alloc's stress test under valgrind memcheck (testing.md T12).
fn memcheck(root: &Path) -> Result<(), String> {
    // cargo runs the test binary through valgrind (a runner for every target).
    let valgrind = "valgrind --tool=memcheck --error-exitcode=99 --quiet";
    let mut cmd = runner::cargo_in(root);
    cmd.args("test --release -p hz3-alloc --test stress --config".split(' '));
    cmd.arg(format!("target.'cfg(all())'.runner = '{valgrind}'"));
    cmd.args(["--", "--test-threads=1", "hz3_a_cache::"]);
    let what = "valgrind memcheck of the stress test";
    runner::run_in(root, cmd.env("HZ3_TEST_SCALE", "1"), what)
}
