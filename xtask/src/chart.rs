//! `--chart PATH.svg`: grouped bars of each allocator's ratio to the reference (whiskers: min–max
//! of the per-round ratios) per workload, a second panel of peak RSS and, when the results carry
//! them, a third of minor page faults per 1000 operations (log scale). For a thread sweep
//! (issue 14), one row per workload instead: throughput against the thread count and peak RSS
//! against the thread count, a line per allocator. Hand-written SVG.

use std::fmt::Write as _;

use crate::report::matrix_reference;
use crate::results::Matrix;

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

struct Panel {
    top: f64,
    height: f64,
    y_max: f64,
    step: f64,
}

impl Panel {
    fn y(&self, v: f64) -> f64 {
        self.top + self.height * (1.0 - (v / self.y_max).clamp(0.0, 1.0))
    }
}

/// Lowest decade of the faults panel: smaller values sit on the axis.
const FAULTS_FLOOR: f64 = 0.01;

/// A log10 panel from [`FAULTS_FLOOR`] to `10^top_exp`.
struct LogPanel {
    top: f64,
    height: f64,
    top_exp: i32,
}

impl LogPanel {
    fn bottom_exp(&self) -> i32 {
        FAULTS_FLOOR.log10().round() as i32
    }
    fn y(&self, v: f64) -> f64 {
        let lo = self.bottom_exp() as f64;
        let span = (self.top_exp as f64 - lo).max(1.0);
        let e = v.max(FAULTS_FLOOR).log10();
        self.top + self.height * (1.0 - ((e - lo) / span).clamp(0.0, 1.0))
    }
}

/// "0.01", "0.1", "1", "10", "100", "1k", "10k", ... for the decade `10^e`.
fn decade_label(e: i32) -> String {
    match e {
        e if e < 0 => format!("{}", 10f64.powi(e)),
        0..=2 => format!("{}", 10i64.pow(e as u32)),
        3..=5 => format!("{}k", 10i64.pow(e as u32 - 3)),
        e => format!("{}M", 10i64.pow(e as u32 - 6)),
    }
}

