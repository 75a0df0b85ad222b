//! Plain-text tables and number formatting.

/// A left-aligned first column, right-aligned others, `|`-free so it pastes into Markdown code
/// blocks and terminals alike.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// A separator line between groups.
    pub fn separator(&mut self) {
        self.rows.push(Vec::new());
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut w = vec![0usize; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &[String]| {
            let mut s = String::new();
            for (i, width) in w.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                let pad = width - c.chars().count();
                if i > 0 {
                    s.push_str("  ");
                }
                if i < 2 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
            s.trim_end().to_string()
        };
        let total: usize = w.iter().sum::<usize>() + 2 * (n - 1);
        let mut out = line(&self.header);
        out.push('\n');
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &self.rows {
            if r.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&line(r));
                out.push('\n');
            }
        }
        out
    }
}

/// 12345678 → "12.35M".
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (d, s) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if x.abs() >= 100.0 {
        format!("{x:.1}{s}")
    } else {
        format!("{x:.2}{s}")
    }
}

/// KiB → "12.3 MiB".
pub fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// 0.25 → "+25.0%".
pub fn pct_change(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(si(113_000_000.0), "113.0M");
        assert_eq!(si(82_456_000.0), "82.46M");
        assert_eq!(si(1500.0), "1.50k");
        assert_eq!(si(2.5e9), "2.50G");
        assert_eq!(mib(2048.0), "2.0 MiB");
        assert_eq!(pct_change(1.38), "+38.0%");
        assert_eq!(pct_change(0.79), "-21.0%");
        assert_eq!(duration(125.4), "2:05");
        assert_eq!(duration(3725.0), "1:02:05");
    }

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["name", "x", "value"]);
        t.row(vec!["a".into(), "b".into(), "1".into()]);
        t.separator();
        t.row(vec!["long name".into(), "".into(), "12345".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name       x  value");
        assert_eq!(lines[2], "a          b      1");
        assert_eq!(lines[3], "");
        assert_eq!(lines[4], "long name     12345");
    }
}
