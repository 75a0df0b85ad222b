//! The one JSON line a bench binary prints, and the hz3 stats snapshot as JSON.
//!
//! Hand-written (no serde) so the bench binaries stay small and quick to build; the output is
//! parsed by xtask with serde_json, and the tests round-trip it.

use std::fmt::Write as _;

use crate::rusage::Usage;
use crate::workloads::{Outcome, Workload};

/// Schema tag of a single run's line. `minor_faults`, `major_faults`, `user_s` and `sys_s` were
/// added later (additive: the tag did not change, and readers treat them as optional).
pub const RUN_SCHEMA: &str = "hz3-bench-run/1";

/// Writes `s` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a finite number, or `null` for NaN and infinities (which JSON cannot carry).
pub fn json_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        // `{:?}` always keeps a decimal point or exponent and round-trips exactly.
        let _ = write!(out, "{v:?}");
    } else {
        out.push_str("null");
    }
}

/// Everything a run reports.
pub struct RunReport<'a> {
    pub allocator: &'a str,
    pub workload: Workload,
    pub threads: usize,
    pub outcome: &'a Outcome,
    pub peak_rss_kib: u64,
    /// `getrusage(RUSAGE_SELF)` at the end of the run (the whole process); `None` writes `null`s.
    pub usage: Option<Usage>,
    /// A JSON object (already serialised), or `None` for `null`.
    pub stats_json: Option<String>,
}

impl RunReport<'_> {
    /// The single JSON line (no trailing newline).
    pub fn to_json(&self) -> String {
        let (metric, unit) = self.workload.metric();
        let mut o = String::with_capacity(512);
        o.push('{');
        o.push_str("\"schema\":");
        json_str(&mut o, RUN_SCHEMA);
        o.push_str(",\"allocator\":");
        json_str(&mut o, self.allocator);
        o.push_str(",\"workload\":");
        json_str(&mut o, self.workload.name());
        // `threads` as the workload reports it (see `Workload::reported_threads`): single-thread
        // workloads say 1 whatever they were given.
        let threads = if self.workload.is_multithreaded() || self.workload == Workload::ThreadsMany
        {
            self.threads
        } else {
            1
        };
        let _ = write!(o, ",\"threads\":{threads}");
        o.push_str(",\"metric\":");
        json_str(&mut o, metric);
        o.push_str(",\"unit\":");
        json_str(&mut o, unit);
        o.push_str(",\"higher_is_better\":true,\"value\":");
        json_f64(&mut o, self.outcome.value);
        let _ = write!(o, ",\"ops\":{}", self.outcome.ops);
        o.push_str(",\"elapsed_s\":");
        json_f64(&mut o, self.outcome.elapsed.as_secs_f64());
        let _ = write!(o, ",\"peak_rss_kib\":{}", self.peak_rss_kib);
        match self.usage {
            Some(u) => {
                let _ = write!(
                    o,
                    ",\"minor_faults\":{},\"major_faults\":{}",
                    u.minor_faults, u.major_faults
                );
                o.push_str(",\"user_s\":");
                json_f64(&mut o, u.user_s);
                o.push_str(",\"sys_s\":");
                json_f64(&mut o, u.sys_s);
            }
            None => o.push_str(
                ",\"minor_faults\":null,\"major_faults\":null,\"user_s\":null,\"sys_s\":null",
            ),
        }
        let _ = write!(o, ",\"valid\":{}", self.outcome.valid);
        o.push_str(",\"extra\":{");
        for (i, (k, v)) in self.outcome.extra.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, k);
            o.push(':');
            json_f64(&mut o, *v);
        }
        o.push_str("},\"stats\":");
        match &self.stats_json {
            Some(s) => o.push_str(s),
            None => o.push_str("null"),
        }
        o.push('}');
        o
    }
}

/// Parses the `Debug` form of `hz3_alloc::Stats` (`Stats { a: 1, b: 2 }`) into
/// `(field, value)` pairs. Going through `Debug` means counters added to `Stats` later show up
/// without a change here.
pub fn parse_stats_debug(s: &str) -> Option<Vec<(String, u64)>> {
    let s = s.trim();
    let open = s.find('{')?;
    let body = s[open + 1..].trim_end().strip_suffix('}')?;
    let mut out = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once(':')?;
        out.push((k.trim().to_string(), v.trim().parse().ok()?));
    }
    Some(out)
}

/// The derived figures of the S121 stats lines, computed from the raw counters:
/// `objects_per_drained_page`, `empty_to_nonempty_share`, `rmw_per_remote_free` (`None` when a
/// needed counter is missing or its denominator is zero).
pub fn derived_stats(fields: &[(String, u64)]) -> Vec<(&'static str, Option<f64>)> {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|&(_, v)| v as f64);
    let ratio = |num: Option<f64>, den: Option<f64>| match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    };
    let rmws = match (
        get("head_cas"),
        get("state_swaps"),
        get("pageq_cas"),
        get("cas_retries"),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => Some(a + b + c + d),
        _ => None,
    };
    vec![
        (
            "objects_per_drained_page",
            ratio(get("drained_objects"), get("drained_pages")),
        ),
        (
            "empty_to_nonempty_share",
            ratio(get("empty_to_nonempty"), get("remote_frees")),
        ),
        ("rmw_per_remote_free", ratio(rmws, get("remote_frees"))),
    ]
}

