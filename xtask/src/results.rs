//! The results of a matrix run and their JSON form, schema `hz3-bench/1` (docs/bench-matrix.md).
//! `runs[i]` is round i's value (null: failed), so per-round ratios line entries up by round.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

pub use crate::machine::Machine;
pub use crate::schema::{validate, SCHEMA};
use crate::stats::{median, ratio_summary, Summary};

/// One line printed by a bench binary.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RunLine {
    pub allocator: String,
    pub workload: String,
    pub threads: u64,
    pub metric: String,
    pub unit: String,
    pub higher_is_better: bool,
    pub value: f64,
    pub peak_rss_kib: u64,
    pub valid: bool,
    /// Required, may be null.
    #[serde(deserialize_with = "null_as_empty")]
    pub extra: Map<String, Value>,
    pub stats: Option<Value>,
    /// Operations the run counted (absent from lines of older bench binaries).
    pub ops: Option<u64>,
    /// `getrusage(RUSAGE_SELF)` of the run's process at its end (absent from older lines).
    #[serde(flatten)]
    pub usage: Usage,
}

/// Page faults and CPU time of one run's process; `None` where unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct Usage {
    pub minor_faults: Option<u64>,
    pub major_faults: Option<u64>,
    pub user_s: Option<f64>,
    pub sys_s: Option<f64>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

/// Parses the last JSON line of a bench binary's stdout.
pub fn parse_run_line(stdout: &str) -> Result<RunLine, String> {
    let line = stdout.lines().rfind(|l| l.trim_start().starts_with('{'));
    let line = line.ok_or("no JSON line in output")?;
    serde_json::from_str(line).map_err(|e| format!("bad JSON line: {e}"))
}

/// All runs of one (workload, allocator); its serde form is the file's per-round arrays.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cell {
    pub workload: String,
    pub allocator: String,
    /// The thread count the run reported (1 for single-thread workloads).
    pub threads: u64,
    /// The `--threads` value this cell was measured at (a point of a thread sweep).
    pub sweep_threads: u64,
    pub metric: String,
    pub unit: String,
    pub higher_is_better: bool,
    pub runs: Vec<Option<f64>>,
    pub peak_rss_kib_runs: Vec<Option<u64>>,
    /// Per round: did the run meet its validity rule (mt-remote fallback rate)?
    pub valid_runs: Vec<bool>,
    /// Per round mt-remote fallback rate (empty for other workloads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback_rates: Vec<Option<f64>>,
    /// Stats snapshot from the stats pass (hz3 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Value>,
    /// Per round: operations counted, and the process's page faults and CPU time.
    pub ops_runs: Vec<Option<u64>>,
    pub minor_faults_runs: Vec<Option<u64>>,
    pub major_faults_runs: Vec<Option<u64>>,
    pub user_s_runs: Vec<Option<f64>>,
    pub sys_s_runs: Vec<Option<f64>>,
    /// The run line's `extra` figures per round (e.g. threads-many's `rss_per_thread_kib`).
    #[serde(rename = "extra_runs", skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<Option<f64>>>,
}

impl Cell {
    /// A cell measured at `--threads sweep_threads`.
    pub fn at(workload: &str, allocator: &str, sweep_threads: u64, rounds: usize) -> Cell {
        let mut c = Cell {
            workload: workload.into(),
            allocator: allocator.into(),
            sweep_threads,
            higher_is_better: true,
            ..Cell::default()
        };
        c.fill(rounds, None);
        c
    }

    /// Gives the per-round arrays `n` entries where they lack them: unknown, valid, `rss` KiB.
    fn fill(&mut self, n: usize, rss: Option<u64>) {
        self.peak_rss_kib_runs.resize(n, rss);
        self.valid_runs.resize(n, true);
        self.runs.resize(n, None);
        self.ops_runs.resize(n, None);
        self.minor_faults_runs.resize(n, None);
        self.major_faults_runs.resize(n, None);
        self.user_s_runs.resize(n, None);
        self.sys_s_runs.resize(n, None);
    }

