//! The machine a matrix ran on: what /proc and rustc say about it, the line that names it in the
//! reports, and whether two files' machines compare.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The machine a matrix ran on. Beyond `cpus`, `cpu_model` and `kernel` (always recorded), the
/// fields tell two machines of the "same" type apart: `None` when unknown or in older files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// `cpu MHz` of the first processor at the end (moves with frequency scaling: informative).
    pub cpu_mhz: Option<f64>,
    /// Physical cores (distinct `physical id`/`core id` pairs, else `cpu cores` × sockets).
    pub cpu_cores: Option<u64>,
    pub logical_cpus: Option<u64>,
    /// Transparent huge pages: the selected mode of /sys/kernel/mm/transparent_hugepage/enabled.
    pub thp: Option<String>,
    /// `rustc -V` of the toolchain that built the bench binaries.
    pub rustc: Option<String>,
}

/// Parses /proc/cpuinfo into the `cpu_*` fields of a [`Machine`] (the others left default).
pub fn parse_cpuinfo(text: &str) -> Machine {
    let kv = text.lines().filter_map(|l| l.split_once(':'));
    let fields: Vec<(&str, &str)> = kv.map(|(k, v)| (k.trim(), v.trim())).collect();
    let values = |key: &'static str| fields.iter().filter(move |f| f.0 == key).map(|f| f.1);
    let num = |key| values(key).find_map(|v| v.parse().ok());
    // The (physical id, core id) pairs, the physical id reset by each processor.
    let (mut phys, mut pairs) = ("", HashSet::new());
    for &(k, v) in &fields {
        match k {
            "processor" => phys = "",
            "physical id" => phys = v,
            "core id" => _ = pairs.insert((phys, v)),
            _ => {}
        }
    }
    let sockets = values("physical id").collect::<HashSet<_>>().len().max(1) as u64;
    let cores_field: Option<u64> = values("cpu cores").next_back().and_then(|v| v.parse().ok());
    let model = values("model name").find(|v| !v.is_empty());
    Machine {
        cpu_vendor: values("vendor_id").next().map(String::from),
        cpu_family: num("cpu family"),
        cpu_model_number: num("model"),
        cpu_stepping: num("stepping"),
        cpu_model: model.unwrap_or("").into(),
        cpu_mhz: values("cpu MHz").find_map(|v| v.parse().ok()),
        logical_cpus: Some(values("processor").count() as u64).filter(|&n| n > 0),
        cpu_cores: match pairs.len() {
            0 => cores_field.map(|c| c * sockets),
            n => Some(n as u64),
        },
        ..Machine::default()
    }
}

/// The selected mode of a transparent_hugepage file: `always [madvise] never` → `madvise`.
pub fn parse_thp(text: &str) -> Option<String> {
    let (_, rest) = text.split_once('[')?;
    Some(rest.split_once(']')?.0.to_string())
}

impl Machine {
    pub fn detect() -> Machine {
        let read = |path| std::fs::read_to_string(path).ok();
        let mut m = read("/proc/cpuinfo").map_or_else(Machine::default, |s| parse_cpuinfo(&s));
        if m.cpu_model.is_empty() {
            m.cpu_model = "unknown".into();
        }
        m.cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        m.kernel = read("/proc/sys/kernel/osrelease").map_or("unknown".into(), |s| s.trim().into());
        m.thp = read("/sys/kernel/mm/transparent_hugepage/enabled").and_then(|s| parse_thp(&s));
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        m.rustc = crate::runner::stdout_of(&rustc, &["-V"], Some(&crate::paths::workspace_root()));
        m
    }

    /// `GenuineIntel family 6 model 207 stepping 2`, or `None` when not recorded.
    pub fn cpu_id(&self) -> Option<String> {
        let (v, f, m) = self.cpu_id_key()?;
        let s = self.cpu_stepping.map(|s| format!(" stepping {s}"));
        Some(format!("{v} family {f} model {m}{}", s.unwrap_or_default()))
    }

    /// One line naming the machine, for the headers of the tables and the chart.
    pub fn describe(&self) -> String {
        let cores = self.cpu_cores.map_or(String::new(), |c| {
            let logical = self.logical_cpus.map(|l| format!(", {l} logical"));
            format!(" ({c} cores{})", logical.unwrap_or_default())
        });
        let parts = [
            Some(self.cpu_model.clone()),
            self.cpu_id(),
            self.cpu_mhz.map(|mhz| format!("{mhz:.0} MHz")),
            Some(format!("{} CPUs{cores}", self.cpus)),
            self.thp.as_ref().map(|t| format!("THP {t}")),
            Some(format!("kernel {}", self.kernel)),
            self.rustc.clone(),
        ];
        parts.into_iter().flatten().collect::<Vec<_>>().join(" · ")
    }

