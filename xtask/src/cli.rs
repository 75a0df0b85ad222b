//! Hand-parsed command lines (no clap: xtask should compile in seconds).

use std::path::PathBuf;

use crate::strategies::PEERS;

/// The benchmark workloads, in table order (the names hz3-bench accepts; a test checks this list
/// against what `bench-system list` prints). xmalloc-classic … realloc-grow are the OS-boundary
/// workloads of issue 11; local-chain is issue 16's latency chain; batch-handoff … pareto the
/// program shapes of issue 15; threads-many issue 14's per-thread footprint; epoch issue 12's
/// crossbeam-epoch deferred frees.
/// The first `DEFAULT_WORKLOADS` of [`WORKLOADS`] (xmalloc … local-chain) are the `default`
/// set; the rest run only when asked for.
pub const WORKLOADS: &[&str] = &[
    "xmalloc",
    "mt-remote-r0",
    "mt-remote-r50",
    "mt-remote-r90",
    "larson",
    "dist-app",
    "local-fixed",
    "local-mixed",
    "xmalloc-classic",
    "medium-churn",
    "thread-churn",
    "size-shift",
    "large-1m",
    "large-churn",
    "realloc-grow",
    "local-chain",
    "batch-handoff",
    "lifo-fifo",
    "server",
    "pareto",
    "threads-many",
    "epoch",
];

/// How many of [`WORKLOADS`], from the first, a plain `bench-matrix` runs.
const DEFAULT_WORKLOADS: usize = 16;

/// Named sets accepted by `--workloads` beside single names (and mixed with them). `default` is
/// what a plain `bench-matrix` runs: the quick matrix stays near 6–7 minutes on 2 cores, so the
/// program shapes of issues 15 and 12 (`real`) and threads-many run only when asked for.
pub const WORKLOAD_SETS: &[(&str, &[&str])] = &[
    ("default", WORKLOADS.split_at(DEFAULT_WORKLOADS).0),
    ("local", &["local-fixed", "local-mixed", "local-chain"]),
    (
        "os",
        &[
            "xmalloc-classic",
            "medium-churn",
            "thread-churn",
            "size-shift",
            "large-1m",
            "large-churn",
            "realloc-grow",
        ],
    ),
    (
        "real",
        &[
            "xmalloc-classic",
            "batch-handoff",
            "lifo-fifo",
            "server",
            "pareto",
            "epoch",
        ],
    ),
    ("all", WORKLOADS),
];

/// The workloads of a named set.
pub fn workload_set(name: &str) -> Option<&'static [&'static str]> {
    WORKLOAD_SETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, w)| *w)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Quick,
    Full,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
    pub fn default_rounds(self) -> usize {
        match self {
            Mode::Quick => 3,
            Mode::Full => 10,
        }
    }
    pub fn default_duration_ms(self) -> u64 {
        match self {
            Mode::Quick => 400,
            Mode::Full => 1000,
        }
    }
}

