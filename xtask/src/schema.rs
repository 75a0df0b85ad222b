//! The schema check of a results file (`hz3-bench/1`, see [`crate::results`]): every problem
//! found, each named by its path, before the file is read.

use serde_json::{Map, Value};

use crate::stats::median;

pub const SCHEMA: &str = "hz3-bench/1";

/// What a key must hold.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    NonEmpty,
    Uint,
    Positive,
    Bool,
    NonNeg,
    Number,
    NumberOrNull,
}
use Kind::*;

impl Kind {
    fn holds(self, v: &Value) -> bool {
        match self {
            Str => v.is_string(),
            NonEmpty => v.as_str().is_some_and(|s| !s.is_empty()),
            Uint => v.as_u64().is_some(),
            Positive => v.as_u64().is_some_and(|n| n > 0),
            Bool => v.is_boolean(),
            NonNeg => v.as_f64().is_some_and(|f| f >= 0.0),
            Number => v.is_number(),
            NumberOrNull => v.is_number() || v.is_null(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Str => "a string",
            NonEmpty => "a non-empty string",
            Uint => "a non-negative integer",
            Positive => "a positive integer",
            Bool => "a boolean",
            NonNeg => "a non-negative number",
            Number => "a number",
            NumberOrNull => "a number or null",
        }
    }
}

/// Checks `o[key]` (`at` prefixes the message): required when `need`, else absent or null.
fn check(
    errs: &mut Vec<String>,
    at: &str,
    o: &Map<String, Value>,
    key: &str,
    kind: Kind,
    need: bool,
) {
    match o.get(key) {
        None if need => errs.push(format!("{at}missing key {key:?}")),
        None | Some(Value::Null) if !need => {}
        Some(v) if kind.holds(v) => {}
        _ => errs.push(format!(
            "{at}{key} must be {}{}",
            if need { "" } else { "null or " },
            kind.name()
        )),
    }
}

/// Checks a per-round array `o[key]`: `rounds` entries, each null or of `entry`'s kind.
fn check_rounds(
    errs: &mut Vec<String>,
    at: &str,
    o: &Map<String, Value>,
    key: &str,
    entry: Kind,
    rounds: Option<usize>,
) -> Option<Vec<Option<f64>>> {
    let Some(a) = o.get(key)?.as_array() else {
        errs.push(format!("{at}{key} is not an array"));
        return None;
    };
    if let Some(n) = rounds.filter(|n| *n != a.len()) {
        errs.push(format!(
            "{at}{key} has {} entries, config.runs is {n}",
            a.len()
        ));
    }
    if !a.iter().all(|x| x.is_null() || entry.holds(x)) {
        errs.push(format!(
            "{at}{key}: every entry must be null or {}",
            entry.name()
        ));
        return None;
    }
    Some(a.iter().map(Value::as_f64).collect())
}

/// Checks a results document against schema hz3-bench/1; returns every problem found.
pub fn validate(v: &Value) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let Some(o) = v.as_object() else {
        return Err(vec!["top level is not an object".into()]);
    };
    match o.get("schema").and_then(Value::as_str) {
        Some(SCHEMA) => {}
        Some(s) => errs.push(format!("schema is {s:?}, expected {SCHEMA:?}")),
        None => errs.push("missing \"schema\"".into()),
    }
    match o.get("machine").and_then(Value::as_object) {
        Some(m) => {
            let e = &mut errs;
            check(e, "machine.", m, "cpus", Positive, true);
            check(e, "machine.", m, "cpu_model", Str, true);
            check(e, "machine.", m, "kernel", Str, true);
            // The machine's identity, added later.
            for k in ["cpu_vendor", "thp", "rustc"] {
                check(e, "machine.", m, k, Str, false);
            }
            for k in [
                "cpu_family",
                "cpu_model_number",
                "cpu_stepping",
                "cpu_mhz",
                "cpu_cores",
            ] {
                check(e, "machine.", m, k, NonNeg, false);
            }
            check(e, "machine.", m, "logical_cpus", NonNeg, false);
        }
        None => errs.push("missing object \"machine\"".into()),
    }
    let mut rounds = None;
    match o.get("config").and_then(Value::as_object) {
        Some(c) => {
            let e = &mut errs;
            check(e, "config.", c, "runs", Positive, true);
            rounds = c
                .get("runs")
                .and_then(Value::as_u64)
                .map(|r| r as usize)
                .filter(|r| *r > 0);
            check(e, "config.", c, "duration_ms", Uint, true);
            check(e, "config.", c, "threads", Uint, true);
            check(e, "config.", c, "quick", Bool, true);
            if !matches!(
                c.get("mode").and_then(Value::as_str),
                Some("quick" | "full")
            ) {
                e.push("config.mode must be \"quick\" or \"full\"".into());
            }
            match c.get("threads_sweep") {
                None => {}
                Some(Value::Array(a)) if !a.is_empty() && a.iter().all(|t| Positive.holds(t)) => {}
                Some(_) => e.push(
                    "config.threads_sweep must be a non-empty array of positive integers".into(),
                ),
            }
        }
        None => errs.push("missing object \"config\"".into()),
    }
    let Some(results) = o.get("results").and_then(Value::as_array) else {
        errs.push("missing array \"results\"".into());
        return Err(errs);
    };
    for (i, r) in results.iter().enumerate() {
        let Some(r) = r.as_object() else {
            errs.push(format!("results[{i}] is not an object"));
            continue;
        };
        let s = |k| r.get(k).and_then(Value::as_str).unwrap_or("?");
        let at = format!("results[{i}] ({}/{}): ", s("workload"), s("allocator"));
        let e = &mut errs;
        for k in ["workload", "allocator", "metric", "unit"] {
            check(e, &at, r, k, NonEmpty, true);
        }
        check(e, &at, r, "threads", Uint, true);
        check(e, &at, r, "sweep_threads", Positive, false);
        check(e, &at, r, "higher_is_better", Bool, true);
        let runs = check_rounds(e, &at, r, "runs", Number, rounds);
        if !r.contains_key("runs") {
            e.push(format!("{at}missing array \"runs\""));
        }
        for k in ["median", "min", "max", "peak_rss_kib"] {
            check(e, &at, r, k, NumberOrNull, true);
        }
        let f = |k| r.get(k).and_then(Value::as_f64);
        if let (Some(md), Some(mn), Some(mx)) = (f("median"), f("min"), f("max")) {
            if !(mn <= md && md <= mx) {
                e.push(format!(
                    "{at}min {mn} <= median {md} <= max {mx} does not hold"
                ));
            }
        }
        if let (Some(runs), Some(md)) = (runs, f("median")) {
            let vals: Vec<f64> = runs.into_iter().flatten().collect();
            match median(&vals) {
                Some(m) if (m - md).abs() <= 1e-9 * m.abs().max(1.0) => {}
                _ => e.push(format!("{at}median {md} is not the median of runs")),
            }
        }
        // Per-round usage arrays and their summaries, added later.
        for (k, kind) in [
            ("ops_runs", Uint),
            ("minor_faults_runs", Uint),
            ("major_faults_runs", Uint),
            ("user_s_runs", NonNeg),
            ("sys_s_runs", NonNeg),
        ] {
            check_rounds(e, &at, r, k, kind, rounds);
        }
        for k in ["minor_faults_per_kop", "sys_s"] {
            check(e, &at, r, k, NonNeg, false);
        }
        match r.get("extra_runs") {
            None => {}
            Some(Value::Object(x)) => {
                for k in x.keys() {
                    check_rounds(e, &format!("{at}extra_runs."), x, k, Number, rounds);
                }
            }
            Some(_) => e.push(format!("{at}extra_runs is not an object")),
        }
        let hz3 = r
            .get("allocator")
            .and_then(Value::as_str)
            .is_some_and(crate::strategies::is_hz3);
        match r.get("stats") {
            Some(Value::Object(_)) => {}
            Some(_) => e.push(format!("{at}stats is not an object")),
            None if hz3 => e.push(format!(
                "{at}hz3 results need a \"stats\" object (may be empty)"
            )),
            None => {}
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}
