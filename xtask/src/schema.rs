//! The schema check of a results file (see [`crate::results`]): every problem, named by its path.

use serde_json::{Map, Value};

use crate::stats::median;

pub const SCHEMA: &str = "hz3-bench/1";

type Obj = Map<String, Value>;

/// What a key must hold: the test, and its words in messages.
#[derive(Clone, Copy)]
struct Kind(fn(&Value) -> bool, &'static str);

const STR: Kind = Kind(Value::is_string, "a string");
const NON_EMPTY: Kind = Kind(|v| v.as_str() > Some(""), "a non-empty string");
const UINT: Kind = Kind(|v| v.is_u64(), "a non-negative integer");
const POSITIVE: Kind = Kind(|v| v.as_u64() > Some(0), "a positive integer");
const BOOL: Kind = Kind(Value::is_boolean, "a boolean");
const NON_NEG: Kind = Kind(|v| v.as_f64() >= Some(0.0), "a non-negative number");
const NUMBER: Kind = Kind(Value::is_number, "a number");
const NUMBER_OR_NULL: Kind = Kind(|v| v.is_number() || v.is_null(), "a number or null");

/// How a key is checked: required, optional (absent or null), or as a per-round array.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    Req,
    Opt,
    Rounds,
}
use Need::*;

/// The rows (space-separated keys, kind, need) an object is checked by, in order.
type Rows = &'static [(&'static str, Kind, Need)];

const MACHINE: Rows = &[
    ("cpus", POSITIVE, Req),
    ("cpu_model kernel", STR, Req),
    // The machine's identity, added later.
    ("cpu_vendor thp rustc", STR, Opt),
    ("cpu_family cpu_model_number cpu_stepping", NON_NEG, Opt),
    ("cpu_mhz cpu_cores logical_cpus", NON_NEG, Opt),
];

const CONFIG: Rows = &[
    ("runs", POSITIVE, Req),
    ("duration_ms threads", UINT, Req),
    ("quick", BOOL, Req),
];

const RESULT: Rows = &[
    ("workload allocator metric unit", NON_EMPTY, Req),
    ("threads", UINT, Req),
    ("sweep_threads", POSITIVE, Opt),
    ("higher_is_better", BOOL, Req),
    ("median min max peak_rss_kib", NUMBER_OR_NULL, Req),
    // Per-round usage arrays and their summaries, added later.
    ("ops_runs minor_faults_runs major_faults_runs", UINT, Rounds),
    ("user_s_runs sys_s_runs", NON_NEG, Rounds),
    ("minor_faults_per_kop sys_s", NON_NEG, Opt),
];

/// The problems found so far, and `config.runs` when known.
struct Check {
    errs: Vec<String>,
    rounds: Option<u64>,
}

impl Check {
    fn err(&mut self, msg: impl Into<String>) {
        self.errs.push(msg.into());
    }

    /// Checks `o` by `rows`; `at` prefixes the messages.
    fn rows(&mut self, at: &str, o: &Obj, rows: Rows) {
        for &(keys, kind, need) in rows {
            for key in keys.split(' ') {
                match o.get(key) {
                    _ if need == Rounds => _ = self.rounds(at, o, key, kind),
                    None if need == Req => self.err(format!("{at}missing key {key:?}")),
                    None | Some(Value::Null) if need == Opt => {}
                    Some(v) if kind.0(v) => {}
                    _ => {
                        let null = if need == Req { "" } else { "null or " };
                        self.err(format!("{at}{key} must be {null}{}", kind.1));
                    }
                }
            }
        }
    }

