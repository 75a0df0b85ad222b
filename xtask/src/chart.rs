//! `--chart PATH.svg`: per workload, a bar per allocator in three panels on log axes: the ratio to
//! the reference (median of per-round ratios, up from 1× for a lead, down for a lag; whiskers
//! min–max), peak RSS and, when the results carry them, minor page faults per 1000 operations. A
//! thread sweep: throughput and peak RSS against the thread count, a line per allocator.
//! Hand-written SVG (a few dozen elements with tooltips, which a plotting crate would drop).

use std::fmt::Display;
use std::path::Path;

use crate::report::matrix_reference;
use crate::results::{Cell, Matrix};
use crate::stats::Summary;
use crate::table::si;

/// `allocator:colour` pairs; the other allocators take the `EXTRA_COLOURS` in turn.
const FIXED_COLOURS: &str = "system:#7f7f7f mimalloc:#1f77b4 jemalloc:#9467bd snmalloc:#17becf \
    hz3-a:#d62728 hz3-b:#ff7f0e hz3-c:#2ca02c hz3-d:#8c564b hz3-c-packed:#e377c2 \
    hz3-preload:#ff9896 mimalloc-preload:#aec7e8 jemalloc-preload:#c5b0d5 \
    mimalloc3-preload:#08306b snmalloc-preload:#9edae5 tcmalloc-preload:#dbdb8d";
const EXTRA_COLOURS: &str = "#bcbd22 #393b79 #637939 #8c6d31 #843c39 #7b4173 #3182bd #e6550d";

fn colour(allocator: &str, index: usize) -> &'static str {
    let mut pairs = FIXED_COLOURS.split(' ').filter_map(|p| p.split_once(':'));
    let fixed = pairs.find(|(a, _)| *a == allocator).map(|(_, c)| c);
    fixed.unwrap_or_else(|| EXTRA_COLOURS.split(' ').cycle().nth(index).unwrap())
}

