//! The command line, on clap (doc comments are the `--help`); a parsed command is
//! [`Command::resolve`]d once the allocator names are known (from the bench binaries).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, RangedU64ValueParser};
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::catalogue::{workload_set, WORKLOAD_NAMES, WORKLOAD_SETS};
use crate::strategies::{is_preload, PEERS, PRELOAD};

/// hz3-rs developer tasks.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    after_help = "progress and diagnostics go to stderr (the tables to stdout): -v adds each run's command line and result, -vv more; RUST_LOG overrides both (e.g. RUST_LOG=warn, RUST_LOG=info,xtask::progress=off)"
)]
pub struct Cli {
    /// more diagnostics on stderr (-v: each run's command line and result; -vv: more)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Clone, Debug, PartialEq)]
pub enum Command {
    /// run the S121 matrix (every hz3 strategy) against system, mimalloc, jemalloc, snmalloc and
    /// the LD_PRELOAD rows; print the tables, optionally write the JSON and chart, and gate
    BenchMatrix(MatrixOpts),
    /// compare two result files without running anything (refuses files from different CPU
    /// models unless --allow-other-cpu)
    Gate(GateOpts),
    /// instructions per local alloc+free pair and per remote free (valgrind --tool=callgrind)
    /// against the committed budget benches/callgrind-budget.json
    CallgrindGate(CallgrindOpts),
    /// minor page faults of the OS-boundary workloads (fixed iterations, minimum of --reps
    /// processes) against the committed budget benches/fault-budget.json
    FaultGate(FaultOpts),
    /// check a results file against schema hz3-bench/1
    ValidateJson { path: PathBuf },
    /// print the tables of a saved results file (no runs); with --chart, draw its chart again
    Report {
        path: PathBuf,
        /// write the chart of the file to this SVG (as `bench-matrix --chart` does)
        #[arg(long, value_name = "PATH.svg")]
        chart: Option<PathBuf>,
    },
    /// (re)write the one-line hz3 binaries and their `[[bin]]` block from the strategy list
    /// (hz3-alloc's catalogue, as `bench-system --list` prints it)
    SyncBins,
    /// long stress / 100k-thread lifecycle / producer-consumer RSS / fork / fuzz runs
    /// (crates/hz3-alloc/examples/soak.rs; arguments such as --scale F --strategies a,c|all go
    /// to it); fails on any loss or bound violation
    Soak {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// the hz3-alloc stress test under valgrind memcheck (expects 0 errors)
    Memcheck,
    /// redis-server and RocksDB's db_bench under hz3's and the peers' C libraries (LD_PRELOAD):
    /// throughput per operation, faults, RSS, interleaved runs
    ///
    /// redis-server and RocksDB's db_bench under LD_PRELOAD of each allocator's C library
    /// (hz3-capi, the matrix's preload peers, --peer libraries; `system` = no preload,
    /// `glibc-preload` = glibc ahead of an allocator the program links), interleaved, medians and
    /// spread (min-max).
    Servers(crate::servers::Opts),
}

#[derive(Args, Clone, Debug, PartialEq)]
pub struct GateOpts {
    pub baseline: PathBuf,
    pub current: PathBuf,
    #[command(flatten)]
    pub tolerance: Tolerance,
    /// compare files measured on different CPU models
    #[arg(long)]
    pub allow_other_cpu: bool,
}

/// Gate tolerance: a ratio may drop by `max(floor, noise_k × CV)` (CV: the larger of the two
/// runs' coefficient of variation of the per-round ratios, so it grows with the measured noise).
#[derive(Args, Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// smallest tolerated drop of a ratio, as a fraction
    #[arg(long = "gate-floor", value_name = "F", default_value_t = 0.10, value_parser = fraction)]
    pub floor: f64,
    /// tolerance = max(floor, K × CV of the per-round ratios)
    #[arg(long = "gate-noise-k", value_name = "K", default_value_t = 2.0)]
    pub noise_k: f64,
}

/// Where the bench binaries come from (every command that runs them).
#[derive(Args, Clone, Debug, PartialEq)]
pub struct Bins {
    /// do not run cargo build first
    #[arg(long = "no-build", action = ArgAction::SetFalse)]
    pub build: bool,
    /// where the bench-* binaries are (default: target/release)
    #[arg(long, value_name = "DIR", default_value_os_t = crate::paths::default_bin_dir(), hide_default_value = true)]
    pub bin_dir: PathBuf,
}

#[derive(Args, Clone, Debug, PartialEq)]
pub struct MatrixOpts {
    /// 3 rounds × 400 ms per data point (the default)
    #[arg(long, overrides_with = "full")]
    quick: bool,
    /// 10 rounds × 1000 ms per data point
    #[arg(long, overrides_with = "quick")]
    full: bool,
    /// override the number of rounds
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000),
          default_value = "3", default_value_ifs = [("full", "true", "10")], hide_default_value = true)]
    pub rounds: usize,
    /// override the length of each run
    #[arg(long, value_name = "M", value_parser = RangedU64ValueParser::<u64>::new().range(1..=u64::from(u32::MAX)),
          default_value = "400", default_value_ifs = [("full", "true", "1000")], hide_default_value = true)]
    pub duration_ms: u64,
    /// worker threads (default: the machine's core count); a list runs the matrix at each count
    /// (a sweep: tables per count, throughput and peak RSS against the thread count, chart of
    /// both)
    #[arg(long, value_name = "N,M,..", value_delimiter = ',', value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Vec<usize>,
    /// threads alive at once in threads-many
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub live_threads: usize,
    /// threads-many: N blocks of mixed sizes 8–608 B per live thread instead of its default
    /// shape (20 blocks of 16–2048 B)
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub blocks_per_thread: Option<usize>,
    /// gate against a baseline measured on another CPU model (refused otherwise)
    #[arg(long)]
    pub allow_other_cpu: bool,
    /// subset of: system, mimalloc, jemalloc, snmalloc, hz3-* (every strategy), hz3-preload,
    /// mimalloc3-preload, snmalloc-preload, tcmalloc-preload, mimalloc-preload, jemalloc-preload
    /// (default: all; the *-preload rows are bench-system with hz3's or the peer's C library
    /// under LD_PRELOAD: mimalloc 3 and snmalloc built from their crates' sources into
    /// target/peers, the others Debian's, installed with apt-get when missing; a peer library
    /// that cannot be had is skipped with a note)
    #[arg(long, value_name = "a,b,..", value_delimiter = ',')]
    pub allocators: Vec<String>,
    /// workload names or sets (default: every workload but the program shapes, threads-many,
    /// epoch and the peer-led shapes; local, os, real, shapes: groups; all)
    #[arg(long, value_name = "w,x,..", value_delimiter = ',', default_value = "default",
          value_parser = PossibleValuesParser::new(WORKLOAD_NAMES.iter().chain(WORKLOAD_SETS.iter().map(|(n, _)| n))))]
    pub workloads: Vec<String>,
    /// write the results (schema hz3-bench/1)
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// draw the ratios (log axis), peak RSS and page faults per workload (a sweep: lines
    /// against the thread count)
    #[arg(long, value_name = "PATH.svg")]
    pub chart: Option<PathBuf>,
    /// fail if an hz3 strategy's ratio to system dropped beyond tolerance
    #[arg(long, value_name = "BASELINE.json")]
    pub gate: Option<PathBuf>,
    #[command(flatten)]
    pub tolerance: Tolerance,
    /// skip the stats pass
    #[arg(long = "no-stats", action = ArgAction::SetFalse)]
    pub stats_pass: bool,
    #[command(flatten)]
    pub bins: Bins,
    // Aligned by default so that a row does not move when an unrelated edit shifts the code
    // (docs/bench-matrix.md, "Code placement").
    /// build the bench binaries with every Rust loop aligned to N bytes (0: the compiler's own
    /// placement, as before 2026-11-30)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = align)]
    pub align_loops: u32,
}

