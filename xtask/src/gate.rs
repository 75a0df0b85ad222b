//! The wall-clock regression gate: each hz3 strategy's ratio to `system` (median of per-round
//! ratios) against the baseline's at the same `--threads`, within [`Tolerance`]; files from
//! different CPU models are refused unless allowed. docs/bench-matrix.md ("The wall-clock gate").

use crate::cli::Tolerance;
use crate::results::{Machine, Matrix};
use crate::table::or_dash;

/// `Err` (why, and how to override) for different CPU models unless `allow`; else the warnings.
pub fn check_machines(base: &Machine, now: &Machine, allow: bool) -> Result<Vec<String>, String> {
    match base.compare_cpu(now) {
        Ok(note) => Ok(note.into_iter().map(|n| format!("warning: {n}")).collect()),
        Err(n) if allow => {
            Ok(vec![format!("warning: {n}; compared because --allow-other-cpu was given")])
        }
        Err(n) => Err(format!(
            "gate refused: {n}. Ratios measured on different CPU models do not compare (the same code runs at \
             very different speeds on them); measure a baseline on this machine, or pass --allow-other-cpu to \
             compare anyway"
        )),
    }
}

pub const REFERENCE: &str = "system";

/// A row's verdict; the first three compare two ratios.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub enum Verdict {
    Ok,
    Improved,
    Regressed,
    /// In the baseline but not measured now (not a failure: `--allocators` may select a subset).
    Missing,
    /// Measured now, absent from the baseline.
    New,
}

/// What the table says for each [`Verdict`], in its order.
const LABELS: &str = "ok|improved|REGRESSED|not measured|new (no baseline)";

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub workload: String,
    pub allocator: String,
    /// The `--threads` value both ratios were measured at.
    pub threads: u64,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// current / baseline − 1.
    pub change: Option<f64>,
    pub tolerance: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    fn count(&self, f: impl Fn(Verdict) -> bool) -> usize {
        self.rows.iter().filter(|r| f(r.verdict)).count()
    }
    pub fn regressions(&self) -> usize {
        self.count(|v| v == Verdict::Regressed)
    }
    pub fn compared(&self) -> usize {
        self.count(|v| v < Verdict::Missing)
    }
    pub fn passed(&self) -> bool {
        self.regressions() == 0 && self.compared() > 0
    }

    pub fn render(&self) -> String {
        let mut t = crate::table::Table::cols("workload | allocator | T | baseline ×system | now ×system | change | allowed drop | verdict");
        let f = |x: Option<f64>| or_dash(x, |x| format!("{x:.3}"));
        for r in &self.rows {
            let (w, a) = (r.workload.clone(), r.allocator.clone());
            let head = [w, a, r.threads.to_string()];
            let change = or_dash(r.change, |c| format!("{:+.1}%", c * 100.0));
            let tolerance = format!("{:.1}%", r.tolerance * 100.0);
            let label = LABELS.split('|').nth(r.verdict as usize).unwrap().into();
            let tail = [f(r.baseline), f(r.current), change, tolerance, label];
            t.row(head.into_iter().chain(tail));
        }
        t.render()
    }
}

/// Compares every hz3 (workload, allocator, thread count) present in either file.
pub fn compare(baseline: &Matrix, current: &Matrix, tol: Tolerance) -> Report {
    let mut keys: Vec<(String, String, u64)> = Vec::new();
    for c in current.cells.iter().chain(&baseline.cells) {
        let k = (c.workload.clone(), c.allocator.clone(), c.sweep_threads);
        if crate::strategies::is_hz3(&c.allocator) && !keys.contains(&k) {
            keys.push(k);
        }
    }
    let rows = keys.into_iter().map(|(workload, allocator, threads)| {
        let b = baseline.ratio_at(&workload, &allocator, REFERENCE, threads);
        let c = current.ratio_at(&workload, &allocator, REFERENCE, threads);
        let noise = b.map_or(0.0, |s| s.cv).max(c.map_or(0.0, |s| s.cv));
        let tolerance = tol.floor.max(tol.noise_k * noise);
        let change = b.zip(c).map(|(b, c)| c.median / b.median - 1.0);
        let verdict = match (b, change) {
            (None, _) => Verdict::New,
            (_, None) => Verdict::Missing,
            (_, Some(x)) if x < -tolerance => Verdict::Regressed,
            (_, Some(x)) if x > tolerance => Verdict::Improved,
            _ => Verdict::Ok,
        };
        let (baseline, current) = (b.map(|s| s.median), c.map(|s| s.median));
        Row {
            workload,
            allocator,
            threads,
            baseline,
            current,
            change,
            tolerance,
            verdict,
        }
    });
    let rows = rows.collect();
    Report { rows }
}