fn esc(s: &str) -> String {
    let s = s.replace('&', "&amp;").replace('<', "&lt;");
    s.replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes the chart of `m` to `path`.
pub fn write(path: &Path, m: &Matrix) -> Result<(), String> {
    std::fs::write(path, render(m)).map_err(|e| format!("writing {}: {e}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}

/// A "nice" axis maximum and tick step covering `max`.
pub fn nice_axis(max: f64) -> (f64, f64) {
    let max = Some(max).filter(|m| m.is_finite() && *m > 0.0);
    let raw = max.unwrap_or(1.0) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let steps = [1.0, 2.0, 2.5, 5.0, 10.0].map(|m| m * mag);
    let step = steps.into_iter().find(|s| *s >= raw).unwrap_or(10.0 * mag);
    ((max.unwrap_or(1.0) / step).ceil() * step, step)
}

/// A panel with a log10 axis from `10^lo` to `10^hi` (values outside sit on its edges).
struct LogPanel {
    top: f64,
    h: f64,
    lo: i32,
    hi: i32,
}

impl LogPanel {
    /// The decades that cover `lo..=hi` (values ≤ 0 ignored), at least one.
    fn covering(top: f64, h: f64, lo: f64, hi: f64) -> LogPanel {
        let lo = lo.log10().floor() as i32;
        let hi = (hi.log10().ceil() as i32).max(lo + 1);
        LogPanel { top, h, lo, hi }
    }
    fn y(&self, v: f64) -> f64 {
        let e = if v > 0.0 { v.log10() } else { f64::MIN };
        let f = (e - self.lo as f64) / (self.hi - self.lo) as f64;
        self.top + self.h * (1.0 - f.clamp(0.0, 1.0))
    }
    /// The heights and labels of the 1-2-5 ticks of each decade (of the decades alone above four).
    fn ticks(&self) -> Vec<(f64, String)> {
        let steps = if self.hi - self.lo > 4 { 1 } else { 3 };
        let decade = |e| (0..steps).map(move |i| [1.0, 2.0, 5.0][i] * 10f64.powi(e));
        let mut v: Vec<f64> = (self.lo..self.hi).flat_map(decade).collect();
        v.push(10f64.powi(self.hi));
        v.into_iter().map(|v| (self.y(v), tick_label(v))).collect()
    }
}

/// "0.01", "0.5", "1", "20", "1k", "5M" for a tick value.
fn tick_label(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{}", (v * 1000.0).round() / 1000.0),
    }
}

const LEFT: f64 = 80.0;
const BOLD: &str = r#" font-weight="bold""#;
const MIDDLE: &str = r#" text-anchor="middle""#;
const ALERT: &str = r##" text-anchor="middle" fill="#c00" font-weight="bold""##;

/// A horizontal line from `x1` to `x2` at `y`; `attrs` start with a space.
fn hline(x1: f64, x2: f64, y: f64, attrs: &str) -> String {
    format!(r#"<line x1="{x1}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}"{attrs}/>"#)
}

/// A text at (`x`, `y`); `attrs` start with a space.
fn text(x: impl Display, y: f64, attrs: &str, body: &str) -> String {
    format!(r#"<text x="{x}" y="{y:.1}"{attrs}>{body}</text>"#)
}

/// Grid, tick labels and the rotated axis title of a panel spanning `x` (left, right).
fn axis(out: &mut Vec<String>, ticks: &[(f64, String)], x: (f64, f64), mid: f64, title: &str) {
    let ((left, right), attrs) = (x, r##" text-anchor="end" fill="#333""##);
    for (y, label) in ticks {
        let label = text(format!("{:.1}", left - 6.0), y + 4.0, attrs, label);
        out.push(hline(left, right, *y, r##" stroke="#e0e0e0""##) + &label);
    }
    let title = esc(title);
    out.push(format!(r##"<text transform="translate(16,{mid:.1}) rotate(-90)" text-anchor="middle" fill="#333">{title}</text>"##));
}

/// SVG head, titles and legend, at least `width` wide and as wide as the machine line (6.5 px/char).
fn head(m: &Matrix, width: f64, h: f64, title: &str, threads: &str) -> Vec<String> {
    let (c, machine) = (&m.config, m.machine.describe());
    let w = width.max(LEFT + 6.5 * machine.chars().count() as f64);
    let setup = format!("{} rounds × {} ms · {threads}", c.runs, c.duration_ms);
    let (title, machine, setup, mode) = (esc(title), esc(&machine), esc(&setup), esc(&c.mode));
    let mut out = vec![format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="16" font-weight="bold">{title}</text>
<text x="{LEFT}" y="40" fill="#555">{machine}</text><text x="{LEFT}" y="56" fill="#555">{setup} · mode {mode}</text>"##
    )];
    for (i, a) in m.allocators().iter().enumerate() {
        let (x, y) = (LEFT + (i % 6) as f64 * 130.0, 68.0 + (i / 6) as f64 * 18.0);
        let fill = colour(a, i);
        let swatch = format!(r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{fill}"/>"#);
        out.push(swatch + &text(x + 17.0, y + 10.5, "", &esc(a)));
    }
    out
}

/// The height of the title, subtitle and legend block.
fn head_height(m: &Matrix) -> f64 {
    74.0 + m.allocators().len().div_ceil(6) as f64 * 18.0
}

/// The SVG of `out` with a note under the chart.
fn foot(mut out: Vec<String>, height: f64, note: &str) -> String {
    out.push(text(LEFT, height - 14.0, r##" fill="#555""##, note));
    out.join("\n") + "\n</svg>\n"
}

/// A bar: its value, its whisker's ends (the value again where it has none) and its tooltip.
type Bar = (f64, f64, f64, String);
type BarOf<'a> = &'a dyn Fn(&Cell) -> Option<Bar>;

/// Workload groups per row of a panel: the rows wrap so that the chart stays about 1000 px wide.
const PER_ROW: usize = 7;

/// Renders the chart (the sweep chart when the results hold more than one thread count).
pub fn render(m: &Matrix) -> String {
    let reference = matrix_reference(m).unwrap_or_else(|| "system".into());
    if m.thread_counts().len() > 1 {
        return render_sweep(m, &reference);
    }
    let (workloads, allocators) = (m.workloads(), m.allocators());
    let ratio = |c: &Cell| -> Option<Bar> {
        let r = (c.allocator != reference).then(|| m.ratio(&c.workload, &c.allocator, &reference));
        let r = r.unwrap_or_else(|| c.summary().and(Summary::of(&[1.0])))?;
        let (med, min, max, cv) = (r.median, r.min, r.max, r.cv * 100.0);
        let tip = format!("×{med:.3} (min {min:.3}, max {max:.3}, CV {cv:.1}%)");
        Some((med, min, max, tip))
    };
    let rss = |c: &Cell| -> Option<Bar> {
        let mb = c.median("peak_rss_kib")? / 1024.0;
        Some((mb, mb, mb, format!("peak RSS {mb:.1} MiB")))
    };
    let faults = |c: &Cell| -> Option<Bar> {
        let (f, sys) = (c.minor_faults_per_kop()?, c.median("sys_s"));
        let sys = sys.map_or(String::new(), |s| format!(", sys {s:.2} s"));
        Some((f, f, f, format!("{f:.3} minor faults per 1k ops{sys}")))
    };
    // Per panel: axis title, row height, fixed bottom, bar per cell (the first's rise or fall from 1).
    let ratio_title = format!("× {reference} (log)");
    let mut panels: Vec<(&str, f64, Option<f64>, BarOf)> = vec![
        (&ratio_title, 260.0, None, &ratio),
        ("peak RSS (MiB, log)", 150.0, None, &rss),
        ("minor faults / 1k ops (log)", 150.0, Some(0.01), &faults),
    ];
    // The faults panel only when some run reported its page faults (older files did not).
    panels.truncate(2 + usize::from(m.cells.iter().any(|c| faults(c).is_some())));
    let (bar_w, gap, row_gap) = (12.0, 28.0, 40.0);
    let group_w = allocators.len() as f64 * bar_w + gap;
    let wrap = workloads.len() > PER_ROW + 1;
    let per_row = if wrap { PER_ROW } else { workloads.len() };
    let rows: Vec<&[String]> = workloads.chunks(per_row.max(1)).collect();
    let (n, plot_right) = (rows.len() as f64, LEFT + group_w * per_row as f64);
    let rows_h: f64 = panels.iter().map(|p| n * (p.1 + row_gap) + 30.0).sum();
    let height = head_height(m) + rows_h + 40.0;
    let title = format!("hz3-rs bench-matrix: throughput relative to {reference} (median of per-round ratios, log axis; whiskers min–max)");
    let threads = format!("{} threads", m.config.threads);
    let mut out = head(m, (plot_right + 30.0).max(760.0), height, &title, &threads);
    let (mut top, r) = (head_height(m) + 30.0, esc(&reference));
    for (i, (title, panel_h, floor, bar)) in panels.into_iter().enumerate() {
        let from_one = i == 0;
        // One axis for every row of a panel, so that rows compare.
        let vals = m.cells.iter().filter_map(bar).flat_map(|b| [b.0, b.1, b.2]);
        let vals = vals.filter(|v| *v > 0.0 && v.is_finite());
        let start = if i == 0 { (0.9, 1.1) } else { (f64::MAX, 1.0) };
        let (lo, hi) = vals.fold(start, |(lo, hi): (f64, f64), v| (lo.min(v), hi.max(v)));
        let lo = floor.unwrap_or(lo).min(hi);
        for row in &rows {
            let p = LogPanel::covering(top, panel_h, lo, hi);
            let mid = top + panel_h / 2.0;
            axis(&mut out, &p.ticks(), (LEFT, plot_right), mid, title);
            let base = p.y(if from_one { 1.0 } else { 0.0 });
            if from_one {
                let dashes = r##" stroke="#000" stroke-width="1.5" stroke-dasharray="6,4""##;
                let note = format!("dashed: 1× {r} (bars above it lead, below it lag)");
                let line = hline(LEFT, plot_right, base, dashes);
                out.push(line + &text(LEFT, top - 6.0, BOLD, &note));
            }
            for (j, w) in row.iter().enumerate() {
                let gx = LEFT + gap / 2.0 + j as f64 * group_w;
                let mid = format!("{:.1}", gx + allocators.len() as f64 * bar_w / 2.0);
                out.push(text(mid, p.y(0.0) + 16.0, MIDDLE, &esc(w)));
                for (ai, a) in allocators.iter().enumerate() {
                    let Some(c) = m.cell(w, a) else { continue };
                    let Some(b) = bar(c) else { continue };
                    let faded = from_one && c.invalid_runs() > 0;
                    let (x, y, fill) = (gx + ai as f64 * bar_w, p.y(b.0), colour(a, ai));
                    let (rx, ry, rw, rh) =
                        (x + 1.0, y.min(base), bar_w - 2.0, (y - base).abs().max(1.0));
                    let fade = if faded { r#" fill-opacity="0.35""# } else { "" };
                    let tip = format!("{} / {}: {}", esc(w), esc(a), esc(&b.3));
                    out.push(format!(r#"<rect x="{rx:.1}" y="{ry:.1}" width="{rw:.1}" height="{rh:.1}" fill="{fill}"{fade}><title>{tip}</title></rect>"#));
                    if from_one {
                        let (cx, y1, y2) = (format!("{:.1}", x + bar_w / 2.0), p.y(b.1), p.y(b.2));
                        out.push(format!(r##"<line x1="{cx}" y1="{y1:.1}" x2="{cx}" y2="{y2:.1}" stroke="#222"/>"##));
                        if faded {
                            out.push(text(cx, y2 - 3.0, ALERT, "!"));
                        }
                    }
                }
            }
            top += panel_h + row_gap;
        }
        top += 30.0;
    }
    foot(out, height, "Faded bars marked ! had invalid runs (mt-remote over its 0.1% fallback limit, size-shift cut short). Values below an axis sit on it.")
}

/// The sweep chart: per workload, a line per allocator of median throughput and peak RSS by count.
fn render_sweep(m: &Matrix, reference: &str) -> String {
    let (workloads, allocators, counts) = (m.workloads(), m.allocators(), m.thread_counts());
    let r = esc(reference);
    let (panel_w, panel_h, gap, row_gap) = (430.0, 190.0, 90.0, 70.0);
    let top0 = head_height(m) + 20.0;
    let height = top0 + workloads.len() as f64 * (panel_h + row_gap) + 30.0;
    let x_of = |i: usize, x0| x0 + 20.0 + (panel_w - 40.0) * i as f64 / (counts.len() - 1) as f64;
    let title = "hz3-rs bench-matrix thread sweep: throughput and peak RSS against --threads (medians of rounds)";
    let threads: Vec<String> = counts.iter().map(u64::to_string).collect();
    let threads = format!("threads {}", threads.join(", "));
    let width = LEFT + 2.0 * panel_w + gap + 40.0;
    let mut out = head(m, width, height, title, &threads);
    type Value = fn(&Cell) -> Option<f64>;
    let median: Value = |c| c.summary().map(|s| s.median);
    let rss: Value = |c| c.median("peak_rss_kib").map(|k| k / 1024.0);
    for (wi, w) in workloads.iter().enumerate() {
        let top = top0 + wi as f64 * (panel_h + row_gap);
        let cells: Vec<&Cell> = m.cells.iter().filter(|c| &c.workload == w).collect();
        let unit = cells.iter().map(|c| &*c.unit).find(|u| !u.is_empty());
        let panels = [(unit.unwrap_or(""), median), ("peak RSS (MiB)", rss)];
        for (pi, (label, value)) in panels.into_iter().enumerate() {
            let x0 = LEFT + pi as f64 * (panel_w + gap);
            let (ymax, step) = nice_axis(cells.iter().filter_map(|c| value(c)).fold(0.0, f64::max));
            let y = |v: f64| top + panel_h * (1.0 - (v / ymax).clamp(0.0, 1.0));
            let lim = ymax + 1e-9;
            let ticks = (0..).map(|i| i as f64 * step).take_while(|v| *v <= lim);
            let ticks: Vec<_> = ticks.map(|v| (y(v), si(v))).collect();
            axis(&mut out, &ticks, (x0, x0 + panel_w), -100.0, "");
            let label = text(x0, top - 8.0, BOLD, &esc(&format!("{w}: {label}")));
            out.push(hline(x0, x0 + panel_w, y(0.0), r##" stroke="#333""##) + &label);
            for (i, t) in counts.iter().enumerate() {
                let x = format!("{:.1}", x_of(i, x0));
                out.push(text(x, y(0.0) + 16.0, MIDDLE, &format!("T={t}")));
            }
            for (ai, a) in allocators.iter().enumerate() {
                let (col, who) = (colour(a, ai), format!("{} / {}", esc(w), esc(a)));
                // The points' circles come after the line through them.
                let (mut path, mut dots) = (Vec::new(), Vec::new());
                let at = |(i, &t): (usize, &u64)| Some((i, t, m.cell_at(w, a, t)?));
                for (i, t, c) in counts.iter().enumerate().filter_map(at) {
                    let Some(v) = value(c) else { continue };
                    let (cx, cy) = (x_of(i, x0), y(v));
                    path.push(format!("{cx:.1},{cy:.1}"));
                    let ratio = m.ratio_at(w, a, reference, t).filter(|_| a != reference);
                    let ratio = ratio.map_or(String::new(), |x| format!(", ×{:.3} {r}", x.median));
                    let invalid = c.invalid_runs() > 0;
                    let fill = if invalid { "white" } else { col };
                    let note = if invalid { " (invalid runs)" } else { "" };
                    let tip = format!("{who} at T={t}: {}{ratio}{note}", esc(&si(v)));
                    dots.push(format!(r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="{fill}" stroke="{col}"><title>{tip}</title></circle>"#));
                }
                if path.len() > 1 {
                    let path = path.join(" ");
                    out.push(format!(r#"<polyline points="{path}" fill="none" stroke="{col}" stroke-width="1.5"/>"#));
                }
                out.append(&mut dots);
            }
        }
    }
    let note = format!("Hollow points had invalid runs. Tooltips: the median and the median of per-round ratios to {r} at that thread count.");
    foot(out, height, &note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::synthetic;

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(1.2), (1.25, 0.25));
        assert_eq!(nice_axis(3.7), (4.0, 1.0));
        assert_eq!(nice_axis(87.0), (100.0, 20.0));
        assert_eq!(nice_axis(0.0), (1.0, 0.2));
    }

    #[test]
    fn renders_well_formed_svg_with_every_bar() {
        let m = synthetic(
            3,
            &[
                ("xmalloc", "mimalloc", &[2.0, 2.0, 2.0]),
                ("xmalloc", "hz3-a", &[1.0, 1.5, 2.0]),
                ("local-fixed", "mimalloc", &[2.0, 2.0, 2.0]),
                ("local-fixed", "hz3-a", &[3.0, 3.0, 3.0]),
            ],
        );
        let svg = render(&m);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // 2 workloads x 2 allocators x (ratio bar + RSS bar + faults bar) + legend swatches +
        // background.
        assert_eq!(svg.matches("<rect").count(), 2 * 2 * 3 + 2 + 1);
        assert!(svg.contains("minor faults / 1k ops"));
        // synthetic(): 250.5 faults per 1k ops (median), sys 0.25 s.
        assert!(
            svg.contains("250.500 minor faults per 1k ops, sys 0.25 s"),
            "{svg}"
        );
        assert!(svg.contains("local-fixed / hz3-a"));
        assert!(
            svg.contains("×1.500"),
            "median ratio of hz3-a on local-fixed"
        );
        assert!(
            svg.contains("dashed: 1× mimalloc"),
            "the reference line is named"
        );
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
        assert_eq!(esc("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");

        // A file without fault figures gets no third panel.
        let mut old = m.clone();
        for c in &mut old.cells {
            c.minor_faults_runs = vec![None; 3];
        }
        let svg = render(&old);
        assert_eq!(svg.matches("<rect").count(), 2 * 2 * 2 + 2 + 1);
        assert!(!svg.contains("minor faults / 1k ops"));
    }

    #[test]
    fn a_lead_rises_from_the_1x_line_and_a_lag_falls() {
        let m = synthetic(
            1,
            &[
                ("xmalloc", "mimalloc", &[10.0]),
                ("xmalloc", "hz3-a", &[40.0]),
                ("local-fixed", "mimalloc", &[10.0]),
                ("local-fixed", "hz3-a", &[2.5]),
            ],
        );
        let svg = render(&m);
        let bar = |w: &str| {
            let l = svg
                .lines()
                .find(|l| l.contains(&format!("{w} / hz3-a: ×")))
                .unwrap();
            let num = |k: &str| -> f64 {
                let i = l.find(&format!(" {k}=\"")).unwrap() + k.len() + 3;
                l[i..].split('"').next().unwrap().parse().unwrap()
            };
            (num("y"), num("height"))
        };
        let line = svg
            .lines()
            .find(|l| l.contains("dashed: 1× mimalloc"))
            .unwrap();
        let i = line.find("y1=\"").unwrap() + 4;
        let y1: f64 = line[i..].split('"').next().unwrap().parse().unwrap();
        let (lead_y, lead_h) = bar("xmalloc");
        let (lag_y, lag_h) = bar("local-fixed");
        assert!(
            (lead_y + lead_h - y1).abs() < 0.2,
            "a lead ends at the 1× line"
        );
        assert!((lag_y - y1).abs() < 0.2, "a lag starts at the 1× line");
        assert!(
            (lead_h - lag_h).abs() < 0.5,
            "log axis: ×4 rises as far as ×1/4 falls"
        );
    }

    #[test]
    fn a_sweep_draws_lines_against_the_thread_count() {
        use crate::results::tests::synthetic_at;
        let m = synthetic_at(
            2,
            &[
                ("xmalloc", "mimalloc", 1, &[10.0, 10.0]),
                ("xmalloc", "hz3-a", 1, &[20.0, 20.0]),
                ("xmalloc", "mimalloc", 2, &[15.0, 15.0]),
                ("xmalloc", "hz3-a", 2, &[25.0, 25.0]),
                ("xmalloc", "mimalloc", 4, &[40.0, 40.0]),
                ("xmalloc", "hz3-a", 4, &[20.0, 20.0]),
            ],
        );
        let svg = render(&m);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("thread sweep"));
        // 2 allocators × (throughput + RSS) lines, 3 points each.
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 12);
        assert!(
            svg.contains("xmalloc / hz3-a at T=4: 20.00, ×0.500 mimalloc"),
            "{svg}"
        );
        assert!(svg.contains(">T=1<") && svg.contains(">T=4<"));
        assert!(svg.contains("peak RSS (MiB)"));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn log_panel_and_labels() {
        let p = LogPanel::covering(0.0, 100.0, 0.01, 100.0);
        assert_eq!((p.lo, p.hi), (-2, 2));
        assert_eq!(p.y(100.0), 0.0);
        assert_eq!(p.y(0.01), 100.0);
        assert_eq!(p.y(0.0), 100.0, "zero sits on the axis");
        assert!((p.y(1.0) - 50.0).abs() < 1e-9);
        assert_eq!(p.ticks().len(), 4 * 3 + 1);
        assert_eq!(tick_label(0.01), "0.01");
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(1.0), "1");
        assert_eq!(tick_label(2000.0), "2k");
        assert_eq!(tick_label(5e6), "5M");
        let q = LogPanel::covering(0.0, 10.0, 1.0, 1.0);
        assert_eq!((q.lo, q.hi), (0, 1), "at least one decade");
    }
}
