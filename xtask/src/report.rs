//! The tables of `bench-matrix`: the seed-style xmalloc table, the full matrix, hz3 against
//! the best peer of each workload, and the stats lines of each hz3 strategy; for a thread sweep,
//! those tables at each thread count and then throughput and peak RSS against the count.

use serde_json::Value;

use crate::results::{Cell, Matrix};
use crate::stats::Summary;
use crate::strategies::PEERS;
use crate::strategies::{is_hz3, is_preload, PRELOAD, PRELOAD_PEERS};
use crate::table::{mib, pct_change, si, Table};

/// The reference of the full matrix: mimalloc when it was measured, else system.
pub fn matrix_reference(m: &Matrix) -> Option<String> {
    let allocs = m.allocators();
    ["mimalloc", "system"]
        .iter()
        .find(|r| allocs.iter().any(|a| a == *r))
        .map(|s| s.to_string())
}

/// "hz3-c-packed" → "C-packed"; the preload rows → "C ABI".
fn variant(allocator: &str) -> String {
    if is_preload(allocator) {
        return "C ABI".into();
    }
    let mut c = allocator.strip_prefix("hz3-").unwrap_or("").chars();
    c.next().map_or(String::new(), |f| {
        f.to_ascii_uppercase().to_string() + c.as_str()
    })
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
        Some(s) => [
            format!("{:.3}", s.median),
            format!("{:.3}–{:.3}", s.min, s.max),
            format!("{:.1}%", s.cv * 100.0),
        ],
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
            let worst = c
                .fallback_rates
                .iter()
                .flatten()
                .copied()
                .fold(0.0f64, f64::max);
            n.push(format!(
                "{invalid}/{} INVALID (fallback up to {:.2}%)",
                c.runs.len(),
                worst * 100.0
            ));
        }
    }
    let failed = c.failed_runs();
    if failed > 0 {
        n.push(format!("{failed}/{} FAILED", c.runs.len()));
    }
    if let Some(skipped) = c
        .extra
        .get("handoffs_skipped")
        .map(|v| v.iter().flatten().sum::<f64>())
        .filter(|s| *s > 0.0)
    {
        // batch-handoff: a receiver fell 64 batches behind (see docs/bench-matrix.md).
        n.push(format!("{skipped:.0} hand-offs skipped"));
    }
    n.join(", ")
}

/// Allocator order of the seed table: the peers first (as in the seed, mimalloc on top), then
/// system, then every hz3 strategy, then the preload rows (C malloc/free).
fn seed_order(m: &Matrix) -> Vec<String> {
    let allocs = m.allocators();
    let mut v: Vec<String> = ["mimalloc", "snmalloc", "jemalloc", "system"]
        .iter()
        .filter(|a| allocs.iter().any(|x| x == *a))
        .map(|s| s.to_string())
        .collect();
    v.extend(allocs.iter().filter(|a| is_hz3(a)).cloned());
    v.extend(allocs.iter().filter(|a| is_preload(a)).cloned());
    v
}

