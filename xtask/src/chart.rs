//! `--chart PATH.svg`: per workload, one bar per allocator in three panels, all on log axes:
//! the ratio to the reference (median of per-round ratios, drawn from the 1× line up for a lead
//! and down for a lag; whiskers: min–max of the per-round ratios), the peak RSS and, when the
//! results carry them, the minor page faults per 1000 operations. For a thread sweep, one row per
//! workload instead: throughput and peak RSS against the thread count, a line per allocator.
//! Hand-written SVG (a few dozen elements with tooltips, which a plotting crate would drop).

use std::fmt::Write as _;
use std::path::Path;

use crate::report::matrix_reference;
use crate::results::{Cell, Matrix};
use crate::stats::Summary;
use crate::table::si;

const FIXED_COLOURS: &[(&str, &str)] = &[
    ("system", "#7f7f7f"),
    ("mimalloc", "#1f77b4"),
    ("jemalloc", "#9467bd"),
    ("snmalloc", "#17becf"),
    ("hz3-a", "#d62728"),
    ("hz3-b", "#ff7f0e"),
    ("hz3-c", "#2ca02c"),
    ("hz3-d", "#8c564b"),
    ("hz3-c-packed", "#e377c2"),
    ("hz3-preload", "#ff9896"),
    ("mimalloc-preload", "#aec7e8"),
    ("jemalloc-preload", "#c5b0d5"),
    ("mimalloc3-preload", "#08306b"),
    ("snmalloc-preload", "#9edae5"),
    ("tcmalloc-preload", "#dbdb8d"),
];
const EXTRA_COLOURS: &[&str] = &[
    "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
];