/// Gate tolerance: a ratio may drop by `max(floor, noise_k × CV)` before the gate fails, where CV
/// is the larger of the baseline's and the current run's coefficient of variation of the
/// per-round ratios (so the tolerance grows with the noise actually measured).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub floor: f64,
    pub noise_k: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            floor: 0.10,
            noise_k: 2.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatrixOpts {
    pub mode: Mode,
    pub rounds: usize,
    pub duration_ms: u64,
    /// The thread counts to run the matrix at (`--threads 1,2,4`: a sweep), ascending.
    pub threads: Vec<usize>,
    /// Live threads of `threads-many` (`--live-threads`).
    pub live_threads: usize,
    /// Blocks per live thread of `threads-many` (`--blocks-per-thread`, mixed sizes 8–608 B;
    /// `None`: its default shape).
    pub blocks_per_thread: Option<usize>,
    /// Compare with a baseline measured on another CPU model (`--allow-other-cpu`).
    pub allow_other_cpu: bool,
    pub allocators: Vec<String>,
    pub workloads: Vec<String>,
    pub json: Option<PathBuf>,
    pub chart: Option<PathBuf>,
    pub gate: Option<PathBuf>,
    pub tolerance: Tolerance,
    pub stats_pass: bool,
    pub build: bool,
    pub bin_dir: Option<PathBuf>,
    /// Loop alignment the bench binaries are built with, in bytes (`--align-loops`; 0: the
    /// compiler's own placement; default [`crate::runner::MATRIX_ALIGN_LOOPS`]).
    pub align_loops: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CallgrindOpts {
    pub update: bool,
    pub budget: PathBuf,
    pub tolerance: Option<f64>,
    pub allocators: Vec<String>,
    pub build: bool,
    pub bin_dir: Option<PathBuf>,
    /// Objects per measured run (the gate also runs 2×this and takes the difference).
    pub iters: u64,
}

/// `cargo xtask fault-gate` (issue 11): minor page faults of the OS-boundary workloads.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultOpts {
    pub update: bool,
    pub budget: PathBuf,
    pub tolerance: Option<f64>,
    /// Empty until [`Command::resolve`]: then the asked names, or the default pair.
    pub allocators: Vec<String>,
    pub build: bool,
    pub bin_dir: Option<PathBuf>,
    /// Fresh processes per workload (the figure is their minimum).
    pub reps: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    BenchMatrix(MatrixOpts),
    Gate {
        baseline: PathBuf,
        current: PathBuf,
        tolerance: Tolerance,
        allow_other_cpu: bool,
    },
    CallgrindGate(CallgrindOpts),
    FaultGate(FaultOpts),
    ValidateJson(PathBuf),
    /// Print the tables of a saved results file.
    Report(PathBuf),
    SyncBins,
    /// `cargo xtask soak [args]`: the soak run (arguments go to the soak program).
    Soak(Vec<String>),
    /// `cargo xtask memcheck`: the stress test under valgrind memcheck.
    Memcheck,
    Help,
}

pub const USAGE: &str = "\
usage: cargo xtask [-v|-vv] <command> [options]

