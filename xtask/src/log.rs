//! Progress and diagnostics: `tracing` events on stderr as `xtask: message` lines (tables go to
//! stdout). Level: `RUST_LOG` when set, else `-v` (debug: each run's command and result) or
//! `-vv` (trace); default info.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The target of the progress lines, which are printed without the `xtask: ` prefix.
pub const PROGRESS: &str = "xtask::progress";

/// `xtask: [level: ][span{fields}: ]message`; the level is named below info only, and for errors.
/// The spans are the debug ones of each run, so they show with `-v` (or `RUST_LOG` asking for them).
struct Format;

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if meta.target() != PROGRESS {
            w.write_str("xtask: ")?;
        }
        if ![Level::WARN, Level::INFO].contains(meta.level()) {
            write!(w, "{}: ", meta.level().as_str().to_lowercase())?;
        }
        for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
            w.write_str(span.name())?;
            if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                if !f.is_empty() {
                    write!(w, "{{{f}}}")?;
                }
            }
            w.write_str(": ")?;
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The filter for `RUST_LOG` (when set and valid) or else `verbosity` (the count of `-v`).
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
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(Format)
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