    /// Checks the per-round array `o[key]`, if there; returns its numbers when all are right.
    fn rounds(&mut self, at: &str, o: &Obj, key: &str, kind: Kind) -> Option<Vec<f64>> {
        let Some(a) = o.get(key)?.as_array() else {
            self.err(format!("{at}{key} is not an array"));
            return None;
        };
        if let Some(n) = self.rounds.filter(|n| *n != a.len() as u64) {
            let len = a.len();
            self.err(format!("{at}{key} has {len} entries, config.runs is {n}"));
        }
        if !a.iter().all(|x| x.is_null() || kind.0(x)) {
            self.err(format!("{at}{key}: every entry must be null or {}", kind.1));
            return None;
        }
        Some(a.iter().filter_map(Value::as_f64).collect())
    }
}

/// Checks a results document against schema hz3-bench/1; returns every problem found.
pub fn validate(v: &Value) -> Result<(), Vec<String>> {
    let Some(o) = v.as_object() else {
        return Err(vec!["top level is not an object".into()]);
    };
    let mut ck = Check {
        errs: Vec::new(),
        rounds: v["config"]["runs"].as_u64().filter(|r| *r > 0),
    };
    match o.get("schema").and_then(Value::as_str) {
        Some(SCHEMA) => {}
        Some(s) => ck.err(format!("schema is {s:?}, expected {SCHEMA:?}")),
        None => ck.err("missing \"schema\""),
    }
    for (key, rows) in [("machine", MACHINE), ("config", CONFIG)] {
        match o.get(key).and_then(Value::as_object) {
            Some(x) => ck.rows(&format!("{key}."), x, rows),
            None => ck.err(format!("missing object {key:?}")),
        }
    }
    if let Some(c) = o.get("config").and_then(Value::as_object) {
        let mode = c.get("mode").and_then(Value::as_str);
        if !matches!(mode, Some("quick" | "full")) {
            ck.err("config.mode must be \"quick\" or \"full\"");
        }
        let sweep = c.get("threads_sweep").map(Value::as_array);
        if sweep.is_some_and(|a| a.is_none_or(|a| a.is_empty() || !a.iter().all(POSITIVE.0))) {
            ck.err("config.threads_sweep must be a non-empty array of positive integers");
        }
    }
    let Some(results) = o.get("results").and_then(Value::as_array) else {
        ck.err("missing array \"results\"");
        return Err(ck.errs);
    };
    for (i, r) in results.iter().enumerate() {
        let Some(r) = r.as_object() else {
            ck.err(format!("results[{i}] is not an object"));
            continue;
        };
        let s = |k| r.get(k).and_then(Value::as_str).unwrap_or("?");
        let at = format!("results[{i}] ({}/{}): ", s("workload"), s("allocator"));
        ck.rows(&at, r, RESULT);
        let runs = ck.rounds(&at, r, "runs", NUMBER);
        if !r.contains_key("runs") {
            ck.err(format!("{at}missing array \"runs\""));
        }
        let f = |k| r.get(k).and_then(Value::as_f64);
        if let (Some(md), Some(mn), Some(mx)) = (f("median"), f("min"), f("max")) {
            if !(mn <= md && md <= mx) {
                let msg = format!("{at}min {mn} <= median {md} <= max {mx} does not hold");
                ck.err(msg);
            }
        }
        if let (Some(runs), Some(md)) = (runs, f("median")) {
            match median(&runs) {
                Some(m) if (m - md).abs() <= 1e-9 * m.abs().max(1.0) => {}
                _ => ck.err(format!("{at}median {md} is not the median of runs")),
            }
        }
        if let Some(Value::Object(x)) = r.get("extra_runs") {
            for k in x.keys() {
                ck.rounds(&format!("{at}extra_runs."), x, k, NUMBER);
            }
        }
        for k in ["extra_runs", "stats"] {
            if r.get(k).is_some_and(|x| !x.is_object()) {
                ck.err(format!("{at}{k} is not an object"));
            }
        }
        if !r.contains_key("stats") && crate::strategies::is_hz3(s("allocator")) {
            let msg = "hz3 results need a \"stats\" object (may be empty)";
            ck.err(format!("{at}{msg}"));
        }
    }
    ck.errs.is_empty().then_some(()).ok_or(ck.errs)
}