    /// Records round `round`'s run line.
    pub fn record(&mut self, round: usize, r: &RunLine) {
        self.threads = r.threads;
        self.metric.clone_from(&r.metric);
        self.unit.clone_from(&r.unit);
        self.higher_is_better = r.higher_is_better;
        self.runs[round] = Some(r.value);
        self.peak_rss_kib_runs[round] = Some(r.peak_rss_kib);
        self.valid_runs[round] = r.valid;
        if let Some(f) = r.extra.get("fallback_rate").and_then(Value::as_f64) {
            self.fallback_rates.resize(self.runs.len(), None);
            self.fallback_rates[round] = Some(f);
        }
        self.ops_runs[round] = r.ops;
        self.minor_faults_runs[round] = r.usage.minor_faults;
        self.major_faults_runs[round] = r.usage.major_faults;
        self.user_s_runs[round] = r.usage.user_s;
        self.sys_s_runs[round] = r.usage.sys_s;
        let n = self.runs.len();
        for (k, v) in &r.extra {
            let runs = self.extra.entry(k.clone()).or_insert(vec![None; n]);
            runs[round] = v.as_f64();
        }
    }

    /// Median over rounds of `peak_rss_kib`, `minor_faults`, `sys_s` or the extra figure `k`.
    pub fn median(&self, k: &str) -> Option<f64> {
        let ints = |v: &[Option<u64>]| v.iter().flatten().map(|x| *x as f64).collect();
        let v: Vec<f64> = match k {
            "peak_rss_kib" => ints(&self.peak_rss_kib_runs),
            "minor_faults" => ints(&self.minor_faults_runs),
            "sys_s" => self.sys_s_runs.iter().flatten().copied().collect(),
            k => self.extra.get(k)?.iter().flatten().copied().collect(),
        };
        median(&v)
    }

    /// Median over rounds of minor faults per 1000 operations (rounds without operations skipped).
    pub fn minor_faults_per_kop(&self) -> Option<f64> {
        let per_kop = |(f, o): (&Option<u64>, &Option<u64>)| {
            Some((*f)? as f64 * 1000.0 / (*o).filter(|o| *o > 0)? as f64)
        };
        let runs = self.minor_faults_runs.iter().zip(&self.ops_runs);
        median(&runs.filter_map(per_kop).collect::<Vec<_>>())
    }

    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.runs.iter().flatten().copied().collect::<Vec<_>>())
    }

    /// Rounds whose run completed but broke the validity rule.
    pub fn invalid_runs(&self) -> usize {
        let done = self.runs.iter().zip(&self.valid_runs);
        done.filter(|(r, v)| r.is_some() && !**v).count()
    }

    pub fn failed_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.is_none()).count()
    }
}

/// The run's settings; in a file, `extra`'s keys sit beside the others, and `quick` is added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub runs: u64,
    pub duration_ms: u64,
    /// The (first) `--threads` value.
    pub threads: u64,
    /// Every `--threads` value, ascending (absent from files from before the sweep: `[threads]`).
    #[serde(default)]
    pub threads_sweep: Vec<u64>,
    /// "quick" or "full".
    pub mode: String,
    #[serde(default)]
    pub allocators: Vec<String>,
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Free-form provenance (git commit, timestamps, toolchain), kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A matrix run; its serde form is a results file less what [`Matrix::to_json`] adds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub machine: Machine,
    pub config: Config,
    #[serde(rename = "results")]
    pub cells: Vec<Cell>,
    #[serde(default)]
    pub failures: Vec<String>,
}

