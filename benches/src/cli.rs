//! The command line of every `bench-<allocator>` binary.
//!
//! ```text
//! bench-<allocator> <workload> [--threads N] [--duration-ms M | --iters N] [--seed S] [--live-threads N] [--blocks-per-thread N]
//! bench-<allocator> list
//! bench-<allocator> --list
//! ```
//! prints one JSON line (see [`crate::report`]) on stdout; errors go to stderr with exit code 2.
//! `list` prints the workload and allocator names as one JSON line; `--list` the hz3 strategies,
//! one per line (`<allocator name> <module>`, see [`crate::allocators::strategy_lines`]): that is
//! how xtask learns the strategy list (from `bench-system --list`).

use std::time::Duration;

use crate::report::{stats_json_from_debug, RunReport};
use crate::rss::peak_rss_kib;
use crate::rusage::self_usage;
use crate::workloads::{Budget, Params, Workload, CALLGRIND_WORKLOAD_NAMES, WORKLOAD_NAMES};

/// Default run length when neither `--duration-ms` nor `--iters` is given.
pub const DEFAULT_DURATION_MS: u64 = 1000;

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Run {
        workload: Workload,
        params: ParamsSpec,
    },
    List,
    /// `--list`: the hz3 strategies, one per line.
    ListStrategies,
    Help,
}

/// What the command line asked for (threads resolved to a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamsSpec {
    pub threads: usize,
    pub budget: Budget,
    pub seed: u64,
    /// Live threads of `threads-many` (ignored by the other workloads).
    pub live_threads: usize,
    /// Blocks per live thread of `threads-many` (`--blocks-per-thread`; `None`: its default
    /// shape).
    pub blocks_per_thread: Option<usize>,
}

/// Largest `--live-threads`.
pub const MAX_LIVE_THREADS: usize = 100_000;

pub fn usage(bin: &str) -> String {
    format!(
        "usage: {bin} <workload> [--threads N] [--duration-ms M | --iters N] [--seed S] [--live-threads N] [--blocks-per-thread N]\n       {bin} list | --list\n\
         workloads: {}\n(callgrind gate: {})",
        WORKLOAD_NAMES.join(", "),
        CALLGRIND_WORKLOAD_NAMES.join(", ")
    )
}

/// The machine's core count (the default thread count).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn parse_num(flag: &str, v: Option<&String>) -> Result<u64, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse::<u64>()
        .map_err(|_| format!("{flag}: not a non-negative integer: {v:?}"))
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let first = it.next().ok_or("missing workload")?;
    match first.as_str() {
        "list" => return Ok(Command::List),
        "--list" => return Ok(Command::ListStrategies),
        "-h" | "--help" | "help" => return Ok(Command::Help),
        _ => {}
    }
    let workload = Workload::from_name(first).ok_or_else(|| {
        format!(
            "unknown workload {first:?}; known: {}",
            WORKLOAD_NAMES.join(", ")
        )
    })?;
    let mut threads = default_threads();
    let mut budget = Budget::Time(Duration::from_millis(DEFAULT_DURATION_MS));
    let (mut saw_duration, mut saw_iters) = (false, false);
    let mut seed = 0x5121;
    let mut live_threads = crate::workloads::threads::THREADS_MANY_DEFAULT;
    let mut blocks_per_thread = None;
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--threads" | "-t" => {
                threads = parse_num(flag, it.next())? as usize;
                if threads == 0 || threads > 1024 {
                    return Err(format!("--threads must be in 1..=1024, got {threads}"));
                }
            }
            "--duration-ms" => {
                let ms = parse_num(flag, it.next())?;
                if ms == 0 {
                    return Err("--duration-ms must be positive".into());
                }
                budget = Budget::Time(Duration::from_millis(ms));
                saw_duration = true;
            }
            "--iters" => {
                let n = parse_num(flag, it.next())?;
                if n == 0 {
                    return Err("--iters must be positive".into());
                }
                budget = Budget::Iters(n);
                saw_iters = true;
            }
            "--seed" => seed = parse_num(flag, it.next())?,
            "--live-threads" => {
                live_threads = parse_num(flag, it.next())? as usize;
                if live_threads == 0 || live_threads > MAX_LIVE_THREADS {
                    return Err(format!(
                        "--live-threads must be in 1..={MAX_LIVE_THREADS}, got {live_threads}"
                    ));
                }
            }
            "--blocks-per-thread" => {
                let n = parse_num(flag, it.next())? as usize;
                let max = crate::workloads::threads::THREADS_MANY_MAX_BLOCKS;
                if n == 0 || n > max {
                    return Err(format!("--blocks-per-thread must be in 1..={max}, got {n}"));
                }
                blocks_per_thread = Some(n);
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if saw_duration && saw_iters {
        return Err("give either --duration-ms or --iters, not both".into());
    }
    Ok(Command::Run {
        workload,
        params: ParamsSpec {
            threads,
            budget,
            seed,
            live_threads,
            blocks_per_thread,
        },
    })
}

