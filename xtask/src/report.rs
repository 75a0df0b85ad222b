//! The tables of `bench-matrix`: seed-style xmalloc, full matrix, hz3 against the best peer,
//! threads-many, hz3 stats; for a sweep, those at each count, then throughput and RSS by count.

use crate::results::{Cell, Matrix};
use crate::stats::Summary;
use crate::strategies::{is_hz3, is_preload, PEERS, PRELOAD, PRELOAD_PEERS};
use crate::table::{mib, or_dash, si, Table};

/// `== title ==`, the table, then `foot`.
fn section(title: &str, t: &Table, foot: &str) -> String {
    format!("== {title} ==\n{}{foot}", t.render())
}

/// The reference of the full matrix: mimalloc when it was measured, else system.
pub fn matrix_reference(m: &Matrix) -> Option<String> {
    let (allocs, refs) = (m.allocators(), ["mimalloc", "system"].map(String::from));
    refs.into_iter().find(|r| allocs.contains(r))
}

/// "hz3-c-packed" → "C-packed"; the preload rows → "C ABI".
fn variant(allocator: &str) -> String {
    let s = allocator.strip_prefix("hz3-").unwrap_or("");
    match s.get(..1) {
        _ if is_preload(allocator) => "C ABI".into(),
        f => f.map_or(String::new(), |f| f.to_ascii_uppercase() + &s[1..]),
    }
}

/// Minor faults per 1000 operations: "—" when unknown, "<0.01" below that.
pub fn faults_per_kop(v: Option<f64>) -> String {
    match v {
        Some(0.0) => "0".into(),
        Some(v) if v < 0.01 => "<0.01".into(),
        v => or_dash(v, si),
    }
}

/// A summary's median, min–max (joined by `sep`) and CV, the first two formatted by `f`.
fn spread(s: Option<Summary>, f: fn(f64) -> String, sep: &str) -> [String; 3] {
    s.map_or(["—"; 3].map(String::from), |s| {
        let range = format!("{}{sep}{}", f(s.min), f(s.max));
        [f(s.median), range, format!("{:.1}%", s.cv * 100.0)]
    })
}

fn three(x: f64) -> String {
    format!("{x:.3}")
}

fn notes(c: &Cell) -> String {
    let (n, invalid, failed) = (c.runs.len(), c.invalid_runs(), c.failed_runs());
    let handoffs = c.extra.get("handoffs_skipped");
    let skipped: f64 = handoffs.into_iter().flatten().flatten().sum();
    let worst = c.fallback_rates.iter().flatten().copied().reduce(f64::max);
    let why = worst.map(|w| format!("fallback up to {:.2}%", w * 100.0));
    // Without fallback rates (size-shift): cut at the hard stop before one size cycle.
    let why = why.unwrap_or("cut short".into());
    let notes = [
        (invalid > 0).then(|| format!("{invalid}/{n} INVALID ({why})")),
        (failed > 0).then(|| format!("{failed}/{n} FAILED")),
        // batch-handoff: a receiver fell 64 batches behind (see docs/bench-matrix.md).
        (skipped > 0.0).then(|| format!("{skipped:.0} hand-offs skipped")),
    ];
    notes.into_iter().flatten().collect::<Vec<_>>().join(", ")
}

/// Allocator order of the seed table: the peers (mimalloc on top, as in the seed), system, hz3, C.
fn seed_order(m: &Matrix) -> Vec<String> {
    let allocs = m.allocators();
    let peers = ["mimalloc", "snmalloc", "jemalloc", "system"].map(String::from);
    let mut v: Vec<String> = peers.into_iter().filter(|p| allocs.contains(p)).collect();
    v.extend(allocs.iter().filter(|a| is_hz3(a)).cloned());
    v.extend(allocs.into_iter().filter(|a| is_preload(a)));
    v
}

