//! The results of a matrix run and their JSON form, schema `hz3-bench/1`.
//!
//! ```text
//! { "schema": "hz3-bench/1",
//!   "machine": { "cpus": 2, "cpu_model": "...", "kernel": "...",
//!                "cpu_vendor", "cpu_family", "cpu_model_number", "cpu_stepping", "cpu_mhz",
//!                "cpu_cores", "logical_cpus", "thp", "rustc" (added by issue 16; may be absent) },
//!   "config":  { "runs": 3, "duration_ms": 400, "threads": 2, "mode": "quick", "quick": true,
//!                "threads_sweep": [2], ...},
//!   "results": [ { "workload", "allocator", "threads", "sweep_threads", "metric", "unit", "higher_is_better",
//!                  "median", "min", "max", "runs": [v0, v1, ...], "peak_rss_kib",
//!                  "stats": {...}            (hz3 allocators only; may be empty)
//!                  ... extra keys: "ratios", "peak_rss_kib_runs", "valid_runs", "fallback_rates",
//!                  "ops_runs", "minor_faults_runs", "major_faults_runs", "user_s_runs",
//!                  "sys_s_runs", "minor_faults_per_kop", "sys_s", "extra_runs" } ],
//!   "failures": [ "..." ] }
//! ```
//! `runs[i]` is the value measured in round i (null when that run failed), so two entries' runs
//! line up round by round; that is what per-round ratios (and the gate) are computed from.
//! The operation counts, page faults and CPU times (`getrusage` of each run's process) were added
//! later; files without them still load, and the tables print "—" where they are missing.
//! So were the machine's identity (a file without it reads as "unknown", and the gate then warns
//! instead of refusing) and the thread sweep: `sweep_threads` is the `--threads` value a result
//! was measured at (`threads` is what the workload reports: 1 for single-thread workloads), and a
//! file without it reads as measured at `config.threads`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::stats::{median, ratio_summary, Summary};

pub const SCHEMA: &str = "hz3-bench/1";

/// One line printed by a bench binary.
#[derive(Clone, Debug, PartialEq)]
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
    pub extra: Map<String, Value>,
    pub stats: Option<Value>,
    /// Operations the run counted (absent from lines of older bench binaries).
    pub ops: Option<u64>,
    /// `getrusage(RUSAGE_SELF)` of the run's process at its end (absent from older lines).
    pub usage: Usage,
}

/// Page faults and CPU time of one run's process; `None` where unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub minor_faults: Option<u64>,
    pub major_faults: Option<u64>,
    pub user_s: Option<f64>,
    pub sys_s: Option<f64>,
}

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
fn get_f64(o: &Map<String, Value>, k: &str) -> Result<f64, String> {
    get(o, k)?
        .as_f64()
        .ok_or_else(|| format!("{k:?} is not a number"))
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

/// Parses the last JSON line of a bench binary's stdout.
pub fn parse_run_line(stdout: &str) -> Result<RunLine, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("no JSON line in output")?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON line: {e}"))?;
    let o = v.as_object().ok_or("JSON line is not an object")?;
    Ok(RunLine {
        allocator: get_str(o, "allocator")?,
        workload: get_str(o, "workload")?,
        threads: get_u64(o, "threads")?,
        metric: get_str(o, "metric")?,
        unit: get_str(o, "unit")?,
        higher_is_better: get_bool(o, "higher_is_better")?,
        value: get_f64(o, "value")?,
        peak_rss_kib: get_u64(o, "peak_rss_kib")?,
        valid: get_bool(o, "valid")?,
        extra: get(o, "extra")?.as_object().cloned().unwrap_or_default(),
        stats: o.get("stats").filter(|s| s.is_object()).cloned(),
        ops: o.get("ops").and_then(Value::as_u64),
        usage: Usage {
            minor_faults: o.get("minor_faults").and_then(Value::as_u64),
            major_faults: o.get("major_faults").and_then(Value::as_u64),
            user_s: o.get("user_s").and_then(Value::as_f64),
            sys_s: o.get("sys_s").and_then(Value::as_f64),
        },
    })
}