impl Matrix {
    /// A run's results; `config`: the [`Config`] as JSON, nulls dropped, less the cells' lists.
    pub fn new(machine: Machine, config: Value, cells: Vec<Cell>, failures: Vec<String>) -> Matrix {
        let mut config: Config = serde_json::from_value(config).expect("a config");
        config.extra.retain(|_, v| !v.is_null());
        let mut m = Matrix {
            machine,
            config,
            cells,
            failures,
        };
        (m.config.allocators, m.config.workloads) = (m.allocators(), m.workloads());
        m
    }

    /// The cell of (workload, allocator): in a sweep, the first (see [`Matrix::at_threads`]).
    pub fn cell(&self, workload: &str, allocator: &str) -> Option<&Cell> {
        let is = |c: &&Cell| c.workload == workload && c.allocator == allocator;
        self.cells.iter().find(is)
    }

    /// The cell of (workload, allocator) measured at `--threads t`.
    pub fn cell_at(&self, workload: &str, allocator: &str, t: u64) -> Option<&Cell> {
        let is = |c: &&Cell| c.workload == workload && c.allocator == allocator;
        self.cells.iter().filter(|c| c.sweep_threads == t).find(is)
    }

    /// Summary of `allocator`'s per-round ratios to `reference` on `workload`.
    pub fn ratio(&self, workload: &str, allocator: &str, reference: &str) -> Option<Summary> {
        let a = self.cell(workload, allocator)?;
        self.ratio_at(workload, allocator, reference, a.sweep_threads)
    }

    /// [`Matrix::ratio`] at `--threads t` (both cells measured at that count, in the same rounds).
    pub fn ratio_at(&self, w: &str, allocator: &str, reference: &str, t: u64) -> Option<Summary> {
        let a = self.cell_at(w, allocator, t)?;
        let r = self.cell_at(w, reference, t)?;
        ratio_summary(&a.runs, &r.runs, a.higher_is_better)
    }

    /// The thread counts measured, ascending (one unless the run was a sweep).
    pub fn thread_counts(&self) -> Vec<u64> {
        let counts: BTreeSet<u64> = self.cells.iter().map(|c| c.sweep_threads).collect();
        counts.into_iter().collect()
    }

    /// The results measured at `--threads t`, as a matrix of their own (`config.threads` = t).
    pub fn at_threads(&self, t: u64) -> Matrix {
        let mut m = self.clone();
        m.cells.retain(|c| c.sweep_threads == t);
        m.config.threads = t;
        m.config.threads_sweep = vec![t];
        m
    }

    /// Notes recorded with the run (e.g. a preload row skipped because its library is missing).
    pub fn notes(&self) -> Vec<String> {
        let notes = self.config.extra.get("notes").and_then(Value::as_array);
        let notes = notes.into_iter().flatten().filter_map(Value::as_str);
        notes.map(String::from).collect()
    }

    /// The workloads, in the order first measured.
    pub fn workloads(&self) -> Vec<String> {
        self.distinct(|c| &c.workload)
    }

    /// The allocators, in the order first measured.
    pub fn allocators(&self) -> Vec<String> {
        self.distinct(|c| &c.allocator)
    }

