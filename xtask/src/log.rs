//! Progress and diagnostics: `tracing` events on stderr as `xtask: message` lines (level: `filter`).

use std::fmt;

use tracing::{Event, Level};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatFields, FormattedFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::Registry;

/// The target of the progress lines, which are printed without the `xtask: ` prefix.
pub const PROGRESS: &str = "xtask::progress";

/// `xtask: [level: ][span{fields}: ]message`; the level is named below info only, and for errors.
/// The spans are the debug ones of each run, so they show with `-v` (or `RUST_LOG` asking for them).
fn format(ctx: &FmtContext<'_, Registry, DefaultFields>, mut w: Writer, e: &Event) -> fmt::Result {
    let meta = e.metadata();
    if meta.target() != PROGRESS {
        w.write_str("xtask: ")?;
    }
    if ![Level::WARN, Level::INFO].contains(meta.level()) {
        write!(w, "{}: ", meta.level().as_str().to_lowercase())?;
    }
    for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
        let ext = span.extensions();
        let fields = ext.get::<FormattedFields<DefaultFields>>();
        let fields = fields.filter(|f| !f.is_empty()).map(|f| format!("{{{f}}}"));
        write!(w, "{}{}: ", span.name(), fields.unwrap_or_default())?;
    }
    ctx.field_format().format_fields(w.by_ref(), e)?;
    writeln!(w)
}

/// The filter: `RUST_LOG` when set and valid, else by `verbosity`: info, `-v` debug, `-vv` trace.
pub fn filter(rust_log: Option<&str>, verbosity: u8) -> Targets {
    let levels = [LevelFilter::INFO, LevelFilter::DEBUG, LevelFilter::TRACE];
    let default = Targets::new().with_default(levels[usize::from(verbosity.min(2))]);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse().unwrap_or_else(|e| {
            eprintln!("xtask: ignoring RUST_LOG={s:?} ({e})");
            default
        }),
        None => default,
    }
}

/// Installs the stderr subscriber.
pub fn init(verbosity: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let layer = tracing_subscriber::fmt::layer::<Registry>()
        .with_writer(std::io::stderr)
        .event_format(format as fn(&FmtContext<_, _>, Writer, &Event) -> _)
        .with_filter(filter(rust_log.as_deref(), verbosity));
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_v() {
        let f = filter(None, 0);
        assert!(f.would_enable("xtask", &Level::INFO) && !f.would_enable("xtask", &Level::DEBUG));
        assert!(filter(None, 1).would_enable("xtask", &Level::DEBUG));
        assert!(filter(None, 2).would_enable("xtask::progress", &Level::TRACE));
        let f = filter(Some("warn"), 2);
        assert!(!f.would_enable("xtask", &Level::INFO));
        let f = filter(Some("info,xtask::progress=off"), 0);
        assert!(f.would_enable("xtask", &Level::INFO));
        assert!(!f.would_enable(PROGRESS, &Level::INFO));
    }
}