/// All runs of one (workload, allocator).
#[derive(Clone, Debug, PartialEq)]
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
    /// Value per round (None: the run failed).
    pub runs: Vec<Option<f64>>,
    pub rss_kib: Vec<Option<u64>>,
    /// Per round: did the run meet its validity rule (mt-remote fallback rate)?
    pub valid: Vec<bool>,
    /// Per round mt-remote fallback rate (empty for other workloads).
    pub fallback_rates: Vec<Option<f64>>,
    /// Stats snapshot from the stats pass (hz3 only).
    pub stats: Option<Value>,
    /// Per round: operations counted, and the process's page faults and CPU time.
    pub ops: Vec<Option<u64>>,
    pub minor_faults: Vec<Option<u64>>,
    pub major_faults: Vec<Option<u64>>,
    pub user_s: Vec<Option<f64>>,
    pub sys_s: Vec<Option<f64>>,
    /// The workload's extra figures (the run line's `extra`), per round: e.g. threads-many's
    /// `rss_per_thread_kib`, batch-handoff's `handoffs_skipped`.
    pub extra: BTreeMap<String, Vec<Option<f64>>>,
}

impl Cell {
    /// A cell measured at `--threads sweep_threads`.
    pub fn at(workload: &str, allocator: &str, sweep_threads: u64, rounds: usize) -> Cell {
        Cell {
            workload: workload.into(),
            allocator: allocator.into(),
            threads: 0,
            sweep_threads,
            metric: String::new(),
            unit: String::new(),
            higher_is_better: true,
            runs: vec![None; rounds],
            rss_kib: vec![None; rounds],
            valid: vec![true; rounds],
            fallback_rates: Vec::new(),
            stats: None,
            ops: vec![None; rounds],
            minor_faults: vec![None; rounds],
            major_faults: vec![None; rounds],
            user_s: vec![None; rounds],
            sys_s: vec![None; rounds],
            extra: BTreeMap::new(),
        }
    }

    /// Records round `round`'s run line.
    pub fn record(&mut self, round: usize, r: &RunLine) {
        self.threads = r.threads;
        self.metric.clone_from(&r.metric);
        self.unit.clone_from(&r.unit);
        self.higher_is_better = r.higher_is_better;
        self.runs[round] = Some(r.value);
        self.rss_kib[round] = Some(r.peak_rss_kib);
        self.valid[round] = r.valid;
        if let Some(f) = r.extra.get("fallback_rate").and_then(Value::as_f64) {
            self.fallback_rates.resize(self.runs.len(), None);
            self.fallback_rates[round] = Some(f);
        }
        self.ops[round] = r.ops;
        self.minor_faults[round] = r.usage.minor_faults;
        self.major_faults[round] = r.usage.major_faults;
        self.user_s[round] = r.usage.user_s;
        self.sys_s[round] = r.usage.sys_s;
        let rounds = self.runs.len();
        for (k, v) in &r.extra {
            self.extra
                .entry(k.clone())
                .or_insert_with(|| vec![None; rounds])[round] = v.as_f64();
        }
    }

    /// Median over rounds of the workload's extra figure `k`.
    pub fn extra_median(&self, k: &str) -> Option<f64> {
        median(
            &self
                .extra
                .get(k)?
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>(),
        )
    }

    /// Per round: minor page faults per 1000 operations (None when unknown or no operations).
    pub fn minor_faults_per_kop_runs(&self) -> Vec<Option<f64>> {
        self.minor_faults
            .iter()
            .zip(&self.ops)
            .map(|(f, o)| match (f, o) {
                (Some(f), Some(o)) if *o > 0 => Some(*f as f64 * 1000.0 / *o as f64),
                _ => None,
            })
            .collect()
    }

    /// Median over rounds of minor faults per 1000 operations.
    pub fn minor_faults_per_kop(&self) -> Option<f64> {
        median(
            &self
                .minor_faults_per_kop_runs()
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        )
    }

    /// Median over rounds of the process's system time, in seconds.
    pub fn sys_s_median(&self) -> Option<f64> {
        median(&self.sys_s.iter().flatten().copied().collect::<Vec<_>>())
    }