    fn distinct(&self, key: impl Fn(&Cell) -> &String) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let keys = self.cells.iter().map(key).filter(|k| seen.insert(*k));
        keys.cloned().collect()
    }

    /// The JSON form: the serde form plus `schema`, `config.quick`, each result's summaries and
    /// ratios (and an empty `stats` for hz3). Keys come out sorted: `Value`'s maps are ordered.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("a matrix serializes");
        v["schema"] = SCHEMA.into();
        v["config"]["quick"] = (self.config.mode == "quick").into();
        let results = v["results"].as_array_mut().into_iter().flatten();
        for (r, c) in results.zip(&self.cells) {
            let (w, a, t) = (&c.workload, c.allocator.as_str(), c.sweep_threads);
            let refs = ["mimalloc", "system", "hz3-a"].into_iter();
            let refs = refs.filter(|r| *r != a && self.cell_at(w, r, t).is_some());
            let ratios: BTreeMap<_, _> = refs.map(|r| (r, self.ratio_at(w, a, r, t))).collect();
            let s = json!(c.summary());
            for k in ["median", "min", "max", "cv"] {
                r[k] = s[k].clone();
            }
            r["peak_rss_kib"] = c.median("peak_rss_kib").into();
            r["ratios"] = json!(ratios);
            r["invalid_runs"] = c.invalid_runs().into();
            r["minor_faults_per_kop"] = c.minor_faults_per_kop().into();
            r["sys_s"] = c.median("sys_s").into();
            if crate::strategies::is_hz3(&c.allocator) && r.get("stats").is_none() {
                r["stats"] = json!({});
            }
        }
        v
    }

    /// The text of a results file: [`Matrix::to_json`], pretty-printed, with a final newline.
    pub fn to_file_text(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).expect("a Value prints") + "\n"
    }

    /// Validates `v` and reads it back, filling in what older files lack.
    pub fn from_json(v: &Value) -> Result<Matrix, String> {
        validate(v).map_err(|errs| errs.join("; "))?;
        let mut m = Matrix::deserialize(v).map_err(|e| e.to_string())?;
        let t = m.config.threads;
        m.config.extra.remove("quick");
        if m.config.threads_sweep.is_empty() {
            m.config.threads_sweep = vec![t];
        }
        for (i, c) in m.cells.iter_mut().enumerate() {
            if c.sweep_threads == 0 {
                c.sweep_threads = t;
            }
            let rss = v["results"][i]["peak_rss_kib"].as_f64().map(|x| x as u64);
            c.fill(c.runs.len(), rss);
            c.stats.take_if(|s| s.as_object().is_none_or(Map::is_empty));
        }
        Ok(m)
    }
}