fn colour(allocator: &str, index: usize) -> &'static str {
    FIXED_COLOURS
        .iter()
        .find(|(a, _)| *a == allocator)
        .map(|(_, c)| *c)
        .unwrap_or(EXTRA_COLOURS[index % EXTRA_COLOURS.len()])
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the chart of `m` to `path`.
pub fn write(path: &Path, m: &Matrix) -> Result<(), String> {
    std::fs::write(path, render(m)).map_err(|e| format!("writing {}: {e}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}

/// A "nice" axis maximum and tick step covering `max`.
pub fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// A panel with a log10 axis from `10^lo` to `10^hi` (values outside sit on its edges).
struct LogPanel {
    top: f64,
    height: f64,
    lo: i32,
    hi: i32,
}

impl LogPanel {
    /// The decades that cover `lo..=hi` (values ≤ 0 ignored), at least `min_span` of them.
    fn covering(top: f64, height: f64, lo: f64, hi: f64, min_span: i32) -> LogPanel {
        let lo = lo.log10().floor() as i32;
        let hi = (hi.log10().ceil() as i32).max(lo + min_span);
        LogPanel {
            top,
            height,
            lo,
            hi,
        }
    }
    fn y(&self, v: f64) -> f64 {
        let e = if v > 0.0 { v.log10() } else { f64::MIN };
        let f = (e - self.lo as f64) / (self.hi - self.lo) as f64;
        self.top + self.height * (1.0 - f.clamp(0.0, 1.0))
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
    /// The 1-2-5 ticks of every decade (the decades alone when there are more than four).
    fn ticks(&self) -> Vec<f64> {
        let mut v = Vec::new();
        let steps: &[f64] = if self.hi - self.lo > 4 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        for e in self.lo..self.hi {
            v.extend(steps.iter().map(|m| m * 10f64.powi(e)));
        }
        v.push(10f64.powi(self.hi));
        v
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

/// Grid, tick labels and the rotated axis title of a panel spanning `left..right`.
fn axis(s: &mut String, ticks: &[(f64, String)], left: f64, right: f64, mid: f64, title: &str) {
    for (y, label) in ticks {
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{label}</text>"##,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<text transform="translate(16,{mid:.1}) rotate(-90)" text-anchor="middle" fill="#333">{}</text>"##,
        esc(title)
    );
}

fn log_axis(s: &mut String, p: &LogPanel, left: f64, right: f64, title: &str) {
    let ticks: Vec<(f64, String)> = p.ticks().iter().map(|&v| (p.y(v), tick_label(v))).collect();
    axis(s, &ticks, left, right, p.top + p.height / 2.0, title);
}

/// The SVG head, title, subtitle lines and the legend (6 allocators a row).
fn head(s: &mut String, m: &Matrix, size: (f64, f64), title: &str, setup: &str) {
    let (w, h) = size;
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="16" font-weight="bold">{}</text>
<text x="{LEFT}" y="40" fill="#555">{}</text><text x="{LEFT}" y="56" fill="#555">{}</text>"##,
        esc(title),
        esc(&m.machine.describe()),
        esc(setup)
    );
    for (i, a) in m.allocators().iter().enumerate() {
        let (x, y) = (LEFT + (i % 6) as f64 * 130.0, 68.0 + (i / 6) as f64 * 18.0);
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            colour(a, i),
            x + 17.0,
            y + 10.5,
            esc(a)
        );
    }
}

const LEFT: f64 = 80.0;

/// The height of the title, subtitle and legend block.
fn head_height(m: &Matrix) -> f64 {
    74.0 + m.allocators().len().div_ceil(6) as f64 * 18.0
}

/// Wide enough for the machine line (about 6.5 px per character at 12 px).
fn min_width(m: &Matrix) -> f64 {
    LEFT + 6.5 * m.machine.describe().chars().count() as f64
}

/// One bar: its value, whisker, whether it is faded (invalid runs) and its tooltip.
struct Bar {
    v: f64,
    whisker: Option<(f64, f64)>,
    faded: bool,
    tip: String,
}

impl Bar {
    fn plain(v: f64, tip: String) -> Bar {
        Bar {
            v,
            whisker: None,
            faded: false,
            tip,
        }
    }
}

/// A panel kind: axis title, height of each row, whether bars rise or fall from 1 (else from
/// the bottom), a fixed bottom value, and the bar of each cell.
type Section<'a> = (
    String,
    f64,
    bool,
    Option<f64>,
    &'a dyn Fn(&str, &str, &Cell) -> Option<Bar>,
);

/// Workload groups per row of a panel: the rows wrap so that the chart stays about 1000 px wide.
const PER_ROW: usize = 7;

/// Renders the chart (the sweep chart when the results hold more than one thread count).
pub fn render(m: &Matrix) -> String {
    if m.is_sweep() {
        return render_sweep(m);
    }
    let workloads = m.workloads();
    let allocators = m.allocators();
    let reference = matrix_reference(m).unwrap_or_else(|| "system".into());
    let ratio_bar = |w: &str, a: &str, c: &Cell| {
        let r = if a == reference {
            c.summary().and(Summary::of(&[1.0]))
        } else {
            m.ratio(w, a, &reference)
        }?;
        let tip = format!(
            "×{:.3} (min {:.3}, max {:.3}, CV {:.1}%)",
            r.median,
            r.min,
            r.max,
            r.cv * 100.0
        );
        let faded = c.invalid_runs() > 0;
        Some(Bar {
            v: r.median,
            whisker: Some((r.min, r.max)),
            faded,
            tip,
        })
    };
    let rss_bar = |_: &str, _: &str, c: &Cell| {
        let mb = c.peak_rss_median()? / 1024.0;
        Some(Bar::plain(mb, format!("peak RSS {mb:.1} MiB")))
    };
    let faults_bar = |_: &str, _: &str, c: &Cell| {
        let f = c.minor_faults_per_kop()?;
        let sys = c
            .sys_s_median()
            .map_or(String::new(), |s| format!(", sys {s:.2} s"));
        Some(Bar::plain(
            f,
            format!("{f:.3} minor faults per 1k ops{sys}"),
        ))
    };
    let mut sections: Vec<Section> = vec![
        (
            format!("× {reference} (log)"),
            260.0,
            true,
            None,
            &ratio_bar,
        ),
        ("peak RSS (MiB, log)".into(), 150.0, false, None, &rss_bar),
    ];
    // The faults panel only when some run reported its page faults (older files did not).
    if m.cells.iter().any(|c| c.minor_faults_per_kop().is_some()) {
        let title = "minor faults / 1k ops (log)".to_string();
        sections.push((title, 150.0, false, Some(0.01), &faults_bar));
    }
    let (bar, gap, right) = (12.0, 28.0, 30.0);
    let group_w = allocators.len() as f64 * bar + gap;
    let per_row = if workloads.len() > PER_ROW + 1 {
        PER_ROW
    } else {
        workloads.len()
    };
    let rows: Vec<&[String]> = workloads.chunks(per_row.max(1)).collect();
    let width = (LEFT + right + group_w * per_row as f64)
        .max(760.0)
        .max(min_width(m));
    let plot_right = LEFT + group_w * per_row as f64;
    let row_gap = 40.0;
    let height = head_height(m)
        + sections
            .iter()
            .map(|s| rows.len() as f64 * (s.1 + row_gap) + 30.0)
            .sum::<f64>()
        + 40.0;
    let mut s = String::new();
    head(
        &mut s,
        m,
        (width, height),
        &format!("hz3-rs bench-matrix: throughput relative to {reference} (median of per-round ratios, log axis; whiskers min–max)"),
        &format!(
            "{} rounds × {} ms · {} threads · mode {}",
            m.config.runs, m.config.duration_ms, m.config.threads, m.config.mode
        ),
    );
    let mut top = head_height(m) + 30.0;
    for (title, panel_h, from_one, fixed_lo, bar_of) in sections {
        // One axis for every row of a section, so that rows compare.
        let (mut lo, mut hi) = (fixed_lo.unwrap_or(f64::MAX), 1.0f64);
        if from_one {
            (lo, hi) = (0.9, 1.1);
        }
        for c in &m.cells {
            if let Some(b) = bar_of(&c.workload, &c.allocator, c) {
                for v in [
                    b.v,
                    b.whisker.map_or(b.v, |w| w.0),
                    b.whisker.map_or(b.v, |w| w.1),
                ] {
                    if v > 0.0 && v.is_finite() {
                        (lo, hi) = (fixed_lo.unwrap_or(lo.min(v)), hi.max(v));
                    }
                }
            }
        }
        for row in &rows {
            let p = LogPanel::covering(top, panel_h, lo.min(hi), hi, 1);
            log_axis(&mut s, &p, LEFT, plot_right, &title);
            let base = if from_one { p.y(1.0) } else { p.bottom() };
            if from_one {
                let _ = writeln!(
                    s,
                    r##"<line x1="{LEFT}" y1="{base:.1}" x2="{plot_right:.1}" y2="{base:.1}" stroke="#000" stroke-width="1.5" stroke-dasharray="6,4"/><text x="{LEFT}" y="{:.1}" font-weight="bold">dashed: 1× {} (bars above it lead, below it lag)</text>"##,
                    top - 6.0,
                    esc(&reference)
                );
            }
            for (j, w) in row.iter().enumerate() {
                let gx = LEFT + gap / 2.0 + j as f64 * group_w;
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    gx + allocators.len() as f64 * bar / 2.0,
                    p.bottom() + 16.0,
                    esc(w)
                );
                for (ai, a) in allocators.iter().enumerate() {
                    let Some(b) = m.cell(w, a).and_then(|c| bar_of(w, a, c)) else {
                        continue;
                    };
                    let x = gx + ai as f64 * bar;
                    let y = p.y(b.v);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"{}><title>{} / {}: {}</title></rect>"#,
                        x + 1.0,
                        y.min(base),
                        bar - 2.0,
                        (y - base).abs().max(1.0),
                        colour(a, ai),
                        if b.faded {
                            r#" fill-opacity="0.35""#
                        } else {
                            ""
                        },
                        esc(w),
                        esc(a),
                        esc(&b.tip)
                    );
                    if let Some((lo, hi)) = b.whisker {
                        let (cx, ylo, yhi) = (x + bar / 2.0, p.y(lo), p.y(hi));
                        let _ = writeln!(
                            s,
                            r##"<line x1="{cx:.1}" y1="{ylo:.1}" x2="{cx:.1}" y2="{yhi:.1}" stroke="#222"/>"##
                        );
                        if b.faded {
                            let _ = writeln!(
                                s,
                                r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="#c00" font-weight="bold">!</text>"##,
                                yhi - 3.0
                            );
                        }
                    }
                }
            }
            top += panel_h + row_gap;
        }
        top += 30.0;
    }
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">Faded bars marked ! had invalid runs (mt-remote over its 0.1% fallback limit, size-shift cut short). Values below an axis sit on it.</text>"##,
        height - 14.0
    );
    s.push_str("</svg>\n");
    s
}