    pub fn values(&self) -> Vec<f64> {
        self.runs.iter().flatten().copied().collect()
    }

    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.values())
    }

    pub fn peak_rss_median(&self) -> Option<f64> {
        median(
            &self
                .rss_kib
                .iter()
                .flatten()
                .map(|&k| k as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// Rounds whose run completed but broke the validity rule.
    pub fn invalid_runs(&self) -> usize {
        self.runs
            .iter()
            .zip(&self.valid)
            .filter(|(r, v)| r.is_some() && !**v)
            .count()
    }

    pub fn failed_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.is_none()).count()
    }
}

/// The machine a matrix ran on. `cpus`, `cpu_model` (the model name) and `kernel` were always
/// recorded; the rest (issue 16: enough to tell two machines of the "same" type apart) was added
/// later and is `None` when unknown, including for every file written before.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// CPUs this process may run on (`available_parallelism`: affinity and cgroup aware).
    pub cpus: u64,
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    pub kernel: String,
    /// `vendor_id` (GenuineIntel, AuthenticAMD, ...).
    pub cpu_vendor: Option<String>,
    /// `cpu family`, `model`, `stepping`.
    pub cpu_family: Option<u64>,
    pub cpu_model_number: Option<u64>,
    pub cpu_stepping: Option<u64>,
    /// `cpu MHz` of the first processor when the matrix finished (it moves with frequency
    /// scaling; informative only).
    pub cpu_mhz: Option<f64>,
    /// Physical cores (distinct `physical id`/`core id` pairs) and logical processors.
    pub cpu_cores: Option<u64>,
    pub logical_cpus: Option<u64>,
    /// Transparent huge pages: the selected mode of /sys/kernel/mm/transparent_hugepage/enabled.
    pub thp: Option<String>,
    /// `rustc -V` of the toolchain that built the bench binaries.
    pub rustc: Option<String>,
}

/// The fields of /proc/cpuinfo that name a CPU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuInfo {
    pub vendor: Option<String>,
    pub family: Option<u64>,
    pub model: Option<u64>,
    pub stepping: Option<u64>,
    pub model_name: Option<String>,
    pub mhz: Option<f64>,
    pub cores: Option<u64>,
    pub logical: Option<u64>,
}

/// Parses /proc/cpuinfo: the first processor's identity, the number of processors and of
/// physical cores (distinct `physical id`/`core id` pairs; else `cpu cores` × sockets).
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut logical = 0u64;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let (mut phys, mut cores_field): (Option<String>, Option<u64>) = (None, None);
    let mut sockets: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => {
                logical += 1;
                phys = None;
            }
            "vendor_id" if info.vendor.is_none() => info.vendor = Some(v.to_string()),
            "cpu family" if info.family.is_none() => info.family = v.parse().ok(),
            "model" if info.model.is_none() => info.model = v.parse().ok(),
            "stepping" if info.stepping.is_none() => info.stepping = v.parse().ok(),
            "model name" if info.model_name.is_none() => info.model_name = Some(v.to_string()),
            "cpu MHz" if info.mhz.is_none() => info.mhz = v.parse().ok(),
            "cpu cores" => cores_field = v.parse().ok(),
            "physical id" => {
                if !sockets.iter().any(|s| s == v) {
                    sockets.push(v.to_string());
                }
                phys = Some(v.to_string());
            }
            "core id" => {
                let pair = (phys.clone().unwrap_or_default(), v.to_string());
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
            _ => {}
        }
    }
    info.logical = (logical > 0).then_some(logical);
    info.cores = if !pairs.is_empty() {
        Some(pairs.len() as u64)
    } else {
        cores_field.map(|c| c * (sockets.len().max(1) as u64))
    };
    info
}

/// The selected mode of a /sys/kernel/mm/transparent_hugepage/* file: `always [madvise] never`
/// → `madvise`.
pub fn parse_thp(text: &str) -> Option<String> {
    let start = text.find('[')? + 1;
    let end = text[start..].find(']')? + start;
    Some(text[start..end].to_string())
}