impl MatrixOpts {
    /// `quick` or `full`.
    pub fn mode(&self) -> &'static str {
        ["quick", "full"][usize::from(self.full)]
    }
}

#[derive(Args, Clone, Debug, PartialEq)]
pub struct CallgrindOpts {
    /// rewrite the budget from this measurement
    #[arg(long)]
    pub update: bool,
    /// budget file
    #[arg(long, value_name = "PATH", default_value = CALLGRIND_BUDGET)]
    pub budget: PathBuf,
    /// allowed growth, as a fraction (default: the budget's, else 0.02)
    #[arg(long, value_name = "F", value_parser = fraction)]
    pub tolerance: Option<f64>,
    /// subset (default: system + every hz3 strategy)
    #[arg(long, value_name = "a,b,..", value_delimiter = ',')]
    pub allocators: Vec<String>,
    #[command(flatten)]
    pub bins: Bins,
    /// objects per measured run (the gate also runs 2× this and takes the difference)
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = RangedU64ValueParser::<usize>::new().range(1024..))]
    pub iters: usize,
}

#[derive(Args, Clone, Debug, PartialEq)]
pub struct FaultOpts {
    /// rewrite the budget from this measurement
    #[arg(long)]
    pub update: bool,
    /// budget file
    #[arg(long, value_name = "PATH", default_value = "benches/fault-budget.json")]
    pub budget: PathBuf,
    /// allowed growth, as a fraction (default: the budget's, else 0.15)
    #[arg(long, value_name = "F", value_parser = fraction)]
    pub tolerance: Option<f64>,
    /// default hz3-a-cache,hz3-preload; peers named here are shown as a reference, with hz3's
    /// faults over the median peer's
    #[arg(long, value_name = "a,b,..", value_delimiter = ',')]
    pub allocators: Vec<String>,
    #[command(flatten)]
    pub bins: Bins,
    /// fresh processes per workload (the figure is their minimum)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub reps: usize,
}