/// Reads and validates a results file, with messages that name the file.
pub fn load(path: &std::path::Path) -> Result<Matrix, String> {
    let p = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {p}: {e}"))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{p} is not valid JSON: {e}"))?;
    Matrix::from_json(&v).map_err(|e| format!("{p} does not follow schema {SCHEMA}: {e}"))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;

    /// The committed baseline, read and written again, is the same file byte for byte: the
    /// serde form writes what the hand-written one wrote (keys, numbers, nulls, layout).
    /// `XTASK_ROUND_TRIP=a.json:b.json` checks more files the same way.
    #[test]
    fn a_committed_file_round_trips_byte_for_byte() {
        // The committed files: the baseline and every run in docs/runs (floats parse exactly:
        // serde_json's float_roundtrip).
        let root = crate::paths::workspace_root();
        let mut paths = vec![root.join("benches/baseline.json")];
        let runs = std::fs::read_dir(root.join("docs/runs")).unwrap();
        let runs = runs.map(|e| e.unwrap().path());
        paths.extend(runs.filter(|p| p.extension().is_some_and(|e| e == "json")));
        if let Ok(more) = std::env::var("XTASK_ROUND_TRIP") {
            paths.extend(more.split(':').filter(|p| !p.is_empty()).map(Into::into));
        }
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let m = load(&path).unwrap();
            assert!(!m.cells.is_empty());
            assert!(
                m.to_file_text() == text,
                "{} changed in a round trip",
                path.display()
            );
        }
    }

    /// A small synthetic matrix: `values[(workload, allocator)] = runs`, measured at 2 threads.
    pub fn synthetic(rounds: usize, values: &[(&str, &str, &[f64])]) -> Matrix {
        synthetic_at(
            rounds,
            &values
                .iter()
                .map(|(w, a, r)| (*w, *a, 2u64, *r))
                .collect::<Vec<_>>(),
        )
    }

    /// A synthetic matrix whose cells name their `--threads` value (a sweep when they differ).
    pub fn synthetic_at(rounds: usize, values: &[(&str, &str, u64, &[f64])]) -> Matrix {
        let cells = values
            .iter()
            .map(|(w, a, t, runs)| {
                let mut c = Cell::at(w, a, *t, rounds);
                for (i, v) in runs.iter().enumerate() {
                    c.record(
                        i,
                        &RunLine {
                            allocator: a.to_string(),
                            workload: w.to_string(),
                            threads: *t,
                            metric: "op_rate".into(),
                            unit: "ops/s".into(),
                            higher_is_better: true,
                            value: *v,
                            peak_rss_kib: 1000 + i as u64,
                            valid: true,
                            extra: [
                                ("live_threads".to_string(), json!(1000.0)),
                                (
                                    "rss_per_thread_kib".to_string(),
                                    json!(10.0 * (i as f64 + 1.0)),
                                ),
                            ]
                            .into_iter()
                            .collect(),
                            stats: None,
                            ops: Some(1000 * (i as u64 + 1)),
                            usage: Usage {
                                minor_faults: Some(500 + i as u64),
                                major_faults: Some(0),
                                user_s: Some(0.25),
                                sys_s: Some(0.125 * (i as f64 + 1.0)),
                            },
                        },
                    );
                }
                if crate::strategies::is_hz3(a) {
                    c.stats =
                        Some(json!({"remote_frees": 10, "derived": {"rmw_per_remote_free": 1.0}}));
                }
                c
            })
            .collect();
        let mut sweep: Vec<u64> = values.iter().map(|v| v.2).collect();
        sweep.sort_unstable();
        sweep.dedup();
        Matrix {
            machine: crate::machine::tests::test_machine(),
            config: Config {
                runs: rounds as u64,
                duration_ms: 100,
                threads: sweep.first().copied().unwrap_or(2),
                threads_sweep: sweep,
                mode: "quick".into(),
                allocators: vec![],
                workloads: vec![],
                extra: Map::new(),
            },
            cells,
            failures: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let m = synthetic(
            3,
            &[
                ("xmalloc", "system", &[1.0, 2.0, 3.0]),
                ("xmalloc", "hz3-a", &[2.0, 4.0, 6.5]),
            ],
        );
        let v = m.to_json();
        validate(&v).unwrap();
        let text = serde_json::to_string_pretty(&v).unwrap();
        let back = Matrix::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, m);
        let r = &v["results"][1];
        assert_eq!(r["median"], json!(4.0));
        assert_eq!(r["ratios"]["system"]["median"], json!(2.0));
        assert_eq!(r["stats"]["remote_frees"], json!(10));
        assert!(
            v["results"][0].get("stats").is_none(),
            "no stats key for system"
        );
        assert_eq!(v["config"]["quick"], json!(true));
    }

    #[test]
    fn failed_runs_are_null_and_keep_rounds_aligned() {
        let mut m = synthetic(3, &[("larson", "system", &[1.0, 2.0, 3.0])]);
        m.cells[0].runs[1] = None;
        m.cells[0].peak_rss_kib_runs[1] = None;
        let v = m.to_json();
        assert_eq!(v["results"][0]["runs"], json!([1.0, null, 3.0]));
        assert_eq!(v["results"][0]["median"], json!(2.0));
        assert_eq!(Matrix::from_json(&v).unwrap(), m);
    }

    #[test]
    fn validation_finds_problems() {
        let good = synthetic(2, &[("xmalloc", "hz3-a", &[1.0, 2.0])]).to_json();
        validate(&good).unwrap();
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            f(&mut v);
            validate(&v).unwrap_err().join("; ")
        };
        assert!(
            broken(&|v| v["schema"] = json!("hz3-bench/0")).contains("expected \"hz3-bench/1\"")
        );
        assert!(broken(&|v| {
            v.as_object_mut().unwrap().remove("machine");
        })
        .contains("machine"));
        assert!(broken(&|v| v["config"]["mode"] = json!("slow")).contains("config.mode"));
        assert!(broken(&|v| v["results"][0]["runs"] = json!([1.0])).contains("config.runs is 2"));
        assert!(broken(&|v| v["results"][0]["runs"] = json!([1.0, "x"])).contains("runs"));
        assert!(broken(&|v| v["results"][0]["median"] = json!(7.0)).contains("median"));
        assert!(broken(&|v| {
            v["results"][0].as_object_mut().unwrap().remove("stats");
        })
        .contains("stats"));
        assert!(
            broken(&|v| v["results"][0]["higher_is_better"] = json!("yes"))
                .contains("higher_is_better")
        );
        assert!(validate(&json!([1, 2])).is_err());
    }

    #[test]
    fn load_reports_missing_and_invalid_files() {
        let dir = std::env::temp_dir().join(format!("xtask-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = load(&dir.join("nope.json")).unwrap_err();
        assert!(
            missing.contains("cannot read") && missing.contains("nope.json"),
            "{missing}"
        );
        std::fs::write(dir.join("bad.json"), "{ not json").unwrap();
        assert!(load(&dir.join("bad.json"))
            .unwrap_err()
            .contains("is not valid JSON"));
        std::fs::write(dir.join("wrong.json"), "{\"schema\": \"other\"}").unwrap();
        assert!(load(&dir.join("wrong.json"))
            .unwrap_err()
            .contains("does not follow schema"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usage_fields_round_trip_and_validate() {
        let m = synthetic(
            3,
            &[
                ("large-churn", "system", &[1.0, 2.0, 3.0]),
                ("large-churn", "hz3-a", &[2.0, 4.0, 6.5]),
            ],
        );
        let c = &m.cells[0];
        // Round i: 500 + i faults over 1000 (i + 1) ops.
        assert_eq!(c.minor_faults_per_kop(), Some(250.5));
        let mut first = c.clone();
        first.ops_runs[1..].fill(Some(0));
        assert_eq!(
            first.minor_faults_per_kop(),
            Some(500.0),
            "rounds without ops skipped"
        );
        assert_eq!(c.median("sys_s"), Some(0.25));
        let v = m.to_json();
        validate(&v).unwrap();
        let r = &v["results"][0];
        assert_eq!(r["ops_runs"], json!([1000, 2000, 3000]));
        assert_eq!(r["minor_faults_runs"], json!([500, 501, 502]));
        assert_eq!(r["major_faults_runs"], json!([0, 0, 0]));
        assert_eq!(r["sys_s_runs"], json!([0.125, 0.25, 0.375]));
        assert_eq!(r["minor_faults_per_kop"], json!(250.5));
        assert_eq!(r["sys_s"], json!(0.25));
        // The workload's extra figures, per round.
        assert_eq!(
            r["extra_runs"]["rss_per_thread_kib"],
            json!([10.0, 20.0, 30.0])
        );
        assert_eq!(m.cells[0].median("rss_per_thread_kib"), Some(20.0));
        assert_eq!(m.cells[0].median("nope"), None);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            Matrix::from_json(&serde_json::from_str(&text).unwrap()).unwrap(),
            m
        );

        // A failed round is null in every per-round array.
        let mut m2 = m.clone();
        m2.cells[0].minor_faults_runs[1] = None;
        m2.cells[0].ops_runs[1] = None;
        let v2 = m2.to_json();
        validate(&v2).unwrap();
        assert_eq!(
            v2["results"][0]["minor_faults_runs"],
            json!([500, null, 502])
        );
        assert_eq!(Matrix::from_json(&v2).unwrap(), m2);

        // Bad values are reported.
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut x = v.clone();
            f(&mut x);
            validate(&x).unwrap_err().join("; ")
        };
        assert!(
            broken(&|x| x["results"][0]["minor_faults_runs"] = json!([1, 2]))
                .contains("config.runs is 3")
        );
        assert!(
            broken(&|x| x["results"][0]["sys_s_runs"] = json!([0.1, -1.0, 0.2]))
                .contains("sys_s_runs")
        );
        assert!(broken(&|x| x["results"][0]["ops_runs"] = json!("many")).contains("not an array"));
        assert!(
            broken(&|x| x["results"][0]["minor_faults_per_kop"] = json!("x"))
                .contains("minor_faults_per_kop")
        );
        assert!(
            broken(&|x| x["results"][0]["extra_runs"]["rss_per_thread_kib"] = json!([1.0]))
                .contains("extra_runs.rss_per_thread_kib")
        );
        assert!(broken(&|x| x["results"][0]["extra_runs"] = json!(3)).contains("extra_runs"));
    }

    #[test]
    fn files_without_usage_fields_still_load() {
        let m = synthetic(
            2,
            &[
                ("xmalloc", "system", &[1.0, 2.0]),
                ("xmalloc", "hz3-a", &[2.0, 4.0]),
            ],
        );
        let mut v = m.to_json();
        for r in v["results"].as_array_mut().unwrap() {
            let o = r.as_object_mut().unwrap();
            for k in [
                "ops_runs",
                "minor_faults_runs",
                "major_faults_runs",
                "user_s_runs",
                "sys_s_runs",
                "minor_faults_per_kop",
                "sys_s",
                "extra_runs",
            ] {
                o.remove(k);
            }
        }
        validate(&v).unwrap();
        let back = Matrix::from_json(&v).unwrap();
        let c = back.cell("xmalloc", "hz3-a").unwrap();
        assert_eq!(c.minor_faults_runs, vec![None, None]);
        assert_eq!(c.ops_runs, vec![None, None]);
        assert_eq!(c.minor_faults_per_kop(), None);
        assert_eq!(c.median("sys_s"), None);
        assert_eq!(c.runs, vec![Some(2.0), Some(4.0)]);
    }

    #[test]
    fn machine_identity_round_trips_and_old_files_read_as_unknown() {
        let m = synthetic(
            2,
            &[
                ("local-fixed", "system", &[1.0, 2.0]),
                ("local-fixed", "hz3-a", &[2.0, 4.0]),
            ],
        );
        let v = m.to_json();
        validate(&v).unwrap();
        assert_eq!(v["machine"]["cpu_family"], json!(25));
        assert_eq!(v["machine"]["thp"], json!("madvise"));
        assert_eq!(Matrix::from_json(&v).unwrap().machine, m.machine);
        let d = m.machine.describe();
        for part in [
            "Test CPU",
            "GenuineTest family 25 model 17 stepping 1",
            "2600 MHz",
            "2 CPUs (2 cores, 2 logical)",
            "THP madvise",
            "kernel 6.1.0",
            "rustc 1.95.0",
        ] {
            assert!(d.contains(part), "{part:?} not in {d:?}");
        }
        // A file from before: only cpus, cpu_model, kernel.
        let mut old = v.clone();
        old["machine"] = json!({"cpus": 2, "cpu_model": "AMD EPYC", "kernel": "6.1.0"});
        validate(&old).unwrap();
        let back = Matrix::from_json(&old).unwrap();
        assert_eq!(
            (
                back.machine.cpu_vendor.as_deref(),
                back.machine.cpu_family,
                back.machine.rustc.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(back.machine.describe(), "AMD EPYC · 2 CPUs · kernel 6.1.0");
        // Wrong types are reported.
        let mut bad = v.clone();
        bad["machine"]["cpu_family"] = json!("twenty-five");
        bad["machine"]["thp"] = json!(3);
        let e = validate(&bad).unwrap_err().join("; ");
        assert!(
            e.contains("machine.cpu_family") && e.contains("machine.thp"),
            "{e}"
        );
    }

    #[test]
    fn a_thread_sweep_keeps_the_count_per_result() {
        let m = synthetic_at(
            2,
            &[
                ("xmalloc", "system", 1, &[1.0, 2.0]),
                ("xmalloc", "hz3-a", 1, &[2.0, 4.0]),
                ("xmalloc", "system", 4, &[10.0, 10.0]),
                ("xmalloc", "hz3-a", 4, &[30.0, 30.0]),
            ],
        );
        assert_eq!(m.thread_counts(), vec![1, 4]);
        assert!(m.thread_counts().len() > 1);
        assert_eq!(
            m.ratio_at("xmalloc", "hz3-a", "system", 1).unwrap().median,
            2.0
        );
        assert_eq!(
            m.ratio_at("xmalloc", "hz3-a", "system", 4).unwrap().median,
            3.0
        );
        let four = m.at_threads(4);
        assert_eq!((four.cells.len(), four.config.threads), (2, 4));
        assert_eq!(four.thread_counts(), vec![4]);
        assert_eq!(
            four.ratio("xmalloc", "hz3-a", "system").unwrap().median,
            3.0
        );
        let v = m.to_json();
        validate(&v).unwrap();
        assert_eq!(v["config"]["threads_sweep"], json!([1, 4]));
        assert_eq!(v["results"][3]["sweep_threads"], json!(4));
        assert_eq!(
            v["results"][3]["ratios"]["system"]["median"],
            json!(3.0),
            "ratios within the same thread count"
        );
        assert_eq!(Matrix::from_json(&v).unwrap(), m);
        // Files from before the sweep: every result at config.threads.
        let mut old = synthetic(2, &[("xmalloc", "system", &[1.0, 2.0])]).to_json();
        old["config"]
            .as_object_mut()
            .unwrap()
            .remove("threads_sweep");
        old["results"][0]
            .as_object_mut()
            .unwrap()
            .remove("sweep_threads");
        let back = Matrix::from_json(&old).unwrap();
        assert_eq!(
            (
                back.cells[0].sweep_threads,
                back.config.threads_sweep.clone()
            ),
            (2, vec![2])
        );
        let mut bad = v.clone();
        bad["results"][0]["sweep_threads"] = json!(0);
        bad["config"]["threads_sweep"] = json!([]);
        let e = validate(&bad).unwrap_err().join("; ");
        assert!(
            e.contains("sweep_threads") && e.contains("threads_sweep"),
            "{e}"
        );
    }

    #[test]
    fn parses_a_bench_line() {
        let line = r#"{"schema":"hz3-bench-run/1","allocator":"system","workload":"mt-remote-r50","threads":2,"metric":"op_rate","unit":"ops/s","higher_is_better":true,"value":5.0e6,"ops":10,"elapsed_s":0.3,"peak_rss_kib":5000,"valid":false,"extra":{"fallback_rate":0.2},"stats":null}"#;
        let r = parse_run_line(&format!("noise\n{line}\n")).unwrap();
        assert_eq!(r.value, 5.0e6);
        assert!(!r.valid);
        assert_eq!(r.stats, None);
        assert_eq!(r.ops, Some(10));
        assert_eq!(
            r.usage,
            Usage::default(),
            "a line from before the usage fields"
        );
        let with_usage = line.replace("\"peak_rss_kib\":5000,", "\"peak_rss_kib\":5000,\"minor_faults\":77,\"major_faults\":0,\"user_s\":0.5,\"sys_s\":0.25,");
        let u = parse_run_line(&with_usage).unwrap().usage;
        assert_eq!(
            u,
            Usage {
                minor_faults: Some(77),
                major_faults: Some(0),
                user_s: Some(0.5),
                sys_s: Some(0.25)
            }
        );
        let mut c = Cell::at("mt-remote-r50", "system", 2, 2);
        c.record(1, &r);
        assert_eq!(c.runs, vec![None, Some(5.0e6)]);
        assert_eq!(c.fallback_rates, vec![None, Some(0.2)]);
        assert_eq!(c.invalid_runs(), 1);
        assert_eq!(c.failed_runs(), 1);
        assert!(parse_run_line("no json here").is_err());
    }
}