/// Renders the chart (the sweep chart when the results hold more than one thread count).
pub fn render(m: &Matrix) -> String {
    if m.is_sweep() {
        return render_sweep(m);
    }
    let workloads = m.workloads();
    let allocators = m.allocators();
    let reference = matrix_reference(m).unwrap_or_else(|| "system".into());
    let (bar, gap, left, right) = (12.0, 28.0, 70.0, 30.0);
    let group_w = allocators.len() as f64 * bar + gap;
    // Wide enough for the machine line (about 6.5 px per character at 12 px).
    let width = (left + right + group_w * workloads.len() as f64)
        .max(760.0)
        .max(left + 6.5 * m.machine.describe().chars().count() as f64);
    let legend_rows = allocators.len().div_ceil(6) as f64;
    let title_h = 74.0 + legend_rows * 18.0;

    // Panel data.
    let mut ratio_max: f64 = 1.2;
    let mut rss_max: f64 = 1.0;
    for w in &workloads {
        for a in &allocators {
            if let Some(s) = m.ratio(w, a, &reference) {
                ratio_max = ratio_max.max(s.max);
            }
            if let Some(r) = m.cell(w, a).and_then(|c| c.peak_rss_median()) {
                rss_max = rss_max.max(r / 1024.0);
            }
        }
    }
    let (rmax, rstep) = nice_axis(ratio_max);
    let (smax, sstep) = nice_axis(rss_max);
    let p1 = Panel {
        top: title_h + 20.0,
        height: 280.0,
        y_max: rmax,
        step: rstep,
    };
    let p2 = Panel {
        top: p1.top + p1.height + 70.0,
        height: 180.0,
        y_max: smax,
        step: sstep,
    };
    // Panel 3 only when some run reported its page faults (older files did not).
    let faults_max = m
        .cells
        .iter()
        .filter_map(|c| c.minor_faults_per_kop())
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    let p3 = faults_max.map(|f| LogPanel {
        top: p2.top + p2.height + 70.0,
        height: 180.0,
        top_exp: (f.max(1.0).log10().ceil() as i32).max(FAULTS_FLOOR.log10().round() as i32 + 1),
    });
    let height = p3.as_ref().map_or(p2.top + p2.height, |p| p.top + p.height) + 50.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="16" font-weight="bold">hz3-rs bench-matrix: throughput relative to {} (median of per-round ratios; whiskers min–max)</text>"#,
        esc(&reference)
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#555">{}</text><text x="{left}" y="56" fill="#555">{} rounds × {} ms · {} threads · mode {}</text>"##,
        esc(&m.machine.describe()),
        m.config.runs,
        m.config.duration_ms,
        m.config.threads,
        esc(&m.config.mode)
    );
    // Legend.
    for (i, a) in allocators.iter().enumerate() {
        let (row, col) = (i / 6, i % 6);
        let x = left + col as f64 * 130.0;
        let y = 68.0 + row as f64 * 18.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/>"#,
            colour(a, i)
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 17.0,
            y + 10.5,
            esc(a)
        );
    }

    let plot_right = width - right;
    for (panel, label, unit_fmt) in [
        (&p1, format!("× {reference}"), 0),
        (&p2, "peak RSS (MiB)".to_string(), 1),
    ] {
        // Grid and axis labels.
        let mut v = 0.0;
        while v <= panel.y_max + 1e-9 {
            let y = panel.y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{plot_right:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##
            );
            let txt = if unit_fmt == 0 {
                format!("{v:.2}")
            } else {
                format!("{v:.0}")
            };
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#333">{txt}</text>"##,
                left - 6.0,
                y + 4.0
            );
            v += panel.step;
        }
        let _ = writeln!(
            s,
            r##"<text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle" fill="#333">{}</text>"##,
            panel.top + panel.height / 2.0,
            esc(&label)
        );
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{:.1}" x2="{plot_right:.1}" y2="{:.1}" stroke="#333"/>"##,
            panel.y(0.0),
            panel.y(0.0)
        );
    }
    if let Some(p3) = &p3 {
        for e in p3.bottom_exp()..=p3.top_exp {
            let y = p3.y(10f64.powi(e));
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{plot_right:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##
            );
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
                left - 6.0,
                y + 4.0,
                decade_label(e)
            );
        }
        let _ = writeln!(
            s,
            r##"<text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle" fill="#333">minor faults / 1k ops (log)</text>"##,
            p3.top + p3.height / 2.0
        );
        let yb = p3.y(0.0);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yb:.1}" x2="{plot_right:.1}" y2="{yb:.1}" stroke="#333"/>"##
        );
    }
    // Reference line at 1.
    let y1 = p1.y(1.0);
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{y1:.1}" x2="{plot_right:.1}" y2="{y1:.1}" stroke="#000" stroke-dasharray="6,4"/>"##
    );

    for (wi, w) in workloads.iter().enumerate() {
        let gx = left + gap / 2.0 + wi as f64 * group_w;
        for (ai, a) in allocators.iter().enumerate() {
            let x = gx + ai as f64 * bar;
            let col = colour(a, ai);
            let Some(cell) = m.cell(w, a) else { continue };
            let invalid = cell.invalid_runs() > 0;
            let title =
                |extra: String| format!("<title>{} / {}: {}</title>", esc(w), esc(a), esc(&extra));
            // Panel 1: ratio bars.
            let ratio = if *a == reference {
                cell.summary().map(|_| crate::stats::Summary {
                    median: 1.0,
                    min: 1.0,
                    max: 1.0,
                    cv: 0.0,
                    n: 1,
                })
            } else {
                m.ratio(w, a, &reference)
            };
            if let Some(r) = ratio {
                let (yt, yb) = (p1.y(r.median), p1.y(0.0));
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{yt:.1}" width="{:.1}" height="{:.1}" fill="{col}"{}>{}</rect>"#,
                    x + 1.0,
                    bar - 2.0,
                    (yb - yt).max(0.0),
                    if invalid {
                        r#" fill-opacity="0.35""#
                    } else {
                        ""
                    },
                    title(format!(
                        "×{:.3} (min {:.3}, max {:.3}, CV {:.1}%)",
                        r.median,
                        r.min,
                        r.max,
                        r.cv * 100.0
                    ))
                );
                let cx = x + bar / 2.0;
                let _ = writeln!(
                    s,
                    r##"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#222"/>"##,
                    p1.y(r.min),
                    p1.y(r.max)
                );
                if invalid {
                    let _ = writeln!(
                        s,
                        r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="#c00" font-weight="bold">!</text>"##,
                        p1.y(r.max) - 3.0
                    );
                }
            }
            // Panel 2: RSS bars.
            if let Some(k) = cell.peak_rss_median() {
                let mb = k / 1024.0;
                let (yt, yb) = (p2.y(mb), p2.y(0.0));
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{yt:.1}" width="{:.1}" height="{:.1}" fill="{col}">{}</rect>"#,
                    x + 1.0,
                    bar - 2.0,
                    (yb - yt).max(0.0),
                    title(format!("peak RSS {mb:.1} MiB"))
                );
            }
            // Panel 3: minor faults per 1k ops.
            if let (Some(p3), Some(f)) = (&p3, cell.minor_faults_per_kop()) {
                let (yt, yb) = (p3.y(f), p3.y(0.0));
                let sys = cell
                    .sys_s_median()
                    .map_or(String::new(), |s| format!(", sys {s:.2} s"));
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{yt:.1}" width="{:.1}" height="{:.1}" fill="{col}">{}</rect>"#,
                    x + 1.0,
                    bar - 2.0,
                    (yb - yt).max(0.0),
                    title(format!("{f:.3} minor faults per 1k ops{sys}"))
                );
            }
        }
        let cx = gx + allocators.len() as f64 * bar / 2.0;
        let mut label_ys = vec![p1.y(0.0), p2.y(0.0)];
        if let Some(p3) = &p3 {
            label_ys.push(p3.y(0.0));
        }
        for y in label_ys {
            let _ = writeln!(
                s,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y + 16.0,
                esc(w)
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{:.1}" fill="#555">Faded bars marked ! had invalid runs (mt-remote over its 0.1% fallback limit, size-shift cut short). Dashed line: the reference ({}).</text>"##,
        height - 14.0,
        esc(&reference)
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
    let (left, panel_w, panel_h, gap, row_gap): (f64, f64, f64, f64, f64) =
        (80.0, 430.0, 190.0, 90.0, 70.0);
    let width = (left + 2.0 * panel_w + gap + 40.0)
        .max(left + 6.5 * m.machine.describe().chars().count() as f64);
    let legend_rows = allocators.len().div_ceil(6) as f64;
    let title_h = 74.0 + legend_rows * 18.0;
    let height = title_h + 20.0 + workloads.len() as f64 * (panel_h + row_gap) + 30.0;
    let x_of = |i: usize, x0: f64| {
        if counts.len() <= 1 {
            x0 + panel_w / 2.0
        } else {
            x0 + 20.0 + (panel_w - 40.0) * i as f64 / (counts.len() - 1) as f64
        }
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="16" font-weight="bold">hz3-rs bench-matrix thread sweep: throughput and peak RSS against --threads (medians of rounds)</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#555">{}</text><text x="{left}" y="56" fill="#555">{} rounds × {} ms · threads {} · mode {}</text>"##,
        esc(&m.machine.describe()),
        m.config.runs,
        m.config.duration_ms,
        esc(&counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")),
        esc(&m.config.mode)
    );
    for (i, a) in allocators.iter().enumerate() {
        let (row, col) = (i / 6, i % 6);
        let x = left + col as f64 * 130.0;
        let y = 68.0 + row as f64 * 18.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/>"#,
            colour(a, i)
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 17.0,
            y + 10.5,
            esc(a)
        );
    }
    for (wi, w) in workloads.iter().enumerate() {
        let top = title_h + 20.0 + wi as f64 * (panel_h + row_gap);
        let unit = m
            .cells
            .iter()
            .find(|c| &c.workload == w && !c.unit.is_empty())
            .map_or(String::new(), |c| c.unit.clone());
        // (label, x0, value of a cell)
        type Value = fn(&crate::results::Cell) -> Option<f64>;
        let panels: [(String, f64, Value); 2] = [
            (format!("{w}: {unit}"), left, |c| {
                c.summary().map(|s| s.median)
            }),
            (format!("{w}: peak RSS (MiB)"), left + panel_w + gap, |c| {
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
            let p = Panel {
                top,
                height: panel_h,
                y_max: ymax,
                step,
            };
            let mut v = 0.0;
            while v <= p.y_max + 1e-9 {
                let y = p.y(v);
                let _ = writeln!(
                    s,
                    r##"<line x1="{x0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##,
                    x0 + panel_w
                );
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
                    x0 - 6.0,
                    y + 4.0,
                    crate::table::si(v)
                );
                v += p.step;
            }
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
                p.y(0.0),
                x0 + panel_w,
                p.y(0.0)
            );
            let _ = writeln!(
                s,
                r#"<text x="{x0}" y="{:.1}" font-weight="bold">{}</text>"#,
                top - 8.0,
                esc(&label)
            );
            for (i, t) in counts.iter().enumerate() {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">T={t}</text>"#,
                    x_of(i, x0),
                    p.y(0.0) + 16.0
                );
            }
            for (ai, a) in allocators.iter().enumerate() {
                let col = colour(a, ai);
                let pts: Vec<(usize, u64, &crate::results::Cell, f64)> = counts
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
                        .map(|(i, _, _, v)| format!("{:.1},{:.1}", x_of(*i, x0), p.y(*v)))
                        .collect();
                    let _ = writeln!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="1.5"/>"#,
                        path.join(" ")
                    );
                }
                for (i, t, c, v) in pts {
                    let ratio = if *a == reference {
                        String::new()
                    } else {
                        m.ratio_at(w, a, &reference, t)
                            .map_or(String::new(), |r| format!(", ×{:.3} {reference}", r.median))
                    };
                    let invalid = c.invalid_runs() > 0;
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}" stroke="{col}"><title>{} / {} at T={t}: {}{}{}</title></circle>"#,
                        x_of(i, x0),
                        p.y(v),
                        if invalid { "white" } else { col },
                        esc(w),
                        esc(a),
                        esc(&crate::table::si(v)),
                        esc(&ratio),
                        if invalid { " (invalid runs)" } else { "" }
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{:.1}" fill="#555">Hollow points had invalid runs. Tooltips: the median and the median of per-round ratios to {} at that thread count.</text>"##,
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
        assert!(svg.contains("hz3-a / local-fixed") || svg.contains("local-fixed / hz3-a"));
        assert!(
            svg.contains("×1.500"),
            "median ratio of hz3-a on local-fixed"
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
        let p = LogPanel {
            top: 0.0,
            height: 100.0,
            top_exp: 2,
        };
        assert_eq!(p.y(100.0), 0.0);
        assert_eq!(p.y(0.01), 100.0);
        assert_eq!(p.y(0.0), 100.0, "zero sits on the axis");
        assert!((p.y(1.0) - 50.0).abs() < 1e-9);
        assert_eq!(decade_label(-2), "0.01");
        assert_eq!(decade_label(0), "1");
        assert_eq!(decade_label(3), "1k");
        assert_eq!(decade_label(4), "10k");
        assert_eq!(decade_label(6), "1M");
    }
}