/// What the gate may do with two files' machines.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuMatch {
    /// Same vendor, family, model and model name.
    Same,
    /// Same CPU model, with a remark (a different stepping).
    SameWithNote(String),
    /// Different CPU models: the gate refuses unless told otherwise.
    Different(String),
    /// One file does not name its CPU beyond the model name (written before issue 16): the gate
    /// compares and warns.
    Unknown(String),
}

impl Machine {
    pub fn detect() -> Machine {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1);
        let info = std::fs::read_to_string("/proc/cpuinfo")
            .map(|s| parse_cpuinfo(&s))
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .ok()
            .and_then(|s| parse_thp(&s));
        let rustc =
            std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
                .arg("-V")
                .current_dir(crate::runner::workspace_root())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|s| !s.is_empty());
        Machine {
            cpus,
            cpu_model: info.model_name.clone().unwrap_or_else(|| "unknown".into()),
            kernel,
            cpu_vendor: info.vendor,
            cpu_family: info.family,
            cpu_model_number: info.model,
            cpu_stepping: info.stepping,
            cpu_mhz: info.mhz,
            cpu_cores: info.cores,
            logical_cpus: info.logical,
            thp,
            rustc,
        }
    }

    /// `GenuineIntel family 6 model 207 stepping 2`, or `None` when not recorded.
    pub fn cpu_id(&self) -> Option<String> {
        let (v, f, m) = (
            self.cpu_vendor.as_ref()?,
            self.cpu_family?,
            self.cpu_model_number?,
        );
        let stepping = self
            .cpu_stepping
            .map_or(String::new(), |s| format!(" stepping {s}"));
        Some(format!("{v} family {f} model {m}{stepping}"))
    }

    /// One line naming the machine, for the headers of the tables and the chart.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.cpu_model.clone()];
        if let Some(id) = self.cpu_id() {
            parts.push(id);
        }
        if let Some(mhz) = self.cpu_mhz {
            parts.push(format!("{mhz:.0} MHz"));
        }
        parts.push(match self.cpu_cores {
            Some(c) => format!(
                "{} CPUs ({c} cores{})",
                self.cpus,
                self.logical_cpus
                    .map_or(String::new(), |l| format!(", {l} logical"))
            ),
            None => format!("{} CPUs", self.cpus),
        });
        if let Some(t) = &self.thp {
            parts.push(format!("THP {t}"));
        }
        parts.push(format!("kernel {}", self.kernel));
        if let Some(r) = &self.rustc {
            parts.push(r.clone());
        }
        parts.join(" · ")
    }

    /// Whether results measured on `self` (a baseline) and on `other` compare (issue 16: the same
    /// code runs at very different speeds on CPUs of one family, and ratios move with them).
    pub fn compare_cpu(&self, other: &Machine) -> CpuMatch {
        let (Some(a), Some(b)) = (self.cpu_id_key(), other.cpu_id_key()) else {
            let which = if self.cpu_id_key().is_none() {
                "the baseline"
            } else {
                "the current file"
            };
            let names = if self.cpu_model == other.cpu_model {
                format!("both name \"{}\"", self.cpu_model)
            } else {
                format!(
                    "baseline \"{}\", current \"{}\"",
                    self.cpu_model, other.cpu_model
                )
            };
            return CpuMatch::Unknown(format!(
                "{which} does not record its CPU's vendor/family/model (written before machine identity was recorded; {names}): \
                 compared anyway, but the ratios may come from different CPUs"
            ));
        };
        if a != b || self.cpu_model != other.cpu_model {
            return CpuMatch::Different(format!(
                "the baseline was measured on {} ({}) and the current results on {} ({})",
                self.cpu_model,
                self.cpu_id().unwrap_or_default(),
                other.cpu_model,
                other.cpu_id().unwrap_or_default()
            ));
        }
        if self.cpu_stepping != other.cpu_stepping {
            return CpuMatch::SameWithNote(format!(
                "same CPU model, different stepping ({} vs {})",
                self.cpu_stepping.map_or("?".into(), |s| s.to_string()),
                other.cpu_stepping.map_or("?".into(), |s| s.to_string())
            ));
        }
        CpuMatch::Same
    }

    fn cpu_id_key(&self) -> Option<(String, u64, u64)> {
        Some((
            self.cpu_vendor.clone()?,
            self.cpu_family?,
            self.cpu_model_number?,
        ))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "cpus": self.cpus,
            "cpu_model": self.cpu_model,
            "kernel": self.kernel,
            "cpu_vendor": self.cpu_vendor,
            "cpu_family": self.cpu_family,
            "cpu_model_number": self.cpu_model_number,
            "cpu_stepping": self.cpu_stepping,
            "cpu_mhz": self.cpu_mhz,
            "cpu_cores": self.cpu_cores,
            "logical_cpus": self.logical_cpus,
            "thp": self.thp,
            "rustc": self.rustc,
        })
    }

    fn from_json(m: &Map<String, Value>) -> Result<Machine, String> {
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(String::from);
        let u = |k: &str| m.get(k).and_then(Value::as_u64);
        Ok(Machine {
            cpus: get_u64(m, "cpus")?,
            cpu_model: get_str(m, "cpu_model")?,
            kernel: get_str(m, "kernel")?,
            cpu_vendor: s("cpu_vendor"),
            cpu_family: u("cpu_family"),
            cpu_model_number: u("cpu_model_number"),
            cpu_stepping: u("cpu_stepping"),
            cpu_mhz: m.get("cpu_mhz").and_then(Value::as_f64),
            cpu_cores: u("cpu_cores"),
            logical_cpus: u("logical_cpus"),
            thp: s("thp"),
            rustc: s("rustc"),
        })
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

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub runs: u64,
    pub duration_ms: u64,
    /// The (first) `--threads` value.
    pub threads: u64,
    /// Every `--threads` value of a sweep, ascending (`[threads]` without a sweep).
    pub threads_sweep: Vec<u64>,
    /// "quick" or "full".
    pub mode: String,
    pub allocators: Vec<String>,
    pub workloads: Vec<String>,
    /// Free-form provenance (git commit, timestamps, toolchain), kept as given.
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub machine: Machine,
    pub config: Config,
    pub cells: Vec<Cell>,
    pub failures: Vec<String>,
}

