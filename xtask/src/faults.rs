//! The page-fault gate: the minimum over `reps` fresh processes of the minor page faults of the
//! OS-boundary [`WORKLOADS`] against `budget × (1 + tolerance) + slack`; hz3 is gated, peers are
//! a reference. Why the minimum and margins: docs/bench-matrix.md ("The page-fault gate").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::budget::{Check, Figures, Limits};
use crate::strategies::{is_preload, PRELOAD};
use crate::table::or_dash;

pub const BUDGET_SCHEMA: &str = "hz3-fault-budget/1";
pub const DEFAULT_TOLERANCE: f64 = 0.15;
pub const DEFAULT_SLACK: f64 = 256.0;

/// Tolerance of the workloads whose live memory depends on how far each thread got
/// (producer/consumer hand-offs): at least this, whatever the budget file says.
pub const THREADED_TOLERANCE: f64 = 0.6;

/// (workload, iterations): the OS-boundary shapes and the faithful xmalloc.
pub const WORKLOADS: &[(&str, u64)] = &[
    ("large-1m", 2000),
    ("large-churn", 300),
    ("realloc-grow", 1000),
    ("medium-churn", 2000),
    ("thread-churn", 200),
    ("size-shift", 50),
    ("xmalloc-classic", 100),
];

/// The workloads of [`WORKLOADS`] whose figure depends on the threads' timing.
pub const THREADED: &[&str] = &["thread-churn", "size-shift", "xmalloc-classic"];

/// The tolerance that applies to workload `w`.
pub fn tolerance_for(w: &str, base: f64) -> f64 {
    let floor = THREADED.contains(&w).then_some(THREADED_TOLERANCE);
    floor.map_or(base, |f| base.max(f))
}

/// A workload's minor faults and operations.
pub type Figure = (u64, u64);
/// An allocator's (workload, figure).
pub type Faults = Figures<Figure>;

/// Each workload's minimum minor faults over `reps` runs of `allocator`, and that run's ops.
pub fn measure(
    bin_dir: &Path,
    allocator: &str,
    preloads: &[(String, PathBuf)],
    reps: usize,
) -> Result<Vec<(String, Figure)>, String> {
    let bin = bin_dir.join(crate::runner::bin_name(allocator, false));
    let lib = preloads.iter().find(|(a, _)| a == allocator);
    let (mut out, b) = (Vec::new(), bin.display());
    for (w, n) in WORKLOADS {
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(format!("{w} --iters {n} --threads 2").split(' '));
        cmd.envs(lib.map(|(_, l)| ("LD_PRELOAD", l)));
        let mut best = (u64::MAX, 0);
        for _ in 0..reps.max(1) {
            let out = crate::runner::capture(&mut cmd, Duration::from_secs(300))?;
            let line = crate::results::parse_run_line(&out).map_err(|e| format!("{b}: {e}"))?;
            let faults = line.usage.minor_faults;
            let faults =
                faults.ok_or_else(|| format!("{b} {w}: the run line has no minor_faults"))?;
            if faults < best.0 {
                best = (faults, line.ops.unwrap_or(0));
            }
        }
        out.push((w.to_string(), best));
    }
    Ok(out)
}

/// Whether an allocator is gated (hz3's flavours, the Rust ones and the C library).
pub fn gated(allocator: &str) -> bool {
    crate::strategies::is_hz3(allocator) || allocator == PRELOAD
}

pub fn budget_json(measured: &[Faults], tolerance: f64, slack: f64, machine: &str) -> Value {
    let [budgets, reference] = crate::budget::split(measured, gated, |(f, _)| json!(f));
    json!({
        "schema": BUDGET_SCHEMA,
        "note": "Minor page faults (getrusage ru_minflt, whole process, setup included) of each workload run for a fixed number of iterations at 2 threads, the minimum of 3 fresh processes. A run fails above budget x (1 + tolerance) + slack. Rewrite with `cargo xtask fault-gate --update` and justify the change in the commit message.",
        "machine": machine,
        "tolerance": tolerance,
        "slack": slack,
        "iters": WORKLOADS.iter().copied().collect::<BTreeMap<_, _>>(),
        "budgets": budgets,
        "reference_not_gated": reference,
    })
}