/// Table 1: the seed's S121 table for xmalloc.
pub fn seed_table(m: &Matrix) -> Option<String> {
    let w = "xmalloc";
    m.cell(w, seed_order(m).first()?)?;
    let head =
        "config | variant | free/sec | spread (min–max) | ± | vs A | vs A min..max | CV | notes";
    let mut t = Table::cols(head);
    for a in seed_order(m) {
        let Some(c) = m.cell(w, &a) else { continue };
        let s = c.summary();
        let [free, range, _] = spread(s, si, "–");
        // ± = half the spread, in % of the median.
        let half = |s: Summary| (s.max - s.min) / 2.0 / s.median * 100.0;
        let half = s.map(|s| if s.median > 0.0 { half(s) } else { 0.0 });
        let half = half.map_or(String::new(), |h| format!("{h:.1}%"));
        let vs_a = match m.ratio(w, &a, "hz3-a") {
            _ if a == "hz3-a" && s.is_some() => ["—", "", ""].map(String::from),
            Some(r) => spread(Some(r), |r| format!("{:+.1}%", (r - 1.0) * 100.0), ".."),
            None => Default::default(),
        };
        let head = [a.clone(), variant(&a), free, range, half];
        t.row(head.into_iter().chain(vs_a).chain([notes(c)]));
    }
    let mut out = format!("== S121 matrix on xmalloc (64 B objects, {t} producers + {t} consumers), free/sec: median of {} rounds ==\n", m.config.runs, t = m.config.threads);
    if m.cell(w, "hz3-a").is_none() {
        out += "(hz3-a was not measured: no \"vs A\" column)\n";
    }
    Some(out + &t.render() + "vs A = median over rounds of (free/sec ÷ hz3-a's free/sec in the same round) − 1; min..max and CV of those per-round ratios.\n")
}

/// Table 2: every workload × allocator.
pub fn matrix_table(m: &Matrix) -> String {
    let reference = matrix_reference(m);
    let rname = reference.as_deref().unwrap_or("—");
    let mut t = Table::cols(&format!("workload | allocator | median | unit | min–max | ×{rname} | ratio min–max | ratio CV | peak RSS | minflt/1k ops | sys s | notes"));
    for w in m.workloads().iter() {
        t.separator();
        for c in m.cells.iter().filter(|c| &c.workload == w) {
            let [median, range, _] = spread(c.summary(), si, "–");
            let ratio = match reference.as_deref() {
                Some(r) if r == c.allocator => ["1", "", ""].map(String::from),
                r => spread(r.and_then(|r| m.ratio(w, &c.allocator, r)), three, "–"),
            };
            let head = [w.clone(), c.allocator.clone(), median, c.unit.clone()];
            let faults = faults_per_kop(c.minor_faults_per_kop());
            let rss = or_dash(c.median("peak_rss_kib"), mib);
            let sys = or_dash(c.median("sys_s"), |v| format!("{v:.2}"));
            let usage = [rss, faults, sys, notes(c)];
            t.row(head.into_iter().chain([range]).chain(ratio).chain(usage));
        }
    }
    let c = &m.config;
    section(&format!("Full matrix: median of {} rounds, {} ms per run, {} threads; ratio = median of per-round ratios to {rname} (>1 is better)", c.runs, c.duration_ms, c.threads), &t, "minflt/1k ops = median over rounds of the run process's minor page faults (getrusage) per 1000 operations of the unit; sys s = median system CPU seconds of the run process; both cover the whole process, setup included.\n")
}

/// `p on w (k of n runs invalid)` when most of peer `p`'s runs on `w` broke the validity rule (the
/// mt-remote ring fell back to local frees too often): unlike work, so never the "best peer".
fn unlike_work(m: &Matrix, w: &str, p: &str) -> Option<String> {
    let c = m.cell(w, p)?;
    let (invalid, done) = (c.invalid_runs(), c.runs.iter().flatten().count());
    let note = format!("{p} on {w} ({invalid} of {done} runs invalid)");
    (done > 0 && 2 * invalid > done).then_some(note)
}

/// The one of `peers` with the best median on `w` (the first of equals), bar [`unlike_work`].
fn best_among(m: &Matrix, w: &str, peers: &[&str]) -> Option<String> {
    let valid = peers.iter().filter(|p| unlike_work(m, w, p).is_none());
    let valid = valid.filter_map(|p| Some((p, m.cell(w, p)?)));
    let medians = valid.filter_map(|(p, c)| Some((p, c.summary()?.median, c.higher_is_better)));
    let better = |b: &(_, f64, bool), x: f64| if b.2 { x > b.1 } else { x < b.1 };
    let best = medians.reduce(|b, x| if better(&b, x.1) { x } else { b });
    best.map(|b| b.0.to_string())
}

