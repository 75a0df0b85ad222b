//! The schema check of a results file (`hz3-bench/1`, see [`crate::results`]): every problem
//! found, each named by its path, before the file is read.

use serde_json::{Map, Value};

use crate::stats::median;

pub const SCHEMA: &str = "hz3-bench/1";

fn get<'a>(o: &'a Map<String, Value>, k: &str) -> Result<&'a Value, String> {
    o.get(k).ok_or_else(|| format!("missing key {k:?}"))
}
fn get_str(o: &Map<String, Value>, k: &str) -> Result<String, String> {
    get(o, k)?
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("{k:?} is not a string"))
}
fn get_u64(o: &Map<String, Value>, k: &str) -> Result<u64, String> {
    get(o, k)?
        .as_u64()
        .ok_or_else(|| format!("{k:?} is not a non-negative integer"))
}
fn get_bool(o: &Map<String, Value>, k: &str) -> Result<bool, String> {
    get(o, k)?
        .as_bool()
        .ok_or_else(|| format!("{k:?} is not a boolean"))
}
fn opt_f64(v: &Value) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("not a number or null: {v}")),
    }
}

/// The optional machine keys and whether each is a string (else a non-negative number).
const MACHINE_OPTIONAL: &[(&str, bool)] = &[
    ("cpu_vendor", true),
    ("cpu_family", false),
    ("cpu_model_number", false),
    ("cpu_stepping", false),
    ("cpu_mhz", false),
    ("cpu_cores", false),
    ("logical_cpus", false),
    ("thp", true),
    ("rustc", true),
];

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
            if get_u64(m, "cpus").map_or(true, |c| c == 0) {
                errs.push("machine.cpus must be a positive integer".into());
            }
            for k in ["cpu_model", "kernel"] {
                if let Err(e) = get_str(m, k) {
                    errs.push(format!("machine: {e}"));
                }
            }
            // Added later (the machine's identity): absent, null, or of the right type.
            for (k, string) in MACHINE_OPTIONAL {
                match m.get(*k) {
                    None | Some(Value::Null) => {}
                    Some(v) if *string && v.is_string() => {}
                    Some(v) if !*string && v.as_f64().is_some_and(|f| f >= 0.0) => {}
                    Some(_) => errs.push(format!(
                        "machine.{k} must be null or {}",
                        if *string {
                            "a string"
                        } else {
                            "a non-negative number"
                        }
                    )),
                }
            }
        }
        None => errs.push("missing object \"machine\"".into()),
    }
    let mut rounds = None;
    match o.get("config").and_then(Value::as_object) {
        Some(c) => {
            match get_u64(c, "runs") {
                Ok(r) if r > 0 => rounds = Some(r as usize),
                _ => errs.push("config.runs must be a positive integer".into()),
            }
            for k in ["duration_ms", "threads"] {
                if let Err(e) = get_u64(c, k) {
                    errs.push(format!("config: {e}"));
                }
            }
            match c.get("threads_sweep") {
                None => {}
                Some(Value::Array(a))
                    if !a.is_empty() && a.iter().all(|t| t.as_u64().is_some_and(|t| t > 0)) => {}
                Some(_) => errs.push(
                    "config.threads_sweep must be a non-empty array of positive integers".into(),
                ),
            }
            match get_str(c, "mode").as_deref() {
                Ok("quick") | Ok("full") => {}
                _ => errs.push("config.mode must be \"quick\" or \"full\"".into()),
            }
            if let Err(e) = get_bool(c, "quick") {
                errs.push(format!("config: {e}"));
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
        let name = format!(
            "results[{i}] ({}/{})",
            r.get("workload").and_then(Value::as_str).unwrap_or("?"),
            r.get("allocator").and_then(Value::as_str).unwrap_or("?")
        );
        let mut e = |m: String| errs.push(format!("{name}: {m}"));
        for k in ["workload", "allocator", "metric", "unit"] {
            match get_str(r, k) {
                Ok(s) if s.is_empty() => e(format!("{k:?} is empty")),
                Ok(_) => {}
                Err(m) => e(m),
            }
        }
        if let Err(m) = get_u64(r, "threads") {
            e(m);
        }
        match r.get("sweep_threads") {
            None => {}
            Some(t) if t.as_u64().is_some_and(|t| t > 0) => {}
            Some(_) => e("sweep_threads must be a positive integer".into()),
        }
        if let Err(m) = get_bool(r, "higher_is_better") {
            e(m);
        }
        let runs: Option<Vec<Option<f64>>> = match r.get("runs").and_then(Value::as_array) {
            Some(a) => match a.iter().map(opt_f64).collect::<Result<Vec<_>, _>>() {
                Ok(v) => Some(v),
                Err(m) => {
                    e(format!("runs: {m}"));
                    None
                }
            },
            None => {
                e("missing array \"runs\"".into());
                None
            }
        };
        if let (Some(runs), Some(n)) = (&runs, rounds) {
            if runs.len() != n {
                e(format!(
                    "runs has {} entries, config.runs is {n}",
                    runs.len()
                ));
            }
        }
        let mut stat = |k: &str| match r.get(k).map(opt_f64) {
            Some(Ok(x)) => x,
            Some(Err(m)) => {
                e(format!("{k}: {m}"));
                None
            }
            None => {
                e(format!("missing key {k:?}"));
                None
            }
        };
        let (md, mn, mx) = (stat("median"), stat("min"), stat("max"));
        let _ = stat("peak_rss_kib");
        if let (Some(md), Some(mn), Some(mx)) = (md, mn, mx) {
            if !(mn <= md && md <= mx) {
                e(format!("min {mn} <= median {md} <= max {mx} does not hold"));
            }
        }
        if let (Some(runs), Some(md)) = (&runs, md) {
            let vals: Vec<f64> = runs.iter().flatten().copied().collect();
            match median(&vals) {
                Some(m) if (m - md).abs() <= 1e-9 * m.abs().max(1.0) => {}
                _ => e(format!("median {md} is not the median of runs")),
            }
        }
        // Optional per-round arrays (added later): one entry per round, each null or a
        // non-negative number (an integer for counts).
        for (k, integer) in [
            ("ops_runs", true),
            ("minor_faults_runs", true),
            ("major_faults_runs", true),
            ("user_s_runs", false),
            ("sys_s_runs", false),
        ] {
            let Some(v) = r.get(k) else { continue };
            let Some(a) = v.as_array() else {
                e(format!("{k} is not an array"));
                continue;
            };
            if let Some(n) = rounds {
                if a.len() != n {
                    e(format!("{k} has {} entries, config.runs is {n}", a.len()));
                }
            }
            let ok = |x: &Value| {
                x.is_null()
                    || if integer {
                        x.as_u64().is_some()
                    } else {
                        x.as_f64().is_some_and(|f| f >= 0.0)
                    }
            };
            if !a.iter().all(ok) {
                e(format!(
                    "{k}: every entry must be null or a non-negative {}",
                    if integer { "integer" } else { "number" }
                ));
            }
        }
        match r.get("extra_runs") {
            None => {}
            Some(Value::Object(x)) => {
                for (k, v) in x {
                    let ok = v.as_array().is_some_and(|a| {
                        rounds.is_none_or(|n| a.len() == n)
                            && a.iter().all(|x| x.is_null() || x.is_number())
                    });
                    if !ok {
                        e(format!(
                            "extra_runs.{k} must have config.runs entries, each a number or null"
                        ));
                    }
                }
            }
            Some(_) => e("extra_runs is not an object".into()),
        }
        for k in ["minor_faults_per_kop", "sys_s"] {
            match r.get(k) {
                None | Some(Value::Null) => {}
                Some(x) if x.as_f64().is_some_and(|f| f >= 0.0) => {}
                Some(_) => e(format!("{k} must be null or a non-negative number")),
            }
        }
        let hz3 = r
            .get("allocator")
            .and_then(Value::as_str)
            .is_some_and(crate::strategies::is_hz3);
        match r.get("stats") {
            Some(Value::Object(_)) => {}
            Some(_) => e("stats is not an object".into()),
            None if hz3 => e("hz3 results need a \"stats\" object (may be empty)".into()),
            None => {}
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}