const CALLGRIND_BUDGET: &str = "benches/callgrind-budget.json";

/// The fault gate's default: the default strategy as the global allocator and as the C library.
pub const FAULT_GATE_ALLOCATORS: &[&str] = &["hz3-a-cache", PRELOAD];

fn fraction(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if (0.0..1.0).contains(&f) => Ok(f),
        Ok(f) => Err(format!("must be in [0, 1), got {f}")),
        Err(_) => Err(format!("not a valid number: {v:?}")),
    }
}

fn align(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if n == 0 || (n.is_power_of_two() && n <= 4096) => Ok(n),
        _ => Err("must be 0 or a power of two up to 4096".into()),
    }
}

/// `asked` checked against `known`, in `known`'s order, each once; empty: all of `known`.
fn pick(asked: &[String], known: &[String]) -> Result<Vec<String>, String> {
    if let Some(bad) = asked.iter().find(|a| !known.contains(a)) {
        let known = known.join(", ");
        let msg = format!("--allocators: unknown name {bad:?}; known: {known}");
        return Err(msg);
    }
    let mut picked = known.to_vec();
    picked.retain(|k| asked.is_empty() || asked.contains(k));
    Ok(picked)
}

impl Command {
    /// Checks `--allocators` against `allocators` (every known name, in table order), fills in
    /// the defaults (`default_threads`: the core count) and puts the lists in table order.
    pub fn resolve(&mut self, allocators: &[String], default_threads: usize) -> Result<(), String> {
        match self {
            Command::BenchMatrix(o) => {
                if o.threads.is_empty() {
                    o.threads = vec![default_threads.clamp(1, 1024)];
                }
                o.threads.sort_unstable();
                o.threads.dedup();
                let asked = |n: &&&str| {
                    let hit = |w: &String| workload_set(w).map_or(w == **n, |s| s.contains(n));
                    o.workloads.iter().any(hit)
                };
                let names = WORKLOAD_NAMES.iter().filter(asked);
                o.workloads = names.map(|&w| w.into()).collect();
                o.allocators = pick(&o.allocators, allocators)?;
                if o.gate.is_some() && !o.allocators.iter().any(|a| a == "system") {
                    let msg = "--gate compares ratios to system: include system in --allocators";
                    return Err(msg.into());
                }
            }
            Command::CallgrindGate(o) => {
                let mut known = allocators.to_vec();
                known.retain(|a| !PEERS.contains(&a.as_str()) && !is_preload(a));
                o.allocators = pick(&o.allocators, &known)?;
            }
            Command::FaultGate(o) if o.allocators.is_empty() => {
                o.allocators = FAULT_GATE_ALLOCATORS.iter().map(|&s| s.into()).collect();
            }
            Command::FaultGate(o) => o.allocators = pick(&o.allocators, allocators)?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        [
            "system", "mimalloc", "jemalloc", "snmalloc", "hz3-a", "hz3-b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Parses `s` (after the program name) and resolves it, as main does.
    fn parse(s: &str) -> Result<Command, String> {
        let argv = std::iter::once("xtask").chain(s.split_whitespace());
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let mut c = cli.command.ok_or("no command")?;
        c.resolve(&known(), 2)?;
        Ok(c)
    }

    fn matrix(s: &str) -> MatrixOpts {
        match parse(s).unwrap() {
            Command::BenchMatrix(o) => o,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_quick_with_everything() {
        let o = matrix("bench-matrix");
        assert_eq!(o.mode(), "quick");
        assert_eq!(o.rounds, 3);
        assert_eq!(o.duration_ms, 400);
        assert_eq!(o.threads, vec![2]);
        assert_eq!(o.live_threads, 1000);
        assert!(!o.allow_other_cpu);
        assert_eq!(o.allocators, known());
        assert_eq!(o.workloads, workload_set("default").unwrap());
        assert!(
            o.workloads.iter().any(|w| w == "local-chain"),
            "the latency chain is in the quick matrix"
        );
        assert!(o.stats_pass && o.bins.build);
        assert_eq!(o.gate, None);
        assert_eq!((o.tolerance.floor, o.tolerance.noise_k), (0.10, 2.0));
        assert_eq!(
            o.align_loops, 64,
            "bench binaries are built with loops aligned"
        );
    }

    #[test]
    fn full_and_overrides() {
        let o = matrix("bench-matrix --full --threads 4 --rounds 5");
        assert_eq!(
            (o.mode(), o.rounds, o.duration_ms, o.threads.clone()),
            ("full", 5, 1000, vec![4])
        );
        let o = matrix("bench-matrix --full --quick");
        assert_eq!(
            (o.mode(), o.rounds, o.duration_ms),
            ("quick", 3, 400),
            "the last wins"
        );
        let o = matrix("bench-matrix --quick --full");
        assert_eq!((o.mode(), o.rounds, o.duration_ms), ("full", 10, 1000));
        let o = matrix("bench-matrix --duration-ms 50 --json r.json --chart c.svg --gate b.json --no-stats --no-build");
        assert_eq!(o.duration_ms, 50);
        assert_eq!(o.json, Some(PathBuf::from("r.json")));
        assert_eq!(o.chart, Some(PathBuf::from("c.svg")));
        assert_eq!(o.gate, Some(PathBuf::from("b.json")));
        assert!(!o.stats_pass && !o.bins.build);
        assert_eq!(matrix("bench-matrix --align-loops 0").align_loops, 0);
        assert_eq!(matrix("bench-matrix --align-loops 32").align_loops, 32);
        let o = matrix("bench-matrix --gate-floor 0.2 --gate-noise-k 3 --bin-dir d");
        assert_eq!((o.tolerance.floor, o.tolerance.noise_k), (0.2, 3.0));
        assert_eq!(o.bins.bin_dir, PathBuf::from("d"));
    }

    #[test]
    fn selections_keep_table_order_and_drop_duplicates() {
        let o =
            matrix("bench-matrix --allocators hz3-a,system,hz3-a --workloads local-fixed,xmalloc");
        assert_eq!(o.allocators, vec!["system", "hz3-a"]);
        assert_eq!(o.workloads, vec!["xmalloc", "local-fixed"]);
    }

    #[test]
    fn thread_sweeps_and_workload_sets() {
        let o = matrix("bench-matrix --threads 16,1,4,2,4 --live-threads 64 --allow-other-cpu");
        assert_eq!(o.threads, vec![1, 2, 4, 16], "sorted, each once");
        assert_eq!(o.live_threads, 64);
        assert_eq!(o.blocks_per_thread, None);
        let b = matrix("bench-matrix --workloads threads-many --blocks-per-thread 48");
        assert_eq!(b.blocks_per_thread, Some(48));
        assert!(o.allow_other_cpu);
        let o = matrix("bench-matrix --workloads real,local-chain,server");
        assert_eq!(
            o.workloads,
            vec![
                "xmalloc-classic",
                "local-chain",
                "batch-handoff",
                "lifo-fifo",
                "server",
                "pareto",
                "epoch"
            ]
        );
        assert_eq!(
            matrix("bench-matrix --workloads all").workloads.len(),
            WORKLOAD_NAMES.len()
        );
        let err = |s: &str| parse(s).unwrap_err();
        assert!(err("bench-matrix --threads 1,0").contains("1..=1024"));
        assert!(err("bench-matrix --threads 1,x").contains("invalid digit"));
        assert!(err("bench-matrix --live-threads 0").contains("--live-threads"));
        assert!(err("bench-matrix --blocks-per-thread 1025").contains("--blocks-per-thread"));
        assert!(err("bench-matrix --workloads reall").contains("default"));
    }

    #[test]
    fn bad_input_is_an_error() {
        let err = |s: &str| parse(s).unwrap_err();
        assert!(err("bench-matrix --allocators tcmalloc").contains("unknown name \"tcmalloc\""));
        assert!(err("bench-matrix --workloads xmalloc,nope").contains("'nope'"));
        assert!(err("bench-matrix --threads 0").contains("--threads"));
        assert!(err("bench-matrix --threads x").contains("invalid digit"));
        assert!(err("bench-matrix --rounds").contains("a value is required"));
        assert!(err("bench-matrix --rounds 0").contains("1..="));
        assert!(err("bench-matrix --frobnicate").contains("unexpected argument"));
        assert!(err("bench-matrix --allocators hz3-a --gate b.json").contains("include system"));
        assert!(err("bench-matrix --gate-floor 1.5").contains("[0, 1)"));
        assert!(err("gate only-one.json").contains("required"));
        assert!(err("bench-matrix --align-loops 48").contains("power of two"));
        assert!(err("callgrind-gate --allocators mimalloc").contains("unknown name"));
        assert!(err("callgrind-gate --iters 10").contains("1024"));
        assert!(err("fault-gate --reps 0").contains("--reps"));
        assert!(err("launch-rockets").contains("unrecognized subcommand"));
    }

    #[test]
    fn other_commands() {
        let cli = Cli::try_parse_from(["xtask", "-vv"]).unwrap();
        assert_eq!((cli.verbose, cli.command), (2, None));
        assert_eq!(
            parse("gate a.json b.json --gate-floor 0.2").unwrap(),
            Command::Gate(GateOpts {
                baseline: "a.json".into(),
                current: "b.json".into(),
                tolerance: Tolerance {
                    floor: 0.2,
                    noise_k: 2.0
                },
                allow_other_cpu: false,
            })
        );
        match parse("gate a.json b.json --allow-other-cpu").unwrap() {
            Command::Gate(o) => assert!(o.allow_other_cpu),
            c => panic!("{c:?}"),
        }
        match parse("callgrind-gate --update --allocators hz3-b").unwrap() {
            Command::CallgrindGate(o) => {
                assert!(o.update);
                assert_eq!(o.allocators, vec!["hz3-b"]);
                assert_eq!(o.budget, PathBuf::from("benches/callgrind-budget.json"));
                assert_eq!(o.iters, 100_000);
            }
            c => panic!("{c:?}"),
        }
        match parse("fault-gate").unwrap() {
            Command::FaultGate(o) => {
                assert_eq!(o.allocators, FAULT_GATE_ALLOCATORS);
                assert_eq!((o.reps, o.tolerance), (3, None));
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(
            parse("validate-json x.json").unwrap(),
            Command::ValidateJson {
                path: "x.json".into()
            }
        );
        let cli = Cli::try_parse_from(["xtask", "-v", "soak", "--scale", "2", "-v"]).unwrap();
        assert_eq!(cli.verbose, 1);
        assert_eq!(
            cli.command,
            Some(Command::Soak {
                args: vec!["--scale".into(), "2".into(), "-v".into()]
            }),
            "soak's arguments are its own"
        );
    }

    #[test]
    fn every_command_has_help() {
        for cmd in [
            "bench-matrix",
            "gate",
            "callgrind-gate",
            "fault-gate",
            "validate-json",
            "report",
            "sync-bins",
            "soak",
            "memcheck",
            "servers",
        ] {
            let e = Cli::try_parse_from(["xtask", cmd, "--help"]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{cmd}");
        }
        let help = Cli::try_parse_from(["xtask", "bench-matrix", "--help"])
            .unwrap_err()
            .to_string();
        for flag in [
            "--quick",
            "--full",
            "--rounds",
            "--duration-ms",
            "--threads",
            "--live-threads",
            "--allow-other-cpu",
            "--allocators",
            "--workloads",
            "--json",
            "--chart",
            "--gate",
            "--gate-floor",
            "--gate-noise-k",
            "--no-stats",
            "--no-build",
            "--bin-dir",
            "--align-loops",
            "local-chain",
            "threads-many",
        ] {
            assert!(help.contains(flag), "{flag} missing from\n{help}");
        }
    }
}