/// Table 3: hz3 against the best peer of each workload, and its peak RSS against the lowest peer's.
pub fn peer_table(m: &Matrix) -> Option<String> {
    let mut t = Table::cols("workload | allocator | best peer | ×best peer | ratio min–max | ratio CV | vs A | RSS ÷ lowest peer");
    let c_peers: Vec<&str> = PRELOAD_PEERS.iter().map(|p| p.name).collect();
    let all_peers: Vec<&str> = PEERS.iter().chain(&c_peers).copied().collect();
    let mut skipped = Vec::new();
    for w in m.workloads() {
        skipped.extend(all_peers.iter().filter_map(|p| unlike_work(m, &w, p)));
        let (rust_peer, c_peer) = (best_among(m, &w, PEERS), best_among(m, &w, &c_peers));
        let mut first = true;
        for a in m.allocators().iter().filter(|a| is_hz3(a) || *a == PRELOAD) {
            // hz3-preload (C malloc/free) is judged against the peers' C libraries when they were
            // measured, C with C; the GlobalAlloc rows against the Rust-linked peers.
            let (peer, peers) = match (a == PRELOAD, &c_peer, &rust_peer) {
                (true, Some(p), _) => (p, &c_peers[..]),
                (_, _, Some(p)) => (p, PEERS),
                _ => continue,
            };
            let Some(c) = m.cell(&w, a) else { continue };
            if std::mem::take(&mut first) {
                t.separator();
            }
            let vs_a = match m.ratio(&w, a, "hz3-a") {
                _ if a == "hz3-a" => "—".into(),
                r => r.map_or(String::new(), |r| format!("{:.3}", r.median)),
            };
            // Against the lowest median peak RSS among those peers.
            let rss_of = |p: &&str| Some((p.to_string(), m.cell(&w, p)?.median("peak_rss_kib")?));
            let all = peers.iter().filter_map(rss_of);
            let low = all.min_by(|a, b| a.1.total_cmp(&b.1)).filter(|l| l.1 > 0.0);
            let rss = low.zip(c.median("peak_rss_kib"));
            let rss = or_dash(rss, |((pn, low), mine)| format!("{:.2} ({pn})", mine / low));
            let ratio = spread(m.ratio(&w, a, peer), three, "–");
            let head = [w.clone(), a.clone(), peer.clone()];
            t.row(head.into_iter().chain(ratio).chain([vs_a, rss]));
        }
    }
    let is_peer = |a: &String| all_peers.contains(&a.as_str());
    let measured: Vec<String> = m.allocators().into_iter().filter(is_peer).collect();
    let mut out = section(&format!("hz3 against the best peer of each workload (peers: {})", measured.join(", ")), &t, "best peer = the peer with the best median; ×best peer = median of per-round ratios to it (>1 is better), min–max and CV of those ratios; vs A = median of per-round ratios to hz3-a; RSS = median peak RSS ÷ the lowest peer's.\n");
    let c_measured = measured.iter().filter(|a| c_peers.contains(&a.as_str()));
    let c_measured = c_measured.cloned().collect::<Vec<_>>().join(", ");
    if m.allocators().iter().any(|a| a == PRELOAD) && !c_measured.is_empty() {
        out += &format!("hz3-preload is compared with the peers' C libraries under LD_PRELOAD ({c_measured}): C malloc/free against C malloc/free.\n");
    }
    if !skipped.is_empty() {
        out += &format!("not a best peer where most of its runs broke the workload's validity rule (unlike work): {}.\n", skipped.join(", "));
    }
    (!t.is_empty()).then_some(out)
}