/// Prints the gate's table and verdict; whether it passed.
pub fn print(baseline: &Matrix, current: &Matrix, tol: Tolerance) -> bool {
    let r = compare(baseline, current, tol);
    let (floor, k) = (tol.floor * 100.0, tol.noise_k);
    println!("== gate: hz3 ratio to {REFERENCE} vs baseline (allowed drop = max({floor:.0}%, {k} × CV of per-round ratios)) ==");
    print!("{}", r.render());
    let blunt = r.rows.iter().filter(|row| row.tolerance > 0.5).count();
    if blunt > 0 {
        println!("note: {blunt} cell(s) allow a drop above 50% because their per-round ratios vary that much; rerun with --full (more rounds) on a quieter machine for a sharper gate");
    }
    let (n, of) = (r.regressions(), r.compared());
    let verdict = if of == 0 {
        let (bt, ct) = (baseline.thread_counts(), current.thread_counts());
        let apart = !bt.iter().any(|t| ct.contains(t));
        let hint = apart.then(|| format!("; the baseline was measured at --threads {bt:?}, this run at {ct:?}, and ratios compare only at the same count"));
        let hint = hint.unwrap_or_default();
        format!("FAILED — nothing to compare (no hz3 result measured in both files, or no system runs{hint})")
    } else if n == 0 {
        format!("passed ({of} comparisons)")
    } else {
        format!("FAILED — {n} of {of} ratios regressed beyond tolerance")
    };
    println!("gate: {verdict}");
    r.passed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::synthetic;

    const TOL: Tolerance = Tolerance {
        floor: 0.10,
        noise_k: 2.0,
    };

    fn base() -> Matrix {
        synthetic(
            3,
            &[
                ("xmalloc", "system", &[100.0, 50.0, 100.0]),
                ("xmalloc", "hz3-a", &[200.0, 100.0, 200.0]),
                ("local-fixed", "system", &[10.0, 10.0, 10.0]),
                ("local-fixed", "hz3-a", &[15.0, 15.0, 15.0]),
            ],
        )
    }

    #[test]
    fn same_ratios_pass_even_when_the_machine_is_slower() {
        // Everything 3x slower: ratios are unchanged.
        let now = synthetic(
            3,
            &[
                ("xmalloc", "system", &[33.0, 33.0, 16.5]),
                ("xmalloc", "hz3-a", &[66.0, 66.0, 33.0]),
                ("local-fixed", "system", &[3.0, 3.0, 3.0]),
                ("local-fixed", "hz3-a", &[4.5, 4.5, 4.5]),
            ],
        );
        let r = compare(&base(), &now, TOL);
        assert!(r.passed(), "{}", r.render());
        assert_eq!(r.compared(), 2);
        assert!(r.rows.iter().all(|r| r.verdict == Verdict::Ok));
    }

    #[test]
    fn a_drop_beyond_tolerance_fails_and_is_named() {
        let now = synthetic(
            3,
            &[
                ("xmalloc", "system", &[100.0, 100.0, 100.0]),
                ("xmalloc", "hz3-a", &[200.0, 200.0, 200.0]),
                ("local-fixed", "system", &[10.0, 10.0, 10.0]),
                ("local-fixed", "hz3-a", &[12.0, 12.0, 12.0]), // 1.5 -> 1.2: -20%
            ],
        );
        let r = compare(&base(), &now, TOL);
        assert!(!r.passed());
        assert_eq!(r.regressions(), 1);
        let bad = r
            .rows
            .iter()
            .find(|r| r.verdict == Verdict::Regressed)
            .unwrap();
        assert_eq!(
            (bad.workload.as_str(), bad.allocator.as_str()),
            ("local-fixed", "hz3-a")
        );
        assert!((bad.change.unwrap() + 0.2).abs() < 1e-9);
        let table = r.render();
        assert!(
            table.contains("REGRESSED") && table.contains("-20.0%"),
            "{table}"
        );
    }

    #[test]
    fn a_drop_within_tolerance_passes_and_noise_widens_it() {
        // -8%: inside the 10% floor.
        let now = synthetic(
            3,
            &[
                ("local-fixed", "system", &[10.0, 10.0, 10.0]),
                ("local-fixed", "hz3-a", &[13.8, 13.8, 13.8]),
            ],
        );
        assert!(compare(&base(), &now, TOL).passed());
        // -20% median, but per-round ratios 1.2, 0.6, 1.8 → CV 0.5 → allowed drop 100%.
        let noisy = synthetic(
            3,
            &[
                ("local-fixed", "system", &[10.0, 10.0, 10.0]),
                ("local-fixed", "hz3-a", &[12.0, 6.0, 18.0]),
            ],
        );
        let r = compare(&base(), &noisy, TOL);
        assert!(r.passed(), "{}", r.render());
        assert!(r.rows.iter().any(|r| r.tolerance > 0.99));
        // Improvements pass.
        let better = synthetic(
            3,
            &[
                ("local-fixed", "system", &[10.0, 10.0, 10.0]),
                ("local-fixed", "hz3-a", &[30.0, 30.0, 30.0]),
            ],
        );
        let r = compare(&base(), &better, TOL);
        assert!(r.passed());
        assert!(r.rows.iter().any(|r| r.verdict == Verdict::Improved));
    }

    #[test]
    fn missing_new_and_nothing_compared() {
        let now = synthetic(
            3,
            &[
                ("xmalloc", "system", &[1.0, 1.0, 1.0]),
                ("xmalloc", "hz3-b", &[1.0, 1.0, 1.0]),
            ],
        );
        let r = compare(&base(), &now, TOL);
        assert!(r
            .rows
            .iter()
            .any(|r| r.allocator == "hz3-b" && r.verdict == Verdict::New));
        assert!(r
            .rows
            .iter()
            .any(|r| r.allocator == "hz3-a" && r.verdict == Verdict::Missing));
        assert_eq!(r.compared(), 0);
        assert!(!r.passed(), "a gate that compared nothing must not pass");
    }
}