commands:
  bench-matrix      run the S121 matrix (every hz3 strategy) against system/mimalloc/jemalloc/snmalloc
      --quick               3 rounds x 400 ms per data point (default)
      --full                10 rounds x 1000 ms per data point
      --rounds N            override the number of rounds
      --duration-ms M       override the length of each run
      --threads N|N,M,..    worker threads (default: the machine's core count); a list runs the
                            matrix at each count (a sweep: tables per count, throughput and
                            peak RSS against the thread count, chart of both)
      --live-threads N      threads alive at once in threads-many (default 1000)
      --blocks-per-thread N threads-many: N blocks of 8-608 B per thread (1..=1024) instead
                            of the default 20 of 16-2048 B
      --allocators a,b,..   subset of: system, mimalloc, jemalloc, snmalloc, hz3-*, hz3-preload,
                            mimalloc3-preload, snmalloc-preload, tcmalloc-preload,
                            mimalloc-preload, jemalloc-preload (default: all; the *-preload rows
                            are bench-system with hz3's or the peer's C library under LD_PRELOAD:
                            mimalloc 3 and snmalloc built from their crates' sources into
                            target/peers, the others Debian's, installed with apt-get when
                            missing; a peer library that cannot be had is skipped with a note)
      --workloads w,x,..    names or sets: xmalloc, mt-remote-r0, mt-remote-r50, mt-remote-r90,
                            larson, dist-app, local-fixed, local-mixed, xmalloc-classic,
                            medium-churn, thread-churn, size-shift, large-1m, large-churn,
                            realloc-grow, local-chain, batch-handoff, lifo-fifo, server, pareto,
                            threads-many, epoch; sets: default (all but batch-handoff, lifo-fifo,
                            server, pareto, threads-many, epoch), local, os, real
                            (xmalloc-classic, batch-handoff, lifo-fifo, server, pareto, epoch),
                            all (default: default)
      --json PATH           write the results (schema hz3-bench/1)
      --chart PATH.svg      draw ratio-to-mimalloc and peak-RSS bars (a sweep: lines against T)
      --gate BASELINE.json  fail if an hz3 strategy's ratio to system dropped beyond tolerance
      --allow-other-cpu     gate against a baseline measured on another CPU model (refused
                            otherwise)
      --gate-floor F        smallest tolerated drop, as a fraction (default 0.10)
      --gate-noise-k K      tolerance = max(floor, K x CV of per-round ratios) (default 2)
      --no-stats            skip the stats pass
      --no-build            do not run cargo build first
      --bin-dir DIR         where the bench-* binaries are (default: target/release)
      --align-loops N       build the bench binaries with every Rust loop aligned to N bytes
                            (default 64; 0: the compiler's own placement, as before 2026-11-30)
  gate BASELINE.json CURRENT.json [--gate-floor F] [--gate-noise-k K] [--allow-other-cpu]
                    compare two result files without running anything (refuses files from
                    different CPU models unless --allow-other-cpu)
  callgrind-gate    instructions per local alloc+free pair and per remote free (valgrind
                    --tool=callgrind) against the committed budget benches/callgrind-budget.json
      --update              rewrite the budget from this measurement
      --budget PATH         budget file (default benches/callgrind-budget.json)
      --tolerance F         allowed growth, as a fraction (default: the budget's, else 0.02)
      --allocators a,b,..   subset (default: system + every hz3 strategy)
      --iters N             objects per measured run (default 100000)
      --no-build, --bin-dir DIR
  fault-gate        minor page faults of the OS-boundary workloads (large-1m, large-churn,
                    realloc-grow, medium-churn, thread-churn, size-shift, xmalloc-classic; fixed
                    iterations, minimum of 3 processes) against benches/fault-budget.json
      --update              rewrite the budget from this measurement
      --budget PATH         budget file (default benches/fault-budget.json)
      --tolerance F         allowed growth, as a fraction (default: the budget's, else 0.15)
      --allocators a,b,..   default hz3-a-cache,hz3-preload; peers named here are shown as a
                            reference with hz3's faults over the median peer's
      --reps N              processes per workload (default 3)
      --no-build, --bin-dir DIR
  report PATH               print the tables of a saved results file (no runs)
  validate-json PATH        check a results file against schema hz3-bench/1
  sync-bins                 (re)write the one-line hz3 binaries and their [[bin]] block from the
                            strategy list (hz3-alloc's catalogue, as `bench-system --list` prints it)
  soak [--scale F] [--strategies a,c,..|all]
                            long stress / 100k-thread lifecycle / producer-consumer RSS / fork /
                            fuzz runs; prints a summary table, fails on any loss or bound violation
  memcheck                  the hz3-alloc stress test under valgrind memcheck (expects 0 errors)

progress and diagnostics go to stderr (the tables to stdout): -v adds each run's command line and
result, -vv more; RUST_LOG overrides both (e.g. RUST_LOG=warn, RUST_LOG=info,xtask::progress=off)
";

fn value<'a>(flag: &str, it: &mut impl Iterator<Item = &'a String>) -> Result<&'a String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{flag}: not a valid number: {v:?}"))
}

/// `--threads`: one count or a comma-separated list, each in 1..=1024; sorted, duplicates dropped.
pub fn thread_list(flag: &str, v: &str) -> Result<Vec<usize>, String> {
    let mut out: Vec<usize> = Vec::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let t: usize = number(flag, part)?;
        if t == 0 || t > 1024 {
            return Err(format!("{flag} must be in 1..=1024, got {t}"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    out.sort_unstable();
    Ok(out)
}

/// `--workloads`: names and named sets ([`WORKLOAD_SETS`]), expanded, each name once.
pub fn workload_list(flag: &str, v: &str) -> Result<Vec<String>, String> {
    let known: Vec<String> = WORKLOADS.iter().map(|s| s.to_string()).collect();
    let mut out: Vec<String> = Vec::new();
    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let names: Vec<String> = match workload_set(name) {
            Some(set) => set.iter().map(|s| s.to_string()).collect(),
            None if known.iter().any(|k| k == name) => vec![name.to_string()],
            None => {
                let sets: Vec<&str> = WORKLOAD_SETS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "{flag}: unknown name {name:?}; known: {}; sets: {}",
                    known.join(", "),
                    sets.join(", ")
                ));
            }
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    Ok(out)
}

/// Splits a comma-separated list and checks each name against `known`.
pub fn name_list(flag: &str, v: &str, known: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.iter().any(|k| k == name) {
            return Err(format!(
                "{flag}: unknown name {name:?}; known: {}",
                known.join(", ")
            ));
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    Ok(out)
}

fn fraction(flag: &str, v: &str) -> Result<f64, String> {
    let f: f64 = number(flag, v)?;
    if !(0.0..1.0).contains(&f) {
        return Err(format!("{flag}: must be in [0, 1), got {f}"));
    }
    Ok(f)
}

/// Parses `args` (after the program name) and checks the allocator names: [`parse_raw`], then
/// [`Command::resolve`]. `allocators` is every known allocator name, in table order;
/// `default_threads` the machine's core count.
#[cfg(test)]
pub fn parse(
    args: &[String],
    allocators: &[String],
    default_threads: usize,
) -> Result<Command, String> {
    let mut c = parse_raw(args, default_threads)?;
    c.resolve(allocators)?;
    Ok(c)
}

/// Parses `args` (after the program name), leaving `--allocators` as typed (empty: the default),
/// to be checked by [`Command::resolve`] once the allocator names are known (they come from the
/// bench binaries, which the command line says how to find).
pub fn parse_raw(args: &[String], default_threads: usize) -> Result<Command, String> {
    let mut it = args.iter();
    let Some(cmd) = it.next() else {
        return Ok(Command::Help);
    };
    let workloads: Vec<String> = WORKLOADS.iter().map(|s| s.to_string()).collect();
    match cmd.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "sync-bins" => Ok(Command::SyncBins),
        "soak" => Ok(Command::Soak(it.cloned().collect())),
        "memcheck" => Ok(Command::Memcheck),
        "report" => {
            let p = it.next().ok_or("report needs a file")?;
            Ok(Command::Report(PathBuf::from(p)))
        }
        "validate-json" => {
            let p = it.next().ok_or("validate-json needs a file")?;
            Ok(Command::ValidateJson(PathBuf::from(p)))
        }
        "gate" => {
            let mut files = Vec::new();
            let mut tolerance = Tolerance::default();
            let mut allow_other_cpu = false;
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--gate-floor" => tolerance.floor = fraction(a, value(a, &mut it)?)?,
                    "--gate-noise-k" => tolerance.noise_k = number(a, value(a, &mut it)?)?,
                    "--allow-other-cpu" => allow_other_cpu = true,
                    s if s.starts_with('-') => return Err(format!("gate: unknown option {s:?}")),
                    s => files.push(PathBuf::from(s)),
                }
            }
            match <[PathBuf; 2]>::try_from(files) {
                Ok([baseline, current]) => Ok(Command::Gate {
                    baseline,
                    current,
                    tolerance,
                    allow_other_cpu,
                }),
                Err(_) => Err("gate needs two files: BASELINE.json CURRENT.json".into()),
            }
        }
        "bench-matrix" => {
            let mut mode = Mode::Quick;
            let (mut rounds, mut duration_ms) = (None, None);
            let mut o = MatrixOpts {
                mode,
                rounds: 0,
                duration_ms: 0,
                threads: vec![default_threads.clamp(1, 1024)],
                live_threads: 1000,
                blocks_per_thread: None,
                allow_other_cpu: false,
                allocators: Vec::new(),
                workloads: workload_list("--workloads", "default")?,
                json: None,
                chart: None,
                gate: None,
                tolerance: Tolerance::default(),
                stats_pass: true,
                build: true,
                bin_dir: None,
                align_loops: crate::runner::MATRIX_ALIGN_LOOPS,
            };
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--quick" => mode = Mode::Quick,
                    "--full" => mode = Mode::Full,
                    "--rounds" => {
                        let r: usize = number(a, value(a, &mut it)?)?;
                        if r == 0 {
                            return Err("--rounds must be at least 1".into());
                        }
                        rounds = Some(r);
                    }
                    "--duration-ms" => {
                        let d: u64 = number(a, value(a, &mut it)?)?;
                        if d == 0 {
                            return Err("--duration-ms must be positive".into());
                        }
                        duration_ms = Some(d);
                    }
                    "--threads" => o.threads = thread_list(a, value(a, &mut it)?)?,
                    "--live-threads" => {
                        o.live_threads = number(a, value(a, &mut it)?)?;
                        if o.live_threads == 0 || o.live_threads > 100_000 {
                            return Err("--live-threads must be in 1..=100000".into());
                        }
                    }
                    "--blocks-per-thread" => {
                        let n = number(a, value(a, &mut it)?)?;
                        if n == 0 || n > 1024 {
                            return Err("--blocks-per-thread must be in 1..=1024".into());
                        }
                        o.blocks_per_thread = Some(n);
                    }
                    "--allow-other-cpu" => o.allow_other_cpu = true,
                    "--allocators" => o.allocators = raw_list(a, value(a, &mut it)?)?,
                    "--workloads" => o.workloads = workload_list(a, value(a, &mut it)?)?,
                    "--json" => o.json = Some(PathBuf::from(value(a, &mut it)?)),
                    "--chart" => o.chart = Some(PathBuf::from(value(a, &mut it)?)),
                    "--gate" => o.gate = Some(PathBuf::from(value(a, &mut it)?)),
                    "--gate-floor" => o.tolerance.floor = fraction(a, value(a, &mut it)?)?,
                    "--gate-noise-k" => o.tolerance.noise_k = number(a, value(a, &mut it)?)?,
                    "--no-stats" => o.stats_pass = false,
                    "--no-build" => o.build = false,
                    "--bin-dir" => o.bin_dir = Some(PathBuf::from(value(a, &mut it)?)),
                    "--align-loops" => {
                        let n: u32 = number(a, value(a, &mut it)?)?;
                        if n != 0 && (!n.is_power_of_two() || n > 4096) {
                            return Err(
                                "--align-loops must be 0 or a power of two up to 4096".into()
                            );
                        }
                        o.align_loops = n;
                    }
                    other => {
                        return Err(format!(
                            "bench-matrix: unknown option {other:?} (see `cargo xtask help`)"
                        ))
                    }
                }
            }
            // Keep table order whatever order the user typed.
            o.workloads = workloads
                .iter()
                .filter(|k| o.workloads.contains(k))
                .cloned()
                .collect();
            o.mode = mode;
            o.rounds = rounds.unwrap_or(mode.default_rounds());
            o.duration_ms = duration_ms.unwrap_or(mode.default_duration_ms());
            Ok(Command::BenchMatrix(o))
        }
        "callgrind-gate" => {
            let mut o = CallgrindOpts {
                update: false,
                budget: PathBuf::from("benches/callgrind-budget.json"),
                tolerance: None,
                allocators: Vec::new(),
                build: true,
                bin_dir: None,
                iters: 100_000,
            };
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--update" => o.update = true,
                    "--budget" => o.budget = PathBuf::from(value(a, &mut it)?),
                    "--tolerance" => o.tolerance = Some(fraction(a, value(a, &mut it)?)?),
                    "--allocators" => o.allocators = raw_list(a, value(a, &mut it)?)?,
                    "--iters" => {
                        o.iters = number(a, value(a, &mut it)?)?;
                        if o.iters < 1024 {
                            return Err("--iters must be at least 1024".into());
                        }
                    }
                    "--no-build" => o.build = false,
                    "--bin-dir" => o.bin_dir = Some(PathBuf::from(value(a, &mut it)?)),
                    other => return Err(format!("callgrind-gate: unknown option {other:?}")),
                }
            }
            Ok(Command::CallgrindGate(o))
        }
        "fault-gate" => {
            let mut o = FaultOpts {
                update: false,
                budget: PathBuf::from("benches/fault-budget.json"),
                tolerance: None,
                allocators: Vec::new(),
                build: true,
                bin_dir: None,
                reps: crate::faults::DEFAULT_REPS,
            };
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--update" => o.update = true,
                    "--budget" => o.budget = PathBuf::from(value(a, &mut it)?),
                    "--tolerance" => o.tolerance = Some(fraction(a, value(a, &mut it)?)?),
                    "--allocators" => o.allocators = raw_list(a, value(a, &mut it)?)?,
                    "--reps" => {
                        o.reps = number(a, value(a, &mut it)?)?;
                        if o.reps == 0 {
                            return Err("--reps must be at least 1".into());
                        }
                    }
                    "--no-build" => o.build = false,
                    "--bin-dir" => o.bin_dir = Some(PathBuf::from(value(a, &mut it)?)),
                    other => return Err(format!("fault-gate: unknown option {other:?}")),
                }
            }
            Ok(Command::FaultGate(o))
        }
        other => Err(format!(
            "unknown command {other:?} (see `cargo xtask help`)"
        )),
    }
}