/// Above `budget × (1 + tolerance) + slack` fails, as does a gated allocator without a budget.
pub fn check(measured: &[Faults], b: &Limits, tolerance: f64, slack: f64) -> Vec<Check<Figure>> {
    let limit = |w: &str, x: f64| x * (1.0 + tolerance_for(w, tolerance)) + slack;
    let band = |w: &str, x: f64| (limit(w, x), f64::NEG_INFINITY);
    crate::budget::check(measured, b, gated, |(f, _)| *f as f64, band)
}

/// `faults` of `allocator` in workload `w` over the median peer: C with C when the peers' C
/// libraries were measured (the global allocators against the Rust-linked peers); else every peer.
pub fn vs_median_peer(measured: &[Faults], allocator: &str, w: &str, faults: u64) -> Option<f64> {
    let of = |same_kind: bool| -> Vec<f64> {
        measured
            .iter()
            .filter(|(p, _)| !gated(p) && (!same_kind || is_preload(p) == is_preload(allocator)))
            .filter_map(|(_, pw)| pw.iter().find(|(x, _)| x == w))
            .map(|(_, (pf, _))| *pf as f64)
            .collect()
    };
    let peers = Some(of(true)).filter(|v| !v.is_empty());
    let median = crate::stats::median(&peers.unwrap_or_else(|| of(false)));
    median.filter(|m| *m > 0.0).map(|m| faults as f64 / m)
}

pub fn render(checks: &[Check<Figure>], measured: &[Faults], tolerance: f64, slack: f64) -> String {
    let (all, threaded) = (1.0 + tolerance, 1.0 + tolerance_for(THREADED[0], tolerance));
    let title = format!("== page faults: minor faults per run, minimum of the repetitions (limit budget × {all:.2} + {slack:.0}; {}: × {threaded:.2}) ==", THREADED.join(", "));
    let header = "workload | allocator | budget | faults | faults/1k ops | ÷median peer | verdict";
    crate::budget::render(&title, header, checks, |c| {
        let (faults, ops) = c.figure;
        let peer = vs_median_peer(measured, &c.allocator, &c.name, faults);
        let per_op = (ops > 0).then(|| faults as f64 * 1000.0 / ops as f64);
        let two = |v: f64| format!("{v:.2}");
        let budget = or_dash(c.budget, |b| format!("{b:.0}"));
        let head = [c.name.clone(), c.allocator.clone(), budget];
        let (per_op, peer) = (or_dash(per_op, two), or_dash(peer, two));
        let tail = [faults.to_string(), per_op, peer];
        head.into_iter().chain(tail).collect()
    })
}

