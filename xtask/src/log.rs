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
struct Format {
    spans: bool,
}

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
        match *meta.level() {
            Level::ERROR => w.write_str("error: ")?,
            Level::WARN | Level::INFO => {}
            Level::DEBUG => w.write_str("debug: ")?,
            Level::TRACE => w.write_str("trace: ")?,
        }
        if self.spans {
            for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
                w.write_str(span.name())?;
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    if !f.is_empty() {
                        write!(w, "{{{f}}}")?;
                    }
                }
                w.write_str(": ")?;
            }
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The filter for `RUST_LOG` (when set and valid) or else `verbosity` (the count of `-v`).
pub fn filter(rust_log: Option<&str>, verbosity: u8) -> Targets {
    let level = match verbosity {
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse().unwrap_or_else(|e| {
            eprintln!("xtask: ignoring RUST_LOG={s:?} ({e})");
            Targets::new().with_default(level)
        }),
        None => Targets::new().with_default(level),
    }
}

/// Installs the stderr subscriber.
pub fn init(verbosity: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(rust_log.as_deref(), verbosity);
    let spans = filter.would_enable("xtask", &Level::DEBUG);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(Format { spans })
        .with_filter(filter);
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
