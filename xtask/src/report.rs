//! The tables of `bench-matrix`: the seed-style xmalloc table, the full matrix, hz3 against
//! the best peer of each workload, and the stats lines of each hz3 strategy.

use serde_json::Value;

use crate::results::{Cell, Matrix};
use crate::cli::PEERS;
use crate::stats::Summary;
use crate::strategies::{is_hz3, PRELOAD};
use crate::table::{mib, pct_change, si, Table};

/// The reference of the full matrix: mimalloc when it was measured, else system.
pub fn matrix_reference(m: &Matrix) -> Option<String> {
    let allocs = m.allocators();
    ["mimalloc", "system"].iter().find(|r| allocs.iter().any(|a| a == *r)).map(|s| s.to_string())
}

/// "hz3-c-packed" → "C-packed".
fn variant(allocator: &str) -> String {
    match allocator.strip_prefix("hz3-") {
        Some(v) => {
            let mut c = v.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        }
        None => String::new(),
    }
}

/// Minor faults per 1000 operations: "—" when unknown, "<0.01" below that.
pub fn faults_per_kop(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(0.0) => "0".into(),
        Some(v) if v < 0.01 => "<0.01".into(),
        Some(v) => si(v),
    }
}

/// Seconds of system time: "—" when unknown.
pub fn sys_secs(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.2}"))
}

fn ratio_cells(s: Option<Summary>) -> [String; 3] {
    match s {
        Some(s) => [format!("{:.3}", s.median), format!("{:.3}–{:.3}", s.min, s.max), format!("{:.1}%", s.cv * 100.0)],
        None => ["—".into(), "—".into(), "—".into()],
    }
}

fn notes(c: &Cell) -> String {
    let mut n = Vec::new();
    let invalid = c.invalid_runs();
    if invalid > 0 {
        if c.fallback_rates.is_empty() {
            // size-shift: cut at the hard stop before one size cycle (see docs/bench-matrix.md).
            n.push(format!("{invalid}/{} INVALID (cut short)", c.runs.len()));
        } else {
            let worst = c.fallback_rates.iter().flatten().copied().fold(0.0f64, f64::max);
            n.push(format!("{invalid}/{} INVALID (fallback up to {:.2}%)", c.runs.len(), worst * 100.0));
        }
    }
    let failed = c.failed_runs();
    if failed > 0 {
        n.push(format!("{failed}/{} FAILED", c.runs.len()));
    }
    n.join(", ")
}

/// Allocator order of the seed table: the peers first (as in the seed, mimalloc on top), then
/// system, then every hz3 strategy.
fn seed_order(m: &Matrix) -> Vec<String> {
    let allocs = m.allocators();
    let mut v: Vec<String> = ["mimalloc", "snmalloc", "jemalloc", "system"]
        .iter()
        .filter(|a| allocs.iter().any(|x| x == *a))
        .map(|s| s.to_string())
        .collect();
    v.extend(allocs.iter().filter(|a| is_hz3(a)).cloned());
    v
}

/// Table 1: the seed's S121 table for xmalloc.
pub fn seed_table(m: &Matrix) -> Option<String> {
    let workload = "xmalloc";
    m.cell(workload, &seed_order(m).first()?.clone())?;
    let has_a = m.cell(workload, "hz3-a").is_some();
    let mut t = Table::new(&["config", "variant", "free/sec", "spread (min–max)", "±", "vs A", "vs A min..max", "CV", "notes"]);
    for a in seed_order(m) {
        let Some(c) = m.cell(workload, &a) else { continue };
        let Some(s) = c.summary() else {
            t.row(vec![a.clone(), variant(&a), "—".into(), "—".into(), "".into(), "".into(), "".into(), "".into(), notes(c)]);
            continue;
        };
        let half = if s.median > 0.0 { (s.max - s.min) / 2.0 / s.median * 100.0 } else { 0.0 };
        let vs_a = if a == "hz3-a" { None } else { m.ratio(workload, &a, "hz3-a") };
        let (va, vr, vc) = match vs_a {
            Some(r) => (pct_change(r.median), format!("{}..{}", pct_change(r.min), pct_change(r.max)), format!("{:.1}%", r.cv * 100.0)),
            None if a == "hz3-a" => ("—".into(), "".into(), "".into()),
            None => ("".into(), "".into(), "".into()),
        };
        t.row(vec![
            a.clone(),
            variant(&a),
            si(s.median),
            format!("{}–{}", si(s.min), si(s.max)),
            format!("{half:.1}%"),
            va,
            vr,
            vc,
            notes(c),
        ]);
    }
    let rounds = m.config.runs;
    let mut out = format!(
        "== S121 matrix on xmalloc ({} B objects, {t} producers + {t} consumers), free/sec: median of {rounds} rounds ==\n",
        64,
        t = m.config.threads
    );
    if !has_a {
        out.push_str("(hz3-a was not measured: no \"vs A\" column)\n");
    }
    out.push_str(&t.render());
    out.push_str("vs A = median over rounds of (free/sec ÷ hz3-a's free/sec in the same round) − 1; min..max and CV of those per-round ratios.\n");
    Some(out)
}