/// The whole command.
pub fn run(opts: &crate::cli::FaultOpts) -> Result<bool, String> {
    let (path, existing) = crate::budget::read(&opts.budget, opts.update, BUDGET_SCHEMA)?;
    let bin_dir = crate::runner::build(&opts.bins, &opts.allocators, false, 0)?;
    // The peers' libraries as the matrix gets them; a peer that cannot run is left out.
    let mut allocators = opts.allocators.clone();
    let mut preloads = crate::peers::prepare(&mut allocators, &mut Vec::new()).libs;
    if allocators.iter().any(|a| a == PRELOAD) {
        preloads.push((PRELOAD.to_string(), crate::runner::preload_lib(&bin_dir)));
    }
    let each = |a: &str| measure(&bin_dir, a, &preloads, opts.reps);
    let measured = crate::budget::measure_all("fault-gate", "", &allocators, each)?;
    let machine = crate::machine::Machine::detect().describe();
    let tolerance = opts.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    let json = || budget_json(&measured, tolerance, DEFAULT_SLACK, &machine);
    let b = crate::budget::or_write(existing, &path, BUDGET_SCHEMA, json)?;
    if opts.update {
        println!("wrote {}", path.display());
    }
    println!("machine: {machine}");
    let tolerance = opts.tolerance.or(b.tolerance).unwrap_or(DEFAULT_TOLERANCE);
    let slack = b.slack.unwrap_or(DEFAULT_SLACK);
    let checks = check(&measured, &b.budgets, tolerance, slack);
    println!("{}", render(&checks, &measured, tolerance, slack));
    Ok(!crate::budget::failed(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::budget::failed;

    fn m(a: &str, faults: &[(&str, u64)]) -> Faults {
        (
            a.to_string(),
            faults
                .iter()
                .map(|(w, f)| (w.to_string(), (*f, 1000)))
                .collect(),
        )
    }

    fn budget(entries: &[(&str, &[(&str, f64)])]) -> Limits {
        entries
            .iter()
            .map(|(a, ws)| {
                (
                    a.to_string(),
                    ws.iter().map(|(w, f)| (w.to_string(), *f)).collect(),
                )
            })
            .collect()
    }

    fn check(measured: &[Faults], budgets: &Limits) -> Vec<Check<Figure>> {
        super::check(measured, budgets, 0.15, 256.0)
    }

    fn parse_budget(text: &str) -> Result<crate::budget::File, String> {
        crate::budget::parse(text, BUDGET_SCHEMA)
    }

    #[test]
    fn limit_is_budget_times_tolerance_plus_slack() {
        let b = budget(&[("hz3-a-cache", &[("large-1m", 1000.0)])]);
        // limit = 1000 × 1.15 + 256 = 1406
        let ok = check(&[m("hz3-a-cache", &[("large-1m", 1406)])], &b);
        assert_eq!(ok[0].verdict, "ok");
        let over = check(&[m("hz3-a-cache", &[("large-1m", 1407)])], &b);
        assert_eq!(over[0].verdict, "OVER BUDGET");
        assert!(failed(&over) && !failed(&ok));
        // A threaded shape: limit = 1000 × 1.6 + 256 = 1856.
        let b = budget(&[("hz3-a-cache", &[("size-shift", 1000.0)])]);
        let ok = check(&[m("hz3-a-cache", &[("size-shift", 1856)])], &b);
        assert_eq!(ok[0].verdict, "ok");
        let over = check(&[m("hz3-a-cache", &[("size-shift", 1857)])], &b);
        assert_eq!(over[0].verdict, "OVER BUDGET");
    }

    #[test]
    fn gated_without_budget_fails_and_peers_are_references() {
        let b = budget(&[]);
        let measured = vec![
            m("hz3-preload", &[("size-shift", 10)]),
            m("mimalloc", &[("size-shift", 20)]),
            m("jemalloc", &[("size-shift", 40)]),
            m("system", &[("size-shift", 30)]),
        ];
        let c = check(&measured, &b);
        assert_eq!(c[0].verdict, "NO BUDGET");
        assert_eq!(c[1].verdict, "reference");
        // hz3 over the median peer (30): no C library of a peer was measured.
        let vs = |m: &[_]| vs_median_peer(m, "hz3-preload", "size-shift", 10).unwrap();
        assert!((vs(&measured) - 10.0 / 30.0).abs() < 1e-9);
        assert!(failed(&c));
        // With the peers' C libraries, hz3's C library is compared with them only.
        let measured = vec![
            m("hz3-preload", &[("size-shift", 10)]),
            m("mimalloc", &[("size-shift", 20)]),
            m("tcmalloc-preload", &[("size-shift", 100)]),
        ];
        assert!((vs(&measured) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn budget_round_trips_and_rejects_other_schemas() {
        let measured = vec![
            m("hz3-a-cache", &[("large-1m", 400), ("size-shift", 10000)]),
            m("jemalloc", &[("large-1m", 900)]),
        ];
        let v = budget_json(&measured, 0.2, 100.0, "test machine");
        let b = parse_budget(&v.to_string()).unwrap();
        assert_eq!(b.tolerance, Some(0.2));
        assert_eq!(b.slack, Some(100.0));
        assert_eq!(b.budgets.len(), 1, "peers are not budgets");
        assert_eq!(b.budgets.values().next().unwrap().len(), 2);
        assert!(parse_budget(r#"{"schema":"x","budgets":{}}"#).is_err());
    }

    #[test]
    fn committed_budget_parses_and_covers_the_default_allocators() {
        let p = crate::paths::workspace_root().join("benches/fault-budget.json");
        let b = parse_budget(&std::fs::read_to_string(p).unwrap()).unwrap();
        for a in crate::cli::FAULT_GATE_ALLOCATORS {
            let (_, ws) = b
                .budgets
                .iter()
                .find(|(x, _)| x == a)
                .unwrap_or_else(|| panic!("no budget for {a}"));
            for (w, _) in WORKLOADS {
                assert!(ws.iter().any(|(x, _)| x == w), "{a}: no budget for {w}");
            }
        }
    }
}