impl Command {
    /// Checks the `--allocators` names of [`parse_raw`]'s command against `allocators` (every
    /// known name, in table order) and fills in the default; no-op for the other commands.
    pub fn resolve(&mut self, allocators: &[String]) -> Result<(), String> {
        match self {
            Command::BenchMatrix(o) => {
                if !o.allocators.is_empty() {
                    let asked = name_list("--allocators", &o.allocators.join(","), allocators)?;
                    // Keep table order whatever order the user typed.
                    o.allocators = allocators
                        .iter()
                        .filter(|k| asked.contains(k))
                        .cloned()
                        .collect();
                } else {
                    o.allocators = allocators.to_vec();
                }
                if o.gate.is_some() && !o.allocators.iter().any(|a| a == "system") {
                    return Err(
                        "--gate compares ratios to system: include system in --allocators".into(),
                    );
                }
            }
            Command::CallgrindGate(o) => {
                let known: Vec<String> = allocators
                    .iter()
                    .filter(|a| !PEERS.contains(&a.as_str()) && !crate::strategies::is_preload(a))
                    .cloned()
                    .collect();
                o.allocators = if o.allocators.is_empty() {
                    known
                } else {
                    name_list("--allocators", &o.allocators.join(","), &known)?
                };
            }
            Command::FaultGate(o) => {
                o.allocators = if o.allocators.is_empty() {
                    crate::faults::DEFAULT_ALLOCATORS
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    let asked = name_list("--allocators", &o.allocators.join(","), allocators)?;
                    allocators
                        .iter()
                        .filter(|k| asked.contains(k))
                        .cloned()
                        .collect()
                };
            }
            _ => {}
        }
        Ok(())
    }
}