/// Table 1: the seed's S121 table for xmalloc.
pub fn seed_table(m: &Matrix) -> Option<String> {
    let workload = "xmalloc";
    m.cell(workload, &seed_order(m).first()?.clone())?;
    let has_a = m.cell(workload, "hz3-a").is_some();
    let mut t = Table::cols(
        "config | variant | free/sec | spread (min–max) | ± | vs A | vs A min..max | CV | notes",
    );
    for a in seed_order(m) {
        let Some(c) = m.cell(workload, &a) else {
            continue;
        };
        let Some(s) = c.summary() else {
            let mut row = vec![a.clone(), variant(&a), "—".into(), "—".into()];
            row.extend(["", "", "", ""].map(String::from));
            row.push(notes(c));
            t.row(row);
            continue;
        };
        let half = if s.median > 0.0 {
            (s.max - s.min) / 2.0 / s.median * 100.0
        } else {
            0.0
        };
        let vs_a = if a == "hz3-a" {
            None
        } else {
            m.ratio(workload, &a, "hz3-a")
        };
        let (va, vr, vc) = match vs_a {
            Some(r) => (
                pct_change(r.median),
                format!("{}..{}", pct_change(r.min), pct_change(r.max)),
                format!("{:.1}%", r.cv * 100.0),
            ),
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
    let mut t = Table::cols(&format!(
        "workload | allocator | median | unit | min–max | ×{rname} | ratio min–max | ratio CV | peak RSS | minflt/1k ops | sys s | notes"
    ));
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
    best_among(m, w, PEERS)
}

/// The peers' C libraries under `LD_PRELOAD` (what `hz3-preload` is compared with).
fn c_peers() -> Vec<&'static str> {
    PRELOAD_PEERS.iter().map(|p| p.name).collect()
}

/// Whether a peer's cell describes unlike work: more than half of its completed runs broke the
/// workload's validity rule (mt-remote: the ring fell back to a local free too often, so the
/// run measured fewer remote frees than the others). Such a peer is never the "best peer".
fn mostly_invalid(c: &Cell) -> bool {
    let done = c.runs.iter().filter(|r| r.is_some()).count();
    done > 0 && 2 * c.invalid_runs() > done
}

/// The one of `peers` with the best median on workload `w`, among those whose runs are mostly
/// valid ([`mostly_invalid`]).
fn best_among(m: &Matrix, w: &str, peers: &[&str]) -> Option<String> {
    let mut best: Option<(&str, f64, bool)> = None;
    for p in peers {
        let Some(c) = m.cell(w, p) else { continue };
        if mostly_invalid(c) {
            continue;
        }
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

/// `peer on workload (k of n runs invalid)` for every peer left out of the best-peer choice.
fn skipped_peers(m: &Matrix) -> Vec<String> {
    let mut out = Vec::new();
    let c_peers = c_peers();
    for w in m.workloads().iter() {
        for p in PEERS.iter().chain(c_peers.iter()) {
            let Some(c) = m.cell(w, p) else { continue };
            if mostly_invalid(c) {
                let done = c.runs.iter().filter(|r| r.is_some()).count();
                out.push(format!(
                    "{p} on {w} ({} of {done} runs invalid)",
                    c.invalid_runs()
                ));
            }
        }
    }
    out
}

/// The lowest median peak RSS among `peers` on workload `w`, and whose it is.
fn lowest_peer_rss(m: &Matrix, w: &str, peers: &[&str]) -> Option<(String, f64)> {
    peers
        .iter()
        .filter_map(|p| Some((p.to_string(), m.cell(w, p)?.peak_rss_median()?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Table 3: every hz3 allocator against the best peer of each workload (per-round ratios to
/// that peer), and its peak RSS against the lowest peer's.
pub fn peer_table(m: &Matrix) -> Option<String> {
    let mut t = Table::cols("workload | allocator | best peer | ×best peer | ratio min–max | ratio CV | vs A | RSS ÷ lowest peer");
    let mut any = false;
    let c_peers = c_peers();
    for w in m.workloads().iter() {
        let rust_peer = best_peer(m, w);
        let c_peer = best_among(m, w, &c_peers);
        let mut first = true;
        for a in m.allocators().iter().filter(|a| is_hz3(a) || *a == PRELOAD) {
            // hz3-preload (C malloc/free) is judged against the peers' C libraries when they were
            // measured, C with C; the GlobalAlloc rows against the Rust-linked peers.
            let (peer, rss) = match (a == PRELOAD, &c_peer, &rust_peer) {
                (true, Some(p), _) => (p.clone(), lowest_peer_rss(m, w, &c_peers)),
                (_, _, Some(p)) => (p.clone(), lowest_peer_rss(m, w, PEERS)),
                _ => continue,
            };
            let Some(c) = m.cell(w, a) else { continue };
            if first && any {
                t.separator();
            }
            first = false;
            any = true;
            let [rm, rr, rc] = ratio_cells(m.ratio(w, a, &peer));
            let vs_a = if a == "hz3-a" {
                "—".into()
            } else {
                m.ratio(w, a, "hz3-a")
                    .map_or("".into(), |r| format!("{:.3}", r.median))
            };
            let r = match (&rss, c.peak_rss_median()) {
                (Some((pn, low)), Some(mine)) if *low > 0.0 => format!("{:.2} ({pn})", mine / low),
                _ => "—".into(),
            };
            t.row(vec![
                w.clone(),
                a.clone(),
                peer.clone(),
                rm,
                rr,
                rc,
                vs_a,
                r,
            ]);
        }
    }
    if !any {
        return None;
    }
    let measured: Vec<String> = m
        .allocators()
        .into_iter()
        .filter(|a| PEERS.contains(&a.as_str()) || c_peers.contains(&a.as_str()))
        .collect();
    let mut out = format!(
        "== hz3 against the best peer of each workload (peers: {}) ==\n",
        measured.join(", ")
    );
    out.push_str(&t.render());
    out.push_str(
        "best peer = the peer with the best median; ×best peer = median of per-round ratios to it (>1 is better), min–max and CV of those ratios; vs A = median of per-round ratios to hz3-a; RSS = median peak RSS ÷ the lowest peer's.\n",
    );
    if m.allocators().iter().any(|a| a == PRELOAD)
        && m.allocators().iter().any(|a| c_peers.contains(&a.as_str()))
    {
        let c: Vec<&str> = measured
            .iter()
            .map(String::as_str)
            .filter(|a| c_peers.contains(a))
            .collect();
        out.push_str(&format!("hz3-preload is compared with the peers' C libraries under LD_PRELOAD ({}): C malloc/free against C malloc/free.\n", c.join(", ")));
    }
    let skipped = skipped_peers(m);
    if !skipped.is_empty() {
        out.push_str(&format!(
            "not a best peer where most of its runs broke the workload's validity rule (unlike work): {}.\n",
            skipped.join(", ")
        ));
    }
    Some(out)
}

fn stat_num(stats: &Value, k: &str) -> Option<f64> {
    stats.get(k).and_then(Value::as_f64)
}

/// Table 3: objects per drained page, empty→non-empty share, atomic RMWs per remote free.
pub fn stats_table(m: &Matrix) -> Option<String> {
    let mut t = Table::cols("allocator | workload | remote frees | objects/drained page | empty→non-empty | RMWs/remote free");
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
        out.push_str(&format!(
            "Not shown (no remote frees counted): {}.\n",
            quiet.join(", ")
        ));
    }
    Some(out)
}

/// Every table, as printed at the end of a run: the tables of [`render_one`], at each thread
/// count of a sweep followed by the sweep tables; then notes and failures.
pub fn render_all(m: &Matrix) -> String {
    let mut out = String::new();
    let counts = m.thread_counts();
    if counts.len() > 1 {
        for t in &counts {
            out.push_str(&format!("######## --threads {t} ########\n\n"));
            out.push_str(&render_one(&m.at_threads(*t)));
            out.push('\n');
        }
        out.push_str(&sweep_tables(m));
    } else {
        out.push_str(&render_one(m));
    }
    if let Some(t) = crate::peers::versions_table(m) {
        out.push('\n');
        out.push_str(&t);
    }
    let notes = m.notes();
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    if !m.failures.is_empty() {
        out.push_str(&format!("\n{} run(s) FAILED:\n", m.failures.len()));
        for f in &m.failures {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

/// The four tables of one thread count.
pub fn render_one(m: &Matrix) -> String {
    let tables = [
        seed_table(m),
        Some(matrix_table(m)),
        peer_table(m),
        threads_many_table(m),
        stats_table(m),
    ];
    tables.into_iter().flatten().collect::<Vec<_>>().join("\n")
}

/// threads-many: per allocator, the footprint and the cost of one live thread, from
/// the workload's extra figures (medians over rounds), and the footprint against glibc's
/// (`system`) and mimalloc's (the bounds hz3 aims at: at most glibc × 2 at 1000 threads, below
/// mimalloc at 10 000).
pub fn threads_many_table(m: &Matrix) -> Option<String> {
    let w = "threads-many";
    let mut t = Table::cols("allocator | live threads | RSS/thread | ÷system | ÷mimalloc | RSS all live | start µs/thread | µs/thread | threads/s");
    let per = |a: &str| {
        m.cell(w, a)
            .and_then(|c| c.extra_median("rss_per_thread_kib"))
    };
    let mut any = false;
    for c in m.cells.iter().filter(|c| c.workload == w) {
        any = true;
        let f = |k: &str, fmt: &dyn Fn(f64) -> String| c.extra_median(k).map_or("—".into(), fmt);
        let mine = c.extra_median("rss_per_thread_kib");
        let vs = |r: &str| match (mine, per(r)) {
            (Some(a), Some(b)) if b > 0.0 && r != c.allocator => format!("{:.2}", a / b),
            _ => "".into(),
        };
        t.row(vec![
            c.allocator.clone(),
            f("live_threads", &|v| format!("{v:.0}")),
            f("rss_per_thread_kib", &|v| format!("{v:.1} KiB")),
            vs("system"),
            vs("mimalloc"),
            f("rss_live_kib", &|v| mib(v)),
            f("start_us_per_thread", &|v| format!("{v:.1}")),
            f("us_per_thread", &|v| format!("{v:.1}")),
            c.summary().map_or("—".into(), |s| si(s.median)),
        ]);
    }
    if !any {
        return None;
    }
    let mut out = String::from(
        "== threads-many: footprint and cost per live thread (medians over rounds) ==\n",
    );
    out.push_str(&t.render());
    out.push_str(
        "RSS/thread = (RSS with every thread alive − RSS before the first spawn) ÷ live threads, in the first round of each run (what a fresh process sees; thread stacks included, the same for every allocator); ÷system, ÷mimalloc = that figure over glibc's and mimalloc's; start µs/thread = first spawn to all threads ready ÷ threads; µs/thread = the whole run ÷ all threads started.\n",
    );
    Some(out)
}

/// A sweep's two tables: per workload and allocator, the median throughput with its ratio to the
/// reference at each thread count, then the median peak RSS at each count.
pub fn sweep_tables(m: &Matrix) -> String {
    let counts = m.thread_counts();
    let reference = matrix_reference(m);
    let rname = reference.clone().unwrap_or_else(|| "—".into());
    let mut head: Vec<String> = vec!["workload".into(), "allocator".into(), "unit".into()];
    head.extend(counts.iter().map(|t| format!("T={t}")));
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut rate = Table::new(&head_refs);
    let mut rss = Table::new(&head_refs);
    for (i, w) in m.workloads().iter().enumerate() {
        if i > 0 {
            rate.separator();
            rss.separator();
        }
        for a in m.allocators() {
            let cells: Vec<Option<&Cell>> = counts.iter().map(|t| m.cell_at(w, &a, *t)).collect();
            let Some(unit) = cells
                .iter()
                .flatten()
                .map(|c| c.unit.clone())
                .find(|u| !u.is_empty())
            else {
                continue;
            };
            let mut r = vec![w.clone(), a.clone(), unit];
            let mut s = vec![w.clone(), a.clone(), "MiB".into()];
            for (t, c) in counts.iter().zip(&cells) {
                let Some(c) = c else {
                    r.push("—".into());
                    s.push("—".into());
                    continue;
                };
                let median = c.summary().map_or("—".into(), |x| si(x.median));
                let ratio = match &reference {
                    Some(rf) if *rf == a => String::new(),
                    Some(rf) => m
                        .ratio_at(w, &a, rf, *t)
                        .map_or(" ×—".into(), |x| format!(" ×{:.2}", x.median)),
                    None => String::new(),
                };
                let flag = if c.invalid_runs() > 0 || c.failed_runs() > 0 {
                    "!"
                } else {
                    ""
                };
                r.push(format!("{median}{ratio}{flag}"));
                s.push(
                    c.peak_rss_median()
                        .map_or("—".into(), |k| format!("{:.1}", k / 1024.0)),
                );
            }
            rate.row(r);
            rss.row(s);
        }
    }
    format!(
        "== Thread sweep: throughput against --threads (median of {} rounds; ×{rname} = median of per-round ratios to {rname} at the same T; ! = invalid or failed runs) ==\n{}\n\
         == Thread sweep: peak RSS against --threads (median, MiB) ==\n{}",
        m.config.runs,
        rate.render(),
        rss.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::synthetic;

    #[test]
    fn a_peer_whose_runs_are_mostly_invalid_is_not_the_best_peer() {
        let mut m = synthetic(
            3,
            &[
                ("mt-remote-r90", "system", &[10e6, 10e6, 10e6]),
                ("mt-remote-r90", "mimalloc", &[40e6, 40e6, 40e6]),
                ("mt-remote-r90", "jemalloc", &[20e6, 20e6, 20e6]),
                ("mt-remote-r90", "hz3-a", &[30e6, 30e6, 30e6]),
            ],
        );
        assert_eq!(best_peer(&m, "mt-remote-r90").as_deref(), Some("mimalloc"));
        // One invalid run of three: still a fair comparison.
        let i = m
            .cells
            .iter()
            .position(|c| c.allocator == "mimalloc")
            .unwrap();
        m.cells[i].valid = vec![true, false, true];
        assert_eq!(best_peer(&m, "mt-remote-r90").as_deref(), Some("mimalloc"));
        // Two of three: mimalloc measured unlike work; jemalloc is the best peer.
        m.cells[i].valid = vec![false, false, true];
        assert_eq!(best_peer(&m, "mt-remote-r90").as_deref(), Some("jemalloc"));
        let t = peer_table(&m).unwrap();
        assert!(
            t.contains("mimalloc on mt-remote-r90 (2 of 3 runs invalid)"),
            "{t}"
        );
        assert!(t.contains("1.500"), "hz3-a against jemalloc: {t}");
    }

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
        let m = synthetic(
            3,
            &[
                ("large-churn", "system", &[1.0, 2.0, 3.0]),
                ("large-churn", "hz3-a", &[2.0, 4.0, 6.0]),
            ],
        );
        let mt = matrix_table(&m);
        assert!(mt.contains("minflt/1k ops") && mt.contains("sys s"), "{mt}");
        let row = mt
            .lines()
            .find(|l| l.starts_with("large-churn") && l.contains("hz3-a"))
            .unwrap();
        assert!(row.contains("250.5") && row.contains("0.25"), "{row}");
    }

    #[test]
    fn old_files_without_usage_print_dashes() {
        let mut m = synthetic(
            2,
            &[
                ("xmalloc", "system", &[1.0, 2.0]),
                ("xmalloc", "hz3-a", &[2.0, 4.0]),
            ],
        );
        for c in &mut m.cells {
            c.ops = vec![None; 2];
            c.minor_faults = vec![None; 2];
            c.sys_s = vec![None; 2];
        }
        let mt = matrix_table(&m);
        let row = mt
            .lines()
            .find(|l| l.starts_with("xmalloc") && l.contains("hz3-a"))
            .unwrap();
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
    fn a_sweep_prints_each_count_then_the_curves() {
        use crate::results::tests::synthetic_at;
        let m = synthetic_at(
            2,
            &[
                ("xmalloc", "mimalloc", 1, &[10.0, 10.0]),
                ("xmalloc", "hz3-a", 1, &[20.0, 20.0]),
                ("xmalloc", "mimalloc", 4, &[40.0, 40.0]),
                ("xmalloc", "hz3-a", 4, &[20.0, 20.0]),
            ],
        );
        let out = render_all(&m);
        assert!(
            out.contains("######## --threads 1 ########")
                && out.contains("######## --threads 4 ########"),
            "{out}"
        );
        // The seed-style xmalloc table at each count, with its thread count in the title.
        assert!(
            out.contains("1 producers + 1 consumers") && out.contains("4 producers + 4 consumers"),
            "{out}"
        );
        assert_eq!(out.matches("== S121 matrix on xmalloc").count(), 2);
        let sweep = &out[out
            .find("== Thread sweep: throughput")
            .expect("sweep table")..];
        let row = sweep
            .lines()
            .find(|l| l.starts_with("xmalloc") && l.contains("hz3-a"))
            .unwrap();
        assert!(
            row.contains("20.00 ×2.00") && row.contains("20.00 ×0.50"),
            "{row}"
        );
        assert!(
            sweep.contains("T=1")
                && sweep.contains("T=4")
                && sweep.contains("peak RSS against --threads"),
            "{sweep}"
        );
        // A single count prints no sweep tables.
        assert!(!render_all(&m.at_threads(4)).contains("Thread sweep"));
    }

    #[test]
    fn hz3_preload_is_judged_against_the_c_libraries() {
        let m = synthetic(
            2,
            &[
                ("local-mixed", "mimalloc", &[100.0, 100.0]),
                ("local-mixed", "hz3-a", &[150.0, 150.0]),
                ("local-mixed", "hz3-preload", &[80.0, 80.0]),
                ("local-mixed", "mimalloc-preload", &[40.0, 40.0]),
                ("local-mixed", "jemalloc-preload", &[50.0, 50.0]),
            ],
        );
        let pt = peer_table(&m).unwrap();
        let row = |a: &str| {
            pt.lines()
                .find(|l| l.starts_with("local-mixed") && l.split_whitespace().nth(1) == Some(a))
                .unwrap()
                .to_string()
        };
        assert!(
            row("hz3-a").contains("mimalloc") && row("hz3-a").contains("1.500"),
            "{pt}"
        );
        assert!(
            row("hz3-preload").contains("jemalloc-preload") && row("hz3-preload").contains("1.600"),
            "{pt}"
        );
        assert!(pt.contains("C malloc/free against C malloc/free"), "{pt}");
        // The preload rows close the seed table's order.
        let seed = seed_order(&m);
        assert_eq!(
            &seed[seed.len() - 3..],
            ["hz3-preload", "mimalloc-preload", "jemalloc-preload"]
        );
    }

    #[test]
    fn threads_many_prints_the_footprint_per_thread() {
        // synthetic(): rss_per_thread_kib is 10 (i + 1) in round i, live_threads 1000.
        let mut m = synthetic(
            3,
            &[
                ("threads-many", "system", &[1.0, 2.0, 3.0]),
                ("threads-many", "hz3-a", &[2.0, 4.0, 6.0]),
            ],
        );
        for v in m.cells[1].extra.get_mut("rss_per_thread_kib").unwrap() {
            *v = v.map(|x| x * 3.0);
        }
        let t = threads_many_table(&m).unwrap();
        let row = t.lines().find(|l| l.starts_with("hz3-a")).unwrap();
        assert!(
            row.contains("1000") && row.contains("60.0 KiB") && row.contains("3.00"),
            "{t}"
        );
        assert!(render_one(&m).contains("== threads-many"));
        assert!(threads_many_table(&synthetic(1, &[("xmalloc", "system", &[1.0])])).is_none());
    }

    #[test]
    fn notes_are_printed() {
        let mut m = synthetic(1, &[("xmalloc", "system", &[1.0])]);
        m.config.extra.insert(
            "notes".into(),
            serde_json::json!(["jemalloc-preload skipped: not installed"]),
        );
        assert!(render_all(&m).contains("notes:\n  jemalloc-preload skipped: not installed"));
    }

    #[test]
    fn variants() {
        assert_eq!(variant("hz3-c-packed"), "C-packed");
        assert_eq!(variant("system"), "");
        assert_eq!(variant("hz3-preload"), "C ABI");
        assert_eq!(variant("jemalloc-preload"), "C ABI");
    }
}