/// Table 2: every workload × allocator.
pub fn matrix_table(m: &Matrix) -> String {
    let reference = matrix_reference(m);
    let rname = reference.clone().unwrap_or_else(|| "—".into());
    let mut t = Table::new(&[
        "workload",
        "allocator",
        "median",
        "unit",
        "min–max",
        &format!("×{rname}"),
        "ratio min–max",
        "ratio CV",
        "peak RSS",
        "minflt/1k ops",
        "sys s",
        "notes",
    ]);
    let workloads = m.workloads();
    for (i, w) in workloads.iter().enumerate() {
        if i > 0 {
            t.separator();
        }
        for c in m.cells.iter().filter(|c| &c.workload == w) {
            let s = c.summary();
            let ratio = match &reference {
                Some(r) if *r == c.allocator => ["1".into(), "".into(), "".into()],
                Some(r) => ratio_cells(m.ratio(w, &c.allocator, r)),
                None => ratio_cells(None),
            };
            let [rm, rr, rc] = ratio;
            t.row(vec![
                w.clone(),
                c.allocator.clone(),
                s.map_or("—".into(), |s| si(s.median)),
                c.unit.clone(),
                s.map_or("—".into(), |s| format!("{}–{}", si(s.min), si(s.max))),
                rm,
                rr,
                rc,
                c.peak_rss_median().map_or("—".into(), mib),
                faults_per_kop(c.minor_faults_per_kop()),
                sys_secs(c.sys_s_median()),
                notes(c),
            ]);
        }
    }
    format!(
        "== Full matrix: median of {} rounds, {} ms per run, {} threads; ratio = median of per-round ratios to {rname} (>1 is better) ==\n{}\
         minflt/1k ops = median over rounds of the run process's minor page faults (getrusage) per 1000 operations of the unit; sys s = median system CPU seconds of the run process; both cover the whole process, setup included.\n",
        m.config.runs,
        m.config.duration_ms,
        m.config.threads,
        t.render()
    )
}

/// The best peer (mimalloc, jemalloc, snmalloc; not system) of workload `w`: the one with the
/// best median.
fn best_peer(m: &Matrix, w: &str) -> Option<String> {
    let mut best: Option<(&str, f64, bool)> = None;
    for p in PEERS {
        let Some(c) = m.cell(w, p) else { continue };
        let Some(s) = c.summary() else { continue };
        let better = match best {
            None => true,
            Some((_, b, true)) => s.median > b,
            Some((_, b, false)) => s.median < b,
        };
        if better {
            best = Some((p, s.median, c.higher_is_better));
        }
    }
    best.map(|(n, _, _)| n.to_string())
}