/// The stats snapshot as a JSON object: every raw counter, plus a `derived` object.
/// Falls back to `{"raw": "<debug text>"}` when the text does not parse.
pub fn stats_json_from_debug(debug: &str) -> String {
    let mut o = String::with_capacity(512);
    match parse_stats_debug(debug) {
        Some(fields) => {
            o.push('{');
            for (k, v) in &fields {
                json_str(&mut o, k);
                let _ = write!(o, ":{v},");
            }
            o.push_str("\"derived\":{");
            for (i, (k, v)) in derived_stats(&fields).iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json_str(&mut o, k);
                o.push(':');
                match v {
                    Some(v) => json_f64(&mut o, *v),
                    None => o.push_str("null"),
                }
            }
            o.push_str("}}");
        }
        None => {
            o.push_str("{\"raw\":");
            json_str(&mut o, debug);
            o.push('}');
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stats_debug_and_derives() {
        // The Debug form of hz3_alloc::Stats (written out, so the test does not depend on
        // which fields the struct has today).
        let stats = "Stats { remote_frees: 100, head_cas: 100, state_swaps: 84, pageq_cas: 84, \
                     cas_retries: 2, empty_to_nonempty: 84, drained_pages: 50, drained_objects: 65 }";
        let fields = parse_stats_debug(stats).unwrap();
        assert!(fields.iter().any(|(k, v)| k == "remote_frees" && *v == 100));
        let d = derived_stats(&fields);
        assert_eq!(d[0], ("objects_per_drained_page", Some(1.3)));
        assert_eq!(d[1], ("empty_to_nonempty_share", Some(0.84)));
        assert_eq!(d[2], ("rmw_per_remote_free", Some(2.7)));
        let json = stats_json_from_debug(stats);
        assert!(json.starts_with("{\"remote_frees\":100,"), "{json}");
        assert!(
            json.contains("\"derived\":{\"objects_per_drained_page\":1.3,"),
            "{json}"
        );
    }

    #[test]
    fn the_real_stats_type_parses() {
        let fields = parse_stats_debug(&format!("{:?}", hz3_alloc::Stats::default())).unwrap();
        assert!(fields.iter().any(|(k, _)| k == "remote_frees"));
    }

    #[test]
    fn zero_denominators_give_null() {
        let json = stats_json_from_debug(&format!("{:?}", hz3_alloc::Stats::default()));
        assert!(json.contains("\"rmw_per_remote_free\":null"), "{json}");
    }

    #[test]
    fn unparsable_stats_are_kept_raw() {
        assert_eq!(
            stats_json_from_debug("weird \"x\""),
            "{\"raw\":\"weird \\\"x\\\"\"}"
        );
    }

    fn line(usage: Option<Usage>) -> serde_json::Value {
        let outcome = Outcome {
            value: 10.0,
            ops: 5,
            elapsed: std::time::Duration::from_millis(500),
            valid: true,
            extra: vec![("bytes_written", 3.0)],
        };
        let r = RunReport {
            allocator: "system",
            workload: Workload::LargeChurn,
            threads: 2,
            outcome: &outcome,
            peak_rss_kib: 7,
            usage,
            stats_json: None,
        };
        serde_json::from_str(&r.to_json()).unwrap()
    }

    #[test]
    fn usage_fields_round_trip() {
        let v = line(Some(Usage {
            minor_faults: 1234,
            major_faults: 1,
            user_s: 0.25,
            sys_s: 0.5,
        }));
        assert_eq!(v["schema"], RUN_SCHEMA);
        assert_eq!(v["workload"], "large-churn");
        assert_eq!(v["unit"], "replacements/s");
        assert_eq!(v["threads"], 1, "single-thread workload");
        assert_eq!(v["minor_faults"], 1234);
        assert_eq!(v["major_faults"], 1);
        assert_eq!(v["user_s"], 0.25);
        assert_eq!(v["sys_s"], 0.5);
        assert_eq!(v["extra"]["bytes_written"], 3.0);
        let v = line(None);
        for k in ["minor_faults", "major_faults", "user_s", "sys_s"] {
            assert!(v[k].is_null(), "{k}");
        }
    }

    #[test]
    fn numbers_and_strings() {
        let mut s = String::new();
        json_f64(&mut s, 1e21);
        s.push(' ');
        json_f64(&mut s, f64::NAN);
        s.push(' ');
        json_f64(&mut s, 3.0);
        s.push(' ');
        json_str(&mut s, "a\"b\\c\u{1}");
        assert_eq!(s, "1e21 null 3.0 \"a\\\"b\\\\c\\u0001\"");
    }
}