/// Table 5: objects per drained page, empty→non-empty share, atomic RMWs per remote free.
pub fn stats_table(m: &Matrix) -> Option<String> {
    let mut t = Table::cols("allocator | workload | remote frees | objects/drained page | empty→non-empty | RMWs/remote free");
    let mut quiet = Vec::new();
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let two = |v: f64| format!("{v:.2}");
    for a in m.allocators().iter().filter(|a| is_hz3(a)) {
        for c in m.cells.iter().filter(|c| &c.allocator == a) {
            let Some(st) = &c.stats else { continue };
            let Some(remote) = st["remote_frees"].as_f64().filter(|r| *r > 0.0) else {
                // Nothing to show: single-thread workloads make no remote frees.
                if !quiet.contains(&c.workload) {
                    quiet.push(c.workload.clone());
                }
                continue;
            };
            let f = |k: &str, fmt: fn(f64) -> String| or_dash(st["derived"][k].as_f64(), fmt);
            let head = [a.clone(), c.workload.clone(), si(remote)];
            let objects = f("objects_per_drained_page", two);
            let rmws = f("rmw_per_remote_free", two);
            let derived = [objects, f("empty_to_nonempty_share", pct), rmws];
            t.row(head.into_iter().chain(derived));
        }
    }
    let mut out = section("hz3 stats (separate stats pass, config WithStats)", &t, "RMWs/remote free = (head CAS + state swaps + pageq CAS + CAS retries) / remote frees; the seed's A does 1.\n");
    if t.is_empty() {
        out += "(every counter is zero: this hz3-alloc build counts nothing yet)\n";
    } else if !quiet.is_empty() {
        let quiet = quiet.join(", ");
        out += &format!("Not shown (no remote frees counted): {quiet}.\n");
    }
    let with_stats = |c: &Cell| is_hz3(&c.allocator) && c.stats.is_some();
    m.cells.iter().any(with_stats).then_some(out)
}

/// The machine and every table, as printed after a run (a sweep: at each count, then by count).
pub fn render_all(m: &Matrix) -> String {
    let render_one = |m: &Matrix| {
        let tables = [seed_table(m), Some(matrix_table(m)), peer_table(m)];
        let more = [threads_many_table(m), stats_table(m)];
        let tables: Vec<_> = tables.into_iter().chain(more).flatten().collect();
        tables.join("\n")
    };
    let counts = m.thread_counts();
    let title = |t: &u64| format!("######## --threads {t} ########\n\n");
    let one = |t: &u64| title(t) + &render_one(&m.at_threads(*t)) + "\n";
    let mut out = format!("machine: {}\n\n", m.machine.describe());
    out += &match counts.len() > 1 {
        true => counts.iter().map(one).chain([sweep_tables(m)]).collect(),
        false => render_one(m),
    };
    if let Some(t) = crate::peers::versions_table(m) {
        out += &format!("\n{t}");
    }
    let failed = format!("{} run(s) FAILED:", m.failures.len());
    for (head, list) in [("notes:".into(), m.notes()), (failed, m.failures.clone())] {
        if !list.is_empty() {
            out += &format!("\n{head}\n  {}\n", list.join("\n  "));
        }
    }
    out
}

/// threads-many: per allocator, the footprint and cost of one live thread, against glibc's and
/// mimalloc's (the bounds hz3 aims at: ≤ glibc × 2 at 1000 threads, below mimalloc at 10 000).
pub fn threads_many_table(m: &Matrix) -> Option<String> {
    let w = "threads-many";
    let mut t = Table::cols("allocator | live threads | RSS/thread | ÷system | ÷mimalloc | RSS all live | start µs/thread | µs/thread | threads/s");
    let per = |a: &str| m.cell(w, a)?.median("rss_per_thread_kib");
    let (kib, one) = (|v: f64| format!("{v:.1} KiB"), |v: f64| format!("{v:.1}"));
    for c in m.cells.iter().filter(|c| c.workload == w) {
        let f = |k: &str, fmt: fn(f64) -> String| or_dash(c.median(k), fmt);
        let vs = |r: &str| match (c.median("rss_per_thread_kib"), per(r)) {
            (Some(a), Some(b)) if b > 0.0 && r != c.allocator => format!("{:.2}", a / b),
            _ => String::new(),
        };
        let live = f("live_threads", |v| format!("{v:.0}"));
        let head = [c.allocator.clone(), live, f("rss_per_thread_kib", kib)];
        let vs = [vs("system"), vs("mimalloc"), f("rss_live_kib", mib)];
        let cost = [f("start_us_per_thread", one), f("us_per_thread", one)];
        let rate = or_dash(c.summary(), |s| si(s.median));
        t.row(head.into_iter().chain(vs).chain(cost).chain([rate]));
    }
    (!t.is_empty()).then(|| section("threads-many: footprint and cost per live thread (medians over rounds)", &t, "RSS/thread = (RSS with every thread alive − RSS before the first spawn) ÷ live threads, in the first round of each run (what a fresh process sees; thread stacks included, the same for every allocator); ÷system, ÷mimalloc = that figure over glibc's and mimalloc's; start µs/thread = first spawn to all threads ready ÷ threads; µs/thread = the whole run ÷ all threads started.\n"))
}