/// The sweep chart: per workload, throughput (median of rounds) and peak RSS (median) against
/// the thread count, one line per allocator; tooltips carry the figures and the per-round ratio to
/// the reference at that count. Points with invalid runs are hollow.
pub fn render_sweep(m: &Matrix) -> String {
    let workloads = m.workloads();
    let allocators = m.allocators();
    let counts = m.thread_counts();
    let reference = matrix_reference(m).unwrap_or_else(|| "system".into());
    let (panel_w, panel_h, gap, row_gap) = (430.0, 190.0, 90.0, 70.0);
    let width = (LEFT + 2.0 * panel_w + gap + 40.0).max(min_width(m));
    let title_h = head_height(m);
    let height = title_h + 20.0 + workloads.len() as f64 * (panel_h + row_gap) + 30.0;
    let x_of = |i: usize, x0: f64| {
        if counts.len() <= 1 {
            x0 + panel_w / 2.0
        } else {
            x0 + 20.0 + (panel_w - 40.0) * i as f64 / (counts.len() - 1) as f64
        }
    };
    let mut s = String::new();
    let threads: Vec<String> = counts.iter().map(u64::to_string).collect();
    head(
        &mut s,
        m,
        (width, height),
        "hz3-rs bench-matrix thread sweep: throughput and peak RSS against --threads (medians of rounds)",
        &format!(
            "{} rounds × {} ms · threads {} · mode {}",
            m.config.runs,
            m.config.duration_ms,
            threads.join(", "),
            m.config.mode
        ),
    );
    for (wi, w) in workloads.iter().enumerate() {
        let top = title_h + 20.0 + wi as f64 * (panel_h + row_gap);
        let unit = m
            .cells
            .iter()
            .find(|c| &c.workload == w && !c.unit.is_empty())
            .map_or(String::new(), |c| c.unit.clone());
        type Value = fn(&Cell) -> Option<f64>;
        let panels: [(String, f64, Value); 2] = [
            (format!("{w}: {unit}"), LEFT, |c| {
                c.summary().map(|s| s.median)
            }),
            (format!("{w}: peak RSS (MiB)"), LEFT + panel_w + gap, |c| {
                c.peak_rss_median().map(|k| k / 1024.0)
            }),
        ];
        for (label, x0, value) in panels {
            let vmax = m
                .cells
                .iter()
                .filter(|c| &c.workload == w)
                .filter_map(value)
                .fold(0.0f64, f64::max);
            let (ymax, step) = nice_axis(vmax);
            let y = |v: f64| top + panel_h * (1.0 - (v / ymax).clamp(0.0, 1.0));
            let ticks: Vec<(f64, String)> = (0..)
                .map(|i| i as f64 * step)
                .take_while(|v| *v <= ymax + 1e-9)
                .map(|v| (y(v), si(v)))
                .collect();
            axis(&mut s, &ticks, x0, x0 + panel_w, -100.0, "");
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><text x="{x0}" y="{:.1}" font-weight="bold">{}</text>"##,
                y(0.0),
                x0 + panel_w,
                y(0.0),
                top - 8.0,
                esc(&label)
            );
            for (i, t) in counts.iter().enumerate() {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">T={t}</text>"#,
                    x_of(i, x0),
                    y(0.0) + 16.0
                );
            }
            for (ai, a) in allocators.iter().enumerate() {
                let col = colour(a, ai);
                let pts: Vec<(usize, u64, &Cell, f64)> = counts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| {
                        let c = m.cell_at(w, a, *t)?;
                        Some((i, *t, c, value(c)?))
                    })
                    .collect();
                if pts.len() > 1 {
                    let path: Vec<String> = pts
                        .iter()
                        .map(|(i, _, _, v)| format!("{:.1},{:.1}", x_of(*i, x0), y(*v)))
                        .collect();
                    let _ = writeln!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="1.5"/>"#,
                        path.join(" ")
                    );
                }
                for (i, t, c, v) in pts {
                    let ratio = m
                        .ratio_at(w, a, &reference, t)
                        .filter(|_| *a != reference)
                        .map_or(String::new(), |r| format!(", ×{:.3} {reference}", r.median));
                    let invalid = c.invalid_runs() > 0;
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}" stroke="{col}"><title>{} / {} at T={t}: {}{}{}</title></circle>"#,
                        x_of(i, x0),
                        y(v),
                        if invalid { "white" } else { col },
                        esc(w),
                        esc(a),
                        esc(&si(v)),
                        esc(&ratio),
                        if invalid { " (invalid runs)" } else { "" }
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">Hollow points had invalid runs. Tooltips: the median and the median of per-round ratios to {} at that thread count.</text>"##,
        height - 14.0,
        esc(&reference)
    );
    s.push_str("</svg>\n");
    s
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
            c.minor_faults = vec![None; 3];
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
        let p = LogPanel::covering(0.0, 100.0, 0.01, 100.0, 1);
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
        let q = LogPanel::covering(0.0, 10.0, 1.0, 1.0, 1);
        assert_eq!((q.lo, q.hi), (0, 1), "at least one decade");
    }
}