#[cfg(test)]
mod machine_tests {
    use super::*;
    use crate::results::tests::{synthetic, synthetic_at};

    const TOL: Tolerance = Tolerance {
        floor: 0.10,
        noise_k: 2.0,
    };

    fn pair() -> (Matrix, Matrix) {
        let b = synthetic(
            3,
            &[
                ("xmalloc", "system", &[1.0, 1.0, 1.0]),
                ("xmalloc", "hz3-a", &[2.0, 2.0, 2.0]),
            ],
        );
        (b.clone(), b)
    }

    #[test]
    fn different_cpu_models_are_refused_unless_allowed() {
        let (b, mut c) = pair();
        assert_eq!(
            check_machines(&b.machine, &c.machine, false).unwrap(),
            Vec::<String>::new()
        );
        c.machine.cpu_model_number = Some(1);
        c.machine.cpu_model = "Another CPU".into();
        let e = check_machines(&b.machine, &c.machine, false).unwrap_err();
        assert!(
            e.contains("gate refused")
                && e.contains("Another CPU")
                && e.contains("--allow-other-cpu"),
            "{e}"
        );
        let w = check_machines(&b.machine, &c.machine, true).unwrap();
        assert!(
            w.len() == 1 && w[0].contains("--allow-other-cpu was given"),
            "{w:?}"
        );
    }

    #[test]
    fn files_without_identity_warn_instead() {
        let (mut b, c) = pair();
        b.machine = Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            kernel: "6.1.0".into(),
            ..Machine::default()
        };
        let w = check_machines(&b.machine, &c.machine, false).unwrap();
        assert!(
            w.len() == 1 && w[0].starts_with("warning:") && w[0].contains("does not record"),
            "{w:?}"
        );
        // And the comparison itself still runs.
        assert!(compare(&b, &c, TOL).passed());
    }

    #[test]
    fn a_sweep_compares_each_thread_count_with_the_same_count() {
        let base = synthetic(
            3,
            &[
                ("xmalloc", "system", &[1.0, 1.0, 1.0]),
                ("xmalloc", "hz3-a", &[2.0, 2.0, 2.0]),
            ],
        );
        let now = synthetic_at(
            3,
            &[
                ("xmalloc", "system", 2, &[1.0, 1.0, 1.0]),
                ("xmalloc", "hz3-a", 2, &[2.0, 2.0, 2.0]),
                ("xmalloc", "system", 8, &[1.0, 1.0, 1.0]),
                ("xmalloc", "hz3-a", 8, &[0.5, 0.5, 0.5]),
            ],
        );
        let r = compare(&base, &now, TOL);
        assert!(
            r.passed(),
            "T=8 has no baseline: new, not a regression\n{}",
            r.render()
        );
        assert_eq!(r.compared(), 1);
        assert!(r
            .rows
            .iter()
            .any(|row| row.threads == 8 && row.verdict == Verdict::New));
        assert!(r.render().contains(" T "), "{}", r.render());
    }
}