/// Runs one workload in this process and returns the JSON line.
pub fn run_to_json(
    allocator: &str,
    workload: Workload,
    spec: ParamsSpec,
    stats: Option<fn() -> String>,
) -> String {
    let mut params = Params::new(spec.threads, spec.budget).with_live_threads(spec.live_threads);
    params.blocks_per_thread = spec.blocks_per_thread;
    params.seed = spec.seed;
    let outcome = workload.run(&params);
    let threads = workload.reported_threads(&params);
    let peak_rss_kib = peak_rss_kib();
    let usage = self_usage();
    let stats_json = stats.map(|f| stats_json_from_debug(&f()));
    RunReport {
        allocator,
        workload,
        threads,
        outcome: &outcome,
        peak_rss_kib,
        usage,
        stats_json,
    }
    .to_json()
}

/// The JSON answer of `list`.
pub fn list_json() -> String {
    let names = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"workloads\":[{}],\"callgrind_workloads\":[{}],\"allocators\":[{}]}}",
        names(WORKLOAD_NAMES),
        names(CALLGRIND_WORKLOAD_NAMES),
        names(&crate::allocators::all_names())
    )
}

/// `main` of a bench binary; returns the exit code.
pub fn main(allocator: &str, stats: Option<fn() -> String>) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = format!("bench-{allocator}");
    match parse_args(&args) {
        Ok(Command::Run { workload, params }) => {
            println!("{}", run_to_json(allocator, workload, params, stats));
            0
        }
        Ok(Command::List) => {
            println!("{}", list_json());
            0
        }
        Ok(Command::ListStrategies) => {
            print!("{}", crate::allocators::strategy_lines());
            0
        }
        Ok(Command::Help) => {
            println!("{}", usage(&bin));
            0
        }
        Err(e) => {
            eprintln!("{bin}: {e}\n{}", usage(&bin));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_runs() {
        match parse_args(&args(
            "mt-remote-r90 --threads 4 --duration-ms 250 --seed 9",
        ))
        .unwrap()
        {
            Command::Run { workload, params } => {
                assert_eq!(workload, Workload::MtRemote { remote_pct: 90 });
                assert_eq!(
                    params,
                    ParamsSpec {
                        threads: 4,
                        budget: Budget::Time(Duration::from_millis(250)),
                        seed: 9,
                        live_threads: 1000,
                        blocks_per_thread: None,
                    }
                );
            }
            c => panic!("{c:?}"),
        }
        match parse_args(&args("threads-many --live-threads 64 --iters 1")).unwrap() {
            Command::Run { workload, params } => {
                assert_eq!(workload, Workload::ThreadsMany);
                assert_eq!((params.live_threads, params.budget), (64, Budget::Iters(1)));
            }
            c => panic!("{c:?}"),
        }
        match parse_args(&args("threads-many --blocks-per-thread 48")).unwrap() {
            Command::Run { params, .. } => assert_eq!(params.blocks_per_thread, Some(48)),
            c => panic!("{c:?}"),
        }
        match parse_args(&args("local-fixed --iters 7")).unwrap() {
            Command::Run { params, .. } => assert_eq!(params.budget, Budget::Iters(7)),
            c => panic!("{c:?}"),
        }
        match parse_args(&args("dist-app")).unwrap() {
            Command::Run { params, .. } => {
                assert_eq!(
                    params.budget,
                    Budget::Time(Duration::from_millis(DEFAULT_DURATION_MS))
                );
                assert_eq!(params.threads, default_threads());
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(parse_args(&args("list")).unwrap(), Command::List);
        assert_eq!(
            parse_args(&args("--list")).unwrap(),
            Command::ListStrategies
        );
        assert_eq!(parse_args(&args("--help")).unwrap(), Command::Help);
    }

    #[test]
    fn rejects_bad_input() {
        for (a, msg) in [
            ("", "missing workload"),
            ("tcmalloc-bench", "unknown workload"),
            ("xmalloc --threads 0", "--threads"),
            ("xmalloc --threads two", "not a non-negative integer"),
            ("xmalloc --duration-ms", "needs a value"),
            ("xmalloc --duration-ms 0", "positive"),
            ("xmalloc --iters 3 --duration-ms 3", "not both"),
            ("xmalloc --fast", "unknown option"),
            ("threads-many --live-threads 0", "--live-threads"),
            ("threads-many --live-threads 100001", "--live-threads"),
            ("threads-many --blocks-per-thread 0", "--blocks-per-thread"),
            (
                "threads-many --blocks-per-thread 1025",
                "--blocks-per-thread",
            ),
        ] {
            let e = parse_args(&args(a)).unwrap_err();
            assert!(e.contains(msg), "{a:?}: {e}");
        }
    }

    #[test]
    fn list_names_everything() {
        let l = list_json();
        for w in WORKLOAD_NAMES.iter().chain(CALLGRIND_WORKLOAD_NAMES) {
            assert!(l.contains(&format!("\"{w}\"")));
        }
        assert!(l.contains("\"system\"") && l.contains("\"hz3-a\""));
    }

    #[test]
    fn the_strategy_lines_follow_the_catalogue() {
        let lines = crate::allocators::strategy_lines();
        let names: Vec<&str> = lines
            .lines()
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let catalogue: Vec<&str> = hz3_alloc::STRATEGIES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, catalogue);
        assert!(lines.starts_with("hz3-a hz3_a\n"));
        assert!(lines.contains("hz3-c-packed hz3_c_packed\n"));
    }
}