/// A comma-separated list of names, unchecked (empty entries dropped).
fn raw_list(flag: &str, v: &str) -> Result<Vec<String>, String> {
    let out: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if out.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    Ok(out)
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

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn matrix(s: &str) -> MatrixOpts {
        match parse(&args(s), &known(), 2).unwrap() {
            Command::BenchMatrix(o) => o,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn defaults_are_quick_with_everything() {
        let o = matrix("bench-matrix");
        assert_eq!(o.mode, Mode::Quick);
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
        assert!(o.stats_pass && o.build);
        assert_eq!(o.gate, None);
        assert_eq!(
            o.align_loops, 64,
            "bench binaries are built with loops aligned"
        );
    }

    #[test]
    fn full_and_overrides() {
        let o = matrix("bench-matrix --full --threads 4 --rounds 5");
        assert_eq!(
            (o.mode, o.rounds, o.duration_ms, o.threads.clone()),
            (Mode::Full, 5, 1000, vec![4])
        );
        let o = matrix("bench-matrix --duration-ms 50 --json r.json --chart c.svg --gate b.json --no-stats --no-build");
        assert_eq!(o.duration_ms, 50);
        assert_eq!(o.json, Some(PathBuf::from("r.json")));
        assert_eq!(o.chart, Some(PathBuf::from("c.svg")));
        assert_eq!(o.gate, Some(PathBuf::from("b.json")));
        assert!(!o.stats_pass && !o.build);
        assert_eq!(matrix("bench-matrix --align-loops 0").align_loops, 0);
        assert_eq!(matrix("bench-matrix --align-loops 32").align_loops, 32);
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
            WORKLOADS.len()
        );
        for (name, set) in WORKLOAD_SETS {
            assert!(set.iter().all(|w| WORKLOADS.contains(w)), "set {name}");
            assert!(
                !WORKLOADS.contains(name),
                "a set may not shadow a workload: {name}"
            );
        }
        // Everything is in some set short of `all`, except threads-many (its own name).
        for w in WORKLOADS.iter().filter(|w| **w != "threads-many") {
            assert!(
                WORKLOAD_SETS
                    .iter()
                    .any(|(n, s)| *n != "all" && s.contains(w)),
                "{w} is in no set"
            );
        }
        let err = |s: &str| parse(&args(s), &known(), 2).unwrap_err();
        assert!(err("bench-matrix --threads 1,0").contains("1..=1024"));
        assert!(err("bench-matrix --threads 1,x").contains("not a valid number"));
        assert!(err("bench-matrix --threads ,").contains("empty list"));
        assert!(err("bench-matrix --live-threads 0").contains("--live-threads"));
        assert!(err("bench-matrix --blocks-per-thread 1025").contains("--blocks-per-thread"));
        assert!(err("bench-matrix --workloads reall").contains("sets: default"));
    }

    #[test]
    fn bad_input_is_an_error() {
        let err = |s: &str| parse(&args(s), &known(), 2).unwrap_err();
        assert!(err("bench-matrix --allocators tcmalloc").contains("unknown name \"tcmalloc\""));
        assert!(err("bench-matrix --workloads xmalloc,nope").contains("unknown name \"nope\""));
        assert!(err("bench-matrix --threads 0").contains("--threads"));
        assert!(err("bench-matrix --threads x").contains("not a valid number"));
        assert!(err("bench-matrix --rounds").contains("needs a value"));
        assert!(err("bench-matrix --frobnicate").contains("unknown option"));
        assert!(err("bench-matrix --allocators hz3-a --gate b.json").contains("include system"));
        assert!(err("bench-matrix --gate-floor 1.5").contains("[0, 1)"));
        assert!(err("gate only-one.json").contains("two files"));
        assert!(err("bench-matrix --align-loops 48").contains("power of two"));
        assert!(err("callgrind-gate --allocators mimalloc").contains("unknown name"));
        assert!(err("launch-rockets").contains("unknown command"));
    }

    #[test]
    fn the_workload_list_matches_hz3_bench() {
        // xtask does not depend on hz3-bench (it must build in seconds): it asks a bench binary.
        let root = crate::paths::workspace_root();
        let bench = crate::runner::build_bench_system(&root, false, 0).unwrap();
        let out = crate::runner::run_capture(
            &bench,
            &["list".to_string()],
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let names: Vec<&str> = v["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(
            names, WORKLOADS,
            "xtask/src/cli.rs WORKLOADS and `bench-system list` differ"
        );
        assert!(
            !workload_set("default").unwrap().contains(&"epoch"),
            "epoch stays out of the quick matrix"
        );
        assert_eq!(
            workload_set("default").unwrap().last(),
            Some(&"local-chain"),
            "the default set is WORKLOADS up to local-chain"
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse(&[], &known(), 2).unwrap(), Command::Help);
        assert_eq!(
            parse(&args("gate a.json b.json --gate-floor 0.2"), &known(), 2).unwrap(),
            Command::Gate {
                baseline: "a.json".into(),
                current: "b.json".into(),
                tolerance: Tolerance {
                    floor: 0.2,
                    noise_k: 2.0
                },
                allow_other_cpu: false,
            }
        );
        match parse(&args("gate a.json b.json --allow-other-cpu"), &known(), 2).unwrap() {
            Command::Gate {
                allow_other_cpu, ..
            } => assert!(allow_other_cpu),
            c => panic!("{c:?}"),
        }
        match parse(
            &args("callgrind-gate --update --allocators hz3-b"),
            &known(),
            2,
        )
        .unwrap()
        {
            Command::CallgrindGate(o) => {
                assert!(o.update);
                assert_eq!(o.allocators, vec!["hz3-b"]);
                assert_eq!(o.budget, PathBuf::from("benches/callgrind-budget.json"));
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(
            parse(&args("validate-json x.json"), &known(), 2).unwrap(),
            Command::ValidateJson("x.json".into())
        );
    }
}
