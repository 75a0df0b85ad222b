//! The workload names and the named sets of them: the one list that the bench binaries
//! (`Workload::from_name`, `list`) and `cargo xtask` (`--workloads`, its help, the fault gate)
//! both read. xtask compiles this file into itself (`#[path]`), so it holds names only and uses
//! nothing but `core`: a new workload added here shows up in xtask on its next build.

/// Names of the benchmark workloads, in the order tables print them.
pub const WORKLOAD_NAMES: &[&str] = &[
    "xmalloc",
    "mt-remote-r0",
    "mt-remote-r50",
    "mt-remote-r90",
    "larson",
    "dist-app",
    "local-fixed",
    "local-mixed",
    "xmalloc-classic",
    "medium-churn",
    "thread-churn",
    "size-shift",
    "large-1m",
    "large-churn",
    "realloc-grow",
    "local-chain",
    "batch-handoff",
    "lifo-fifo",
    "server",
    "pareto",
    "threads-many",
    "epoch",
    "histogram-ring",
    "false-sharing",
    "random-slots",
    "bursts",
    "word-count",
    "par-strings",
];

/// Names of the deterministic workloads used by the callgrind gate.
pub const CALLGRIND_WORKLOAD_NAMES: &[&str] = &["cg-local", "cg-remote"];

/// How many of [`WORKLOAD_NAMES`], from the first (xmalloc … local-chain), form the `default`
/// set: the quick matrix stays near 6–7 minutes on 2 cores, so the program shapes (`real`),
/// threads-many and epoch run only when asked for.
const DEFAULT_WORKLOADS: usize = 16;

/// Named sets accepted by `cargo xtask bench-matrix --workloads` beside single names.
pub const WORKLOAD_SETS: &[(&str, &[&str])] = &[
    ("default", WORKLOAD_NAMES.split_at(DEFAULT_WORKLOADS).0),
    ("local", &["local-fixed", "local-mixed", "local-chain"]),
    (
        "os",
        &[
            "xmalloc-classic",
            "medium-churn",
            "thread-churn",
            "size-shift",
            "large-1m",
            "large-churn",
            "realloc-grow",
        ],
    ),
    (
        "real",
        &[
            "xmalloc-classic",
            "batch-handoff",
            "lifo-fifo",
            "server",
            "pareto",
            "epoch",
        ],
    ),
    (
        "shapes",
        &[
            "xmalloc-classic",
            "histogram-ring",
            "batch-handoff",
            "false-sharing",
            "thread-churn",
            "random-slots",
            "bursts",
            "lifo-fifo",
            "word-count",
            "par-strings",
        ],
    ),
    ("all", WORKLOAD_NAMES),
];

/// The workloads of a named set.
pub fn workload_set(name: &str) -> Option<&'static [&'static str]> {
    WORKLOAD_SETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_name_known_workloads_and_cover_them() {
        for (name, set) in WORKLOAD_SETS {
            assert!(set.iter().all(|w| WORKLOAD_NAMES.contains(w)), "set {name}");
            assert!(
                !WORKLOAD_NAMES.contains(name),
                "set {name} shadows a workload"
            );
        }
        // Everything is in some set short of `all`, except threads-many (its own name).
        for w in WORKLOAD_NAMES.iter().filter(|w| **w != "threads-many") {
            let in_a_set = WORKLOAD_SETS
                .iter()
                .any(|(n, s)| *n != "all" && s.contains(w));
            assert!(in_a_set, "{w} is in no set");
        }
        let default = workload_set("default").unwrap();
        assert_eq!(default.last(), Some(&"local-chain"));
        assert!(
            !default.contains(&"epoch"),
            "epoch stays out of the quick matrix"
        );
    }
}
