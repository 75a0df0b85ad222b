//! Plain-text tables and number formatting.

use comfy_table::CellAlignment::{Left, Right};

/// A comfy-table without borders: columns two spaces apart, the first two left-aligned, a dashed
/// line under the header (`|`-free, so it pastes into Markdown code blocks and terminals).
pub struct Table(comfy_table::Table);

impl Table {
    /// A table with the header given as `"a | b | c"`.
    pub fn cols(header: &str) -> Table {
        let mut t = comfy_table::Table::new();
        // Only the header line is drawn (see comfy_table::presets for the 19 positions).
        t.load_preset("     -             ")
            .set_header(header.split(" | "));
        let n = t.column_count();
        for (i, c) in t.column_iter_mut().enumerate() {
            c.set_padding((u16::from(i > 0), u16::from(i + 1 < n)));
            c.set_cell_alignment(if i < 2 { Left } else { Right });
        }
        Table(t)
    }

    pub fn row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.0.add_row(cells);
    }

    /// A blank line between groups (none before the first).
    pub fn separator(&mut self) {
        if !self.0.is_empty() {
            self.0.add_row(Vec::<String>::new());
        }
    }

    /// Whether no row (not even a separator) was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn render(&self) -> String {
        self.0.trim_fmt() + "\n"
    }
}

/// `f(v)`, or "—" when unknown.
pub fn or_dash<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map_or("—".into(), f)
}

/// 12345678 → "12.35M".
pub fn si(v: f64) -> String {
    let mut units = [(1e9, "G"), (1e6, "M"), (1e3, "k")].into_iter();
    let (d, s) = units.find(|(d, _)| v.abs() >= *d).unwrap_or((1.0, ""));
    let x = v / d;
    let digits = if x.abs() >= 100.0 { 1 } else { 2 };
    format!("{x:.digits$}{s}")
}

/// KiB → "12.3 MiB".
pub fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
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
        assert_eq!(duration(125.4), "2:05");
        assert_eq!(duration(3725.0), "1:02:05");
    }

    #[test]
    fn aligns_columns() {
        let mut t = Table::cols("name | x | value");
        t.row(["a", "b", "1"]);
        t.separator();
        t.row(["long name", "", "12345"]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name       x  value");
        assert_eq!(lines[2], "a          b      1");
        assert_eq!(lines[3], "");
        assert_eq!(lines[4], "long name     12345");
    }
}