/// References against which per-round ratios are stored in JSON and shown in tables.
pub const RATIO_REFERENCES: &[&str] = &["mimalloc", "system", "hz3-a"];

impl Matrix {
    /// The cell of (workload, allocator): in a sweep, the one at the smallest thread count (use
    /// [`Matrix::at_threads`] for one count's view, where it is unique).
    pub fn cell(&self, workload: &str, allocator: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.allocator == allocator)
    }

    /// The cell of (workload, allocator) measured at `--threads t`.
    pub fn cell_at(&self, workload: &str, allocator: &str, t: u64) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.allocator == allocator && c.sweep_threads == t)
    }

    /// Summary of `allocator`'s per-round ratios to `reference` on `workload`.
    pub fn ratio(&self, workload: &str, allocator: &str, reference: &str) -> Option<Summary> {
        let a = self.cell(workload, allocator)?;
        self.ratio_at(workload, allocator, reference, a.sweep_threads)
    }

    /// [`Matrix::ratio`] at `--threads t` (both cells measured at that count, in the same rounds).
    pub fn ratio_at(
        &self,
        workload: &str,
        allocator: &str,
        reference: &str,
        t: u64,
    ) -> Option<Summary> {
        let a = self.cell_at(workload, allocator, t)?;
        let r = self.cell_at(workload, reference, t)?;
        ratio_summary(&a.runs, &r.runs, a.higher_is_better)
    }

    /// The thread counts measured, ascending (one unless the run was a sweep).
    pub fn thread_counts(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.cells.iter().map(|c| c.sweep_threads).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn is_sweep(&self) -> bool {
        self.thread_counts().len() > 1
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
        self.config
            .extra
            .get("notes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn workloads(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in &self.cells {
            if !v.contains(&c.workload) {
                v.push(c.workload.clone());
            }
        }
        v
    }

    pub fn allocators(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in &self.cells {
            if !v.contains(&c.allocator) {
                v.push(c.allocator.clone());
            }
        }
        v
    }

    pub fn to_json(&self) -> Value {
        let summary_json = |s: Option<Summary>| match s {
            Some(s) => {
                json!({"median": s.median, "min": s.min, "max": s.max, "cv": s.cv, "rounds": s.n})
            }
            None => Value::Null,
        };
        let results: Vec<Value> = self
            .cells
            .iter()
            .map(|c| {
                let s = c.summary();
                let mut o = Map::new();
                o.insert("workload".into(), json!(c.workload));
                o.insert("allocator".into(), json!(c.allocator));
                o.insert("threads".into(), json!(c.threads));
                o.insert("sweep_threads".into(), json!(c.sweep_threads));
                o.insert("metric".into(), json!(c.metric));
                o.insert("unit".into(), json!(c.unit));
                o.insert("higher_is_better".into(), json!(c.higher_is_better));
                o.insert("median".into(), json!(s.map(|s| s.median)));
                o.insert("min".into(), json!(s.map(|s| s.min)));
                o.insert("max".into(), json!(s.map(|s| s.max)));
                o.insert("runs".into(), json!(c.runs));
                o.insert("peak_rss_kib".into(), json!(c.peak_rss_median()));
                if crate::strategies::is_hz3(&c.allocator) || c.stats.is_some() {
                    o.insert("stats".into(), c.stats.clone().unwrap_or_else(|| json!({})));
                }
                let mut ratios = Map::new();
                for r in RATIO_REFERENCES {
                    if *r != c.allocator && self.cell_at(&c.workload, r, c.sweep_threads).is_some()
                    {
                        ratios.insert(
                            r.to_string(),
                            summary_json(self.ratio_at(
                                &c.workload,
                                &c.allocator,
                                r,
                                c.sweep_threads,
                            )),
                        );
                    }
                }
                o.insert("ratios".into(), Value::Object(ratios));
                o.insert("cv".into(), json!(s.map(|s| s.cv)));
                o.insert("peak_rss_kib_runs".into(), json!(c.rss_kib));
                o.insert("valid_runs".into(), json!(c.valid));
                o.insert("invalid_runs".into(), json!(c.invalid_runs()));
                if !c.fallback_rates.is_empty() {
                    o.insert("fallback_rates".into(), json!(c.fallback_rates));
                }
                o.insert("ops_runs".into(), json!(c.ops));
                o.insert("minor_faults_runs".into(), json!(c.minor_faults));
                o.insert("major_faults_runs".into(), json!(c.major_faults));
                o.insert("user_s_runs".into(), json!(c.user_s));
                o.insert("sys_s_runs".into(), json!(c.sys_s));
                o.insert(
                    "minor_faults_per_kop".into(),
                    json!(c.minor_faults_per_kop()),
                );
                o.insert("sys_s".into(), json!(c.sys_s_median()));
                if !c.extra.is_empty() {
                    o.insert("extra_runs".into(), json!(c.extra));
                }
                Value::Object(o)
            })
            .collect();
        let mut config = self.config.extra.clone();
        config.insert("runs".into(), json!(self.config.runs));
        config.insert("duration_ms".into(), json!(self.config.duration_ms));
        config.insert("threads".into(), json!(self.config.threads));
        config.insert("threads_sweep".into(), json!(self.config.threads_sweep));
        config.insert("mode".into(), json!(self.config.mode));
        config.insert("quick".into(), json!(self.config.mode == "quick"));
        config.insert("allocators".into(), json!(self.config.allocators));
        config.insert("workloads".into(), json!(self.config.workloads));
        json!({
            "schema": SCHEMA,
            "machine": self.machine.to_json(),
            "config": config,
            "results": results,
            "failures": self.failures,
        })
    }

    /// Validates `v` against hz3-bench/1 and reads it back.
    pub fn from_json(v: &Value) -> Result<Matrix, String> {
        validate(v).map_err(|errs| errs.join("; "))?;
        let o = v.as_object().unwrap();
        let m = o["machine"].as_object().unwrap();
        let machine = Machine::from_json(m)?;
        let c = o["config"].as_object().unwrap();
        let names = |k: &str| -> Vec<String> {
            c.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut extra = c.clone();
        for k in [
            "runs",
            "duration_ms",
            "threads",
            "threads_sweep",
            "mode",
            "quick",
            "allocators",
            "workloads",
        ] {
            extra.remove(k);
        }
        let threads = get_u64(c, "threads")?;
        let threads_sweep = c
            .get("threads_sweep")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_else(|| vec![threads]);
        let config = Config {
            runs: get_u64(c, "runs")?,
            duration_ms: get_u64(c, "duration_ms")?,
            threads,
            threads_sweep,
            mode: get_str(c, "mode")?,
            allocators: names("allocators"),
            workloads: names("workloads"),
            extra,
        };
        let mut cells = Vec::new();
        for r in o["results"].as_array().unwrap() {
            let r = r.as_object().unwrap();
            let runs: Vec<Option<f64>> = r["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(opt_f64)
                .collect::<Result<_, _>>()?;
            let n = runs.len();
            let rss_kib = match r.get("peak_rss_kib_runs").and_then(Value::as_array) {
                Some(a) => a.iter().map(Value::as_u64).collect(),
                None => vec![
                    r.get("peak_rss_kib")
                        .and_then(Value::as_f64)
                        .map(|x| x as u64);
                    n
                ],
            };
            let valid = match r.get("valid_runs").and_then(Value::as_array) {
                Some(a) => a.iter().map(|b| b.as_bool().unwrap_or(true)).collect(),
                None => vec![true; n],
            };
            let fallback_rates = r
                .get("fallback_rates")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Value::as_f64).collect())
                .unwrap_or_default();
            // Added later: a file without them reads as "unknown" in every round.
            let per_round = |k: &str| -> Vec<Option<f64>> {
                r.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(Value::as_f64).collect())
                    .unwrap_or_else(|| vec![None; n])
            };
            let per_round_u64 = |k: &str| -> Vec<Option<u64>> {
                r.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(Value::as_u64).collect())
                    .unwrap_or_else(|| vec![None; n])
            };
            cells.push(Cell {
                workload: get_str(r, "workload")?,
                allocator: get_str(r, "allocator")?,
                threads: get_u64(r, "threads")?,
                sweep_threads: r
                    .get("sweep_threads")
                    .and_then(Value::as_u64)
                    .unwrap_or(threads),
                metric: get_str(r, "metric")?,
                unit: get_str(r, "unit")?,
                higher_is_better: get_bool(r, "higher_is_better")?,
                runs,
                rss_kib,
                valid,
                fallback_rates,
                stats: r
                    .get("stats")
                    .cloned()
                    .filter(|s| s.as_object().is_some_and(|m| !m.is_empty())),
                ops: per_round_u64("ops_runs"),
                minor_faults: per_round_u64("minor_faults_runs"),
                major_faults: per_round_u64("major_faults_runs"),
                user_s: per_round("user_s_runs"),
                sys_s: per_round("sys_s_runs"),
                extra: r
                    .get("extra_runs")
                    .and_then(Value::as_object)
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_array()
                                        .map(|a| a.iter().map(Value::as_f64).collect())
                                        .unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        let failures = o
            .get("failures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Matrix {
            machine,
            config,
            cells,
            failures,
        })
    }
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
            if get_u64(m, "cpus").map_or(true, |c| c == 0) {
                errs.push("machine.cpus must be a positive integer".into());
            }
            for k in ["cpu_model", "kernel"] {
                if let Err(e) = get_str(m, k) {
                    errs.push(format!("machine: {e}"));
                }
            }
            // Added later (issue 16): absent, null, or of the right type.
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

/// Reads and validates a results file, with messages that name the file.
pub fn load(path: &std::path::Path) -> Result<Matrix, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    Matrix::from_json(&v)
        .map_err(|e| format!("{} does not follow schema {SCHEMA}: {e}", path.display()))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// The machine of [`synthetic`] matrices.
    pub fn test_machine() -> Machine {
        Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            kernel: "6.1.0".into(),
            cpu_vendor: Some("GenuineTest".into()),
            cpu_family: Some(25),
            cpu_model_number: Some(17),
            cpu_stepping: Some(1),
            cpu_mhz: Some(2600.0),
            cpu_cores: Some(2),
            logical_cpus: Some(2),
            thp: Some("madvise".into()),
            rustc: Some("rustc 1.95.0".into()),
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
            machine: test_machine(),
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
        m.cells[0].rss_kib[1] = None;
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
        assert_eq!(
            c.minor_faults_per_kop_runs(),
            vec![Some(500.0), Some(250.5), Some(502.0 / 3.0)]
        );
        assert_eq!(c.minor_faults_per_kop(), Some(250.5));
        assert_eq!(c.sys_s_median(), Some(0.25));
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
        assert_eq!(m.cells[0].extra_median("rss_per_thread_kib"), Some(20.0));
        assert_eq!(m.cells[0].extra_median("nope"), None);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            Matrix::from_json(&serde_json::from_str(&text).unwrap()).unwrap(),
            m
        );

        // A failed round is null in every per-round array.
        let mut m2 = m.clone();
        m2.cells[0].minor_faults[1] = None;
        m2.cells[0].ops[1] = None;
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
        assert_eq!(c.minor_faults, vec![None, None]);
        assert_eq!(c.ops, vec![None, None]);
        assert_eq!(c.minor_faults_per_kop(), None);
        assert_eq!(c.sys_s_median(), None);
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
    fn parses_cpuinfo_and_thp() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9B14\n\
                       stepping\t: 1\ncpu MHz\t\t: 2599.998\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 1\n\n\
                       processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9B14\n\
                       stepping\t: 1\ncpu MHz\t\t: 2600.5\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 1\n";
        let i = parse_cpuinfo(cpuinfo);
        assert_eq!(i.vendor.as_deref(), Some("AuthenticAMD"));
        assert_eq!(
            (i.family, i.model, i.stepping),
            (Some(25), Some(17), Some(1))
        );
        assert_eq!(i.model_name.as_deref(), Some("AMD EPYC 9B14"));
        assert_eq!(i.mhz, Some(2599.998));
        assert_eq!(
            (i.cores, i.logical),
            (Some(1), Some(2)),
            "two hyperthreads of one core"
        );
        // Without physical/core ids (some VMs): `cpu cores`.
        let i = parse_cpuinfo("processor : 0\ncpu cores : 4\nprocessor : 1\n");
        assert_eq!((i.cores, i.logical, i.vendor), (Some(4), Some(2), None));
        assert_eq!(parse_cpuinfo(""), CpuInfo::default());
        assert_eq!(
            parse_thp("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(
            parse_thp("[always] madvise never").as_deref(),
            Some("always")
        );
        assert_eq!(parse_thp("garbage"), None);
        // This machine: whatever it is, the detection does not fail and names the kernel.
        let here = Machine::detect();
        assert!(here.cpus > 0 && !here.kernel.is_empty());
    }

    #[test]
    fn cpu_comparison() {
        let a = test_machine();
        assert_eq!(a.compare_cpu(&a.clone()), CpuMatch::Same);
        let mut mhz = a.clone();
        mhz.cpu_mhz = Some(3500.0);
        mhz.kernel = "6.9".into();
        assert_eq!(
            a.compare_cpu(&mhz),
            CpuMatch::Same,
            "clock, kernel, THP do not make another CPU"
        );
        let mut stepping = a.clone();
        stepping.cpu_stepping = Some(2);
        assert!(
            matches!(a.compare_cpu(&stepping), CpuMatch::SameWithNote(n) if n.contains("stepping"))
        );
        let mut other = a.clone();
        other.cpu_model_number = Some(1);
        other.cpu_model = "Other CPU".into();
        match a.compare_cpu(&other) {
            CpuMatch::Different(msg) => assert!(
                msg.contains("Test CPU") && msg.contains("Other CPU") && msg.contains("model 1"),
                "{msg}"
            ),
            x => panic!("{x:?}"),
        }
        let old = Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            kernel: "6.1.0".into(),
            ..Machine::default()
        };
        assert!(matches!(old.compare_cpu(&a), CpuMatch::Unknown(m) if m.contains("the baseline")));
        assert!(
            matches!(a.compare_cpu(&old), CpuMatch::Unknown(m) if m.contains("the current file"))
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
        assert!(m.is_sweep());
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
        assert!(!four.is_sweep());
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