    /// Whether results measured on `self` (a baseline) and on `other` compare (the same
    /// code runs at very different speeds on CPUs of one family, and ratios move with them):
    /// `Ok(None)` for the same CPU model, `Ok(Some(warning))` for another stepping or a file that
    /// names its CPU by model name only (an older one), `Err(why)` for different CPU models.
    pub fn compare_cpu(&self, other: &Machine) -> Result<Option<String>, String> {
        let (a, b) = (self.cpu_id_key(), other.cpu_id_key());
        if a.is_none() || b.is_none() {
            let which = a.map_or("the baseline", |_| "the current file");
            let (x, y) = (&self.cpu_model, &other.cpu_model);
            let names = match x == y {
                true => format!("both name \"{x}\""),
                false => format!("baseline \"{x}\", current \"{y}\""),
            };
            return Ok(Some(format!(
                "{which} does not record its CPU's vendor/family/model (written before machine identity was recorded; {names}): \
                 compared anyway, but the ratios may come from different CPUs"
            )));
        }
        let id = |m: &Machine| format!("{} ({})", m.cpu_model, m.cpu_id().unwrap_or_default());
        let (x, y) = (id(self), id(other));
        if a != b || self.cpu_model != other.cpu_model {
            let on = format!("the baseline was measured on {x} and the current results on {y}");
            return Err(on);
        }
        let stepping = |m: &Machine| m.cpu_stepping.map_or("?".into(), |s| s.to_string());
        let (x, y) = (stepping(self), stepping(other));
        let note = format!("same CPU model, different stepping ({x} vs {y})");
        Ok((x != y).then_some(note))
    }

    fn cpu_id_key(&self) -> Option<(&str, u64, u64)> {
        let vendor = self.cpu_vendor.as_deref()?;
        Some((vendor, self.cpu_family?, self.cpu_model_number?))
    }
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

    #[test]
    fn parses_cpuinfo_and_thp() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9B14\n\
                       stepping\t: 1\ncpu MHz\t\t: 2599.998\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 1\n\n\
                       processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9B14\n\
                       stepping\t: 1\ncpu MHz\t\t: 2600.5\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 1\n";
        let i = parse_cpuinfo(cpuinfo);
        assert_eq!(i.cpu_vendor.as_deref(), Some("AuthenticAMD"));
        assert_eq!(
            (i.cpu_family, i.cpu_model_number, i.cpu_stepping),
            (Some(25), Some(17), Some(1))
        );
        assert_eq!(i.cpu_model, "AMD EPYC 9B14");
        assert_eq!(i.cpu_mhz, Some(2599.998));
        assert_eq!(
            (i.cpu_cores, i.logical_cpus),
            (Some(1), Some(2)),
            "two hyperthreads of one core"
        );
        // Without physical/core ids (some VMs): `cpu cores`.
        let i = parse_cpuinfo("processor : 0\ncpu cores : 4\nprocessor : 1\n");
        assert_eq!(
            (i.cpu_cores, i.logical_cpus, i.cpu_vendor),
            (Some(4), Some(2), None)
        );
        assert_eq!(parse_cpuinfo(""), Machine::default());
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
        assert_eq!(a.compare_cpu(&a.clone()), Ok(None));
        let mut mhz = a.clone();
        mhz.cpu_mhz = Some(3500.0);
        mhz.kernel = "6.9".into();
        assert_eq!(
            a.compare_cpu(&mhz),
            Ok(None),
            "clock, kernel, THP do not make another CPU"
        );
        let mut stepping = a.clone();
        stepping.cpu_stepping = Some(2);
        assert!(matches!(a.compare_cpu(&stepping), Ok(Some(n)) if n.contains("stepping")));
        let mut other = a.clone();
        other.cpu_model_number = Some(1);
        other.cpu_model = "Other CPU".into();
        match a.compare_cpu(&other) {
            Err(msg) => assert!(
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
        assert!(matches!(old.compare_cpu(&a), Ok(Some(m)) if m.contains("the baseline")));
        assert!(matches!(a.compare_cpu(&old), Ok(Some(m)) if m.contains("the current file")));
    }
}