/// A sweep's two tables: throughput (and ratio to the reference), then peak RSS, at each count.
pub fn sweep_tables(m: &Matrix) -> String {
    let counts = m.thread_counts();
    let reference = matrix_reference(m);
    let rname = reference.as_deref().unwrap_or("—");
    let head: String = counts.iter().map(|t| format!(" | T={t}")).collect();
    let head = format!("workload | allocator | unit{head}");
    let (mut rate, mut rss) = (Table::cols(&head), Table::cols(&head));
    let in_mib = |k: f64| format!("{:.1}", k / 1024.0);
    for w in m.workloads().iter() {
        rate.separator();
        rss.separator();
        for a in m.allocators() {
            let cells: Vec<_> = counts.iter().map(|t| (*t, m.cell_at(w, &a, *t))).collect();
            let mut units = cells.iter().filter_map(|c| c.1).map(|c| c.unit.clone());
            let unit = units.find(|u| !u.is_empty());
            let Some(unit) = unit else { continue };
            let to = reference.as_deref().filter(|r| *r != a);
            let point = |&(t, c): &(u64, Option<&Cell>)| {
                let Some(c) = c else { return "—".into() };
                let ratio = |r| or_dash(m.ratio_at(w, &a, r, t), |x| format!("{:.2}", x.median));
                let ratio = to.map_or(String::new(), |r| format!(" ×{}", ratio(r)));
                let bad = c.invalid_runs() + c.failed_runs() > 0;
                let flag = if bad { "!" } else { "" };
                format!("{}{ratio}{flag}", or_dash(c.summary(), |x| si(x.median)))
            };
            let peak = |(_, c): &(u64, Option<&Cell>)| c.and_then(|c| c.median("peak_rss_kib"));
            let peaks = cells.iter().map(|p| or_dash(peak(p), in_mib));
            let (points, name) = (cells.iter().map(point), [w.clone(), a.clone()]);
            rate.row(name.clone().into_iter().chain([unit]).chain(points));
            rss.row(name.into_iter().chain(["MiB".into()]).chain(peaks));
        }
    }
    let title = format!("Thread sweep: throughput against --threads (median of {} rounds; ×{rname} = median of per-round ratios to {rname} at the same T; ! = invalid or failed runs)", m.config.runs);
    let rss_title = "Thread sweep: peak RSS against --threads (median, MiB)";
    section(&title, &rate, "\n") + &section(rss_title, &rss, "")
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
        assert_eq!(
            best_among(&m, "mt-remote-r90", PEERS).as_deref(),
            Some("mimalloc")
        );
        // One invalid run of three: still a fair comparison.
        let i = m
            .cells
            .iter()
            .position(|c| c.allocator == "mimalloc")
            .unwrap();
        m.cells[i].valid_runs = vec![true, false, true];
        assert_eq!(
            best_among(&m, "mt-remote-r90", PEERS).as_deref(),
            Some("mimalloc")
        );
        // Two of three: mimalloc measured unlike work; jemalloc is the best peer.
        m.cells[i].valid_runs = vec![false, false, true];
        assert_eq!(
            best_among(&m, "mt-remote-r90", PEERS).as_deref(),
            Some("jemalloc")
        );
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
            c.ops_runs = vec![None; 2];
            c.minor_faults_runs = vec![None; 2];
            c.sys_s_runs = vec![None; 2];
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
    }

    #[test]
    fn invalid_runs_without_fallback_rates_are_noted() {
        let mut m = synthetic(2, &[("size-shift", "hz3-a", &[1.0, 2.0])]);
        m.cells[0].valid_runs[1] = false;
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
        assert!(render_all(&m).contains("== threads-many"));
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