/// The lowest median peak RSS among the peers on workload `w`, and whose it is.
fn lowest_peer_rss(m: &Matrix, w: &str) -> Option<(String, f64)> {
    PEERS
        .iter()
        .filter_map(|p| Some((p.to_string(), m.cell(w, p)?.peak_rss_median()?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Table 3: every hz3 allocator against the best peer of each workload (per-round ratios to
/// that peer), and its peak RSS against the lowest peer's.
pub fn peer_table(m: &Matrix) -> Option<String> {
    let mut t = Table::new(&[
        "workload",
        "allocator",
        "best peer",
        "×best peer",
        "ratio min–max",
        "ratio CV",
        "vs A",
        "RSS ÷ lowest peer",
    ]);
    let mut any = false;
    for (i, w) in m.workloads().iter().enumerate() {
        let Some(peer) = best_peer(m, w) else { continue };
        let rss = lowest_peer_rss(m, w);
        if i > 0 && any {
            t.separator();
        }
        for a in m.allocators().iter().filter(|a| is_hz3(a) || *a == PRELOAD) {
            let Some(c) = m.cell(w, a) else { continue };
            any = true;
            let [rm, rr, rc] = ratio_cells(m.ratio(w, a, &peer));
            let vs_a = if a == "hz3-a" {
                "—".into()
            } else {
                m.ratio(w, a, "hz3-a").map_or("".into(), |r| format!("{:.3}", r.median))
            };
            let r = match (&rss, c.peak_rss_median()) {
                (Some((pn, low)), Some(mine)) if *low > 0.0 => format!("{:.2} ({pn})", mine / low),
                _ => "—".into(),
            };
            t.row(vec![w.clone(), a.clone(), peer.clone(), rm, rr, rc, vs_a, r]);
        }
    }
    if !any {
        return None;
    }
    let mut out = String::from("== hz3 against the best peer of each workload (peers: mimalloc, jemalloc, snmalloc) ==\n");
    out.push_str(&t.render());
    out.push_str(
        "best peer = the peer with the best median; ×best peer = median of per-round ratios to it (>1 is better), min–max and CV of those ratios; vs A = median of per-round ratios to hz3-a; RSS = median peak RSS ÷ the lowest peer's.\n",
    );
    Some(out)
}

fn stat_num(stats: &Value, k: &str) -> Option<f64> {
    stats.get(k).and_then(Value::as_f64)
}

/// Table 3: objects per drained page, empty→non-empty share, atomic RMWs per remote free.
pub fn stats_table(m: &Matrix) -> Option<String> {
    let mut t = Table::new(&["allocator", "workload", "remote frees", "objects/drained page", "empty→non-empty", "RMWs/remote free"]);
    let mut any = false;
    let mut all_zero = true;
    let mut quiet: Vec<String> = Vec::new();
    for a in m.allocators().iter().filter(|a| is_hz3(a)) {
        for c in m.cells.iter().filter(|c| &c.allocator == a) {
            let Some(st) = &c.stats else { continue };
            any = true;
            let d = st.get("derived").cloned().unwrap_or(Value::Null);
            let remote = stat_num(st, "remote_frees");
            if remote.unwrap_or(0.0) > 0.0 {
                all_zero = false;
            } else {
                // Nothing to show: single-thread workloads make no remote frees.
                if !quiet.contains(&c.workload) {
                    quiet.push(c.workload.clone());
                }
                continue;
            }
            let f = |v: Option<f64>, pct: bool| match v {
                Some(v) if pct => format!("{:.1}%", v * 100.0),
                Some(v) => format!("{v:.2}"),
                None => "—".into(),
            };
            t.row(vec![
                a.clone(),
                c.workload.clone(),
                remote.map_or("—".into(), si),
                f(stat_num(&d, "objects_per_drained_page"), false),
                f(stat_num(&d, "empty_to_nonempty_share"), true),
                f(stat_num(&d, "rmw_per_remote_free"), false),
            ]);
        }
    }
    if !any {
        return None;
    }
    let mut out = String::from("== hz3 stats (separate stats pass, config WithStats) ==\n");
    out.push_str(&t.render());
    out.push_str("RMWs/remote free = (head CAS + state swaps + pageq CAS + CAS retries) / remote frees; the seed's A does 1.\n");
    if all_zero {
        out.push_str("(every counter is zero: this hz3-alloc build counts nothing yet)\n");
    } else if !quiet.is_empty() {
        out.push_str(&format!("Not shown (no remote frees counted): {}.\n", quiet.join(", ")));
    }
    Some(out)
}

/// All three tables, as printed at the end of a run.
pub fn render_all(m: &Matrix) -> String {
    let mut out = String::new();
    if let Some(s) = seed_table(m) {
        out.push_str(&s);
        out.push('\n');
    }
    out.push_str(&matrix_table(m));
    if let Some(s) = peer_table(m) {
        out.push('\n');
        out.push_str(&s);
    }
    if let Some(s) = stats_table(m) {
        out.push('\n');
        out.push_str(&s);
    }
    if !m.failures.is_empty() {
        out.push_str(&format!("\n{} run(s) FAILED:\n", m.failures.len()));
        for f in &m.failures {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::synthetic;

    #[test]
    fn tables_show_ratios_per_round() {
        let m = synthetic(
            3,
            &[
                ("xmalloc", "system", &[40e6, 20e6, 40e6]),
                ("xmalloc", "mimalloc", &[120e6, 60e6, 120e6]),
                ("xmalloc", "hz3-a", &[80e6, 40e6, 80e6]),
                ("xmalloc", "hz3-b", &[64e6, 32e6, 64e6]),
                ("local-fixed", "system", &[1e8, 1e8, 1e8]),
                ("local-fixed", "mimalloc", &[2e8, 2e8, 2e8]),
                ("local-fixed", "hz3-a", &[1e8, 1e8, 1e8]),
            ],
        );
        let seed = seed_table(&m).unwrap();
        assert!(seed.contains("mimalloc"), "{seed}");
        // mimalloc is 1.5x hz3-a in every round; hz3-b is 0.8x.
        assert!(seed.contains("+50.0%"), "{seed}");
        assert!(seed.contains("-20.0%"), "{seed}");
        let mt = matrix_table(&m);
        assert!(mt.contains("×mimalloc"), "{mt}");
        assert!(mt.contains("0.667"), "{mt}"); // hz3-a / mimalloc on xmalloc
        assert!(mt.contains("0.500"), "{mt}"); // hz3-a / mimalloc on local-fixed
        // Best peer on xmalloc: mimalloc (the only peer); hz3-a is 2/3 of it in every round.
        let pt = peer_table(&m).unwrap();
        assert!(pt.contains("best peer") && pt.contains("0.667"), "{pt}");
        let st = stats_table(&m).unwrap();
        assert!(st.contains("hz3-a") && st.contains("1.00"), "{st}");
    }

    #[test]
    fn matrix_table_shows_faults_and_system_time() {
        // synthetic(): round i has 500 + i minor faults over 1000 (i + 1) ops, sys 0.125 (i + 1) s.
        let m = synthetic(3, &[("large-churn", "system", &[1.0, 2.0, 3.0]), ("large-churn", "hz3-a", &[2.0, 4.0, 6.0])]);
        let mt = matrix_table(&m);
        assert!(mt.contains("minflt/1k ops") && mt.contains("sys s"), "{mt}");
        let row = mt.lines().find(|l| l.starts_with("large-churn") && l.contains("hz3-a")).unwrap();
        assert!(row.contains("250.5") && row.contains("0.25"), "{row}");
    }

    #[test]
    fn old_files_without_usage_print_dashes() {
        let mut m = synthetic(2, &[("xmalloc", "system", &[1.0, 2.0]), ("xmalloc", "hz3-a", &[2.0, 4.0])]);
        for c in &mut m.cells {
            c.ops = vec![None; 2];
            c.minor_faults = vec![None; 2];
            c.sys_s = vec![None; 2];
        }
        let mt = matrix_table(&m);
        let row = mt.lines().find(|l| l.starts_with("xmalloc") && l.contains("hz3-a")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cols[cols.len() - 2..], &["—", "—"], "{row}");
        assert_eq!(faults_per_kop(Some(0.001)), "<0.01");
        assert_eq!(faults_per_kop(Some(0.0)), "0");
        assert_eq!(faults_per_kop(Some(2500.0)), "2.50k");
        assert_eq!(sys_secs(Some(0.456)), "0.46");
    }

    #[test]
    fn invalid_runs_without_fallback_rates_are_noted() {
        let mut m = synthetic(2, &[("size-shift", "hz3-a", &[1.0, 2.0])]);
        m.cells[0].valid[1] = false;
        let mt = matrix_table(&m);
        assert!(mt.contains("1/2 INVALID (cut short)"), "{mt}");
    }

    #[test]
    fn variants() {
        assert_eq!(variant("hz3-c-packed"), "C-packed");
        assert_eq!(variant("system"), "");
    }
}
