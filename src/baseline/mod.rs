//! Saved baselines and the regression gate.
//!
//! A baseline is a versioned JSON file, `target-baselines/<NAME>.json`, committed with the
//! repository. It holds, per case and per metric, the value (the median over the sampled
//! runs), the range of those runs, bytes per task, and for the metric Criterion reported its
//! mean estimate with the confidence interval; and where it came from
//! ([`Provenance`](taskmem::summary::Provenance)).
//!
//! `compare` lines a current run up against a baseline, case by case, and gives each a
//! [`Verdict`]. A change counts when it passes both the relative threshold (default 5 %) and
//! the absolute noise floor (default 64 KiB); both can be set per metric and per case
//! pattern ([`Thresholds`], `target-baselines/thresholds.toml`).
//!
//! - `file.rs`: the baseline file (its model, format, load and atomic save) and building one
//!   from a suite summary;
//! - `thresholds.rs`: the thresholds file and the threshold of one case;
//! - `criterion.rs`: where Criterion keeps its results and reading its saved estimates;
//! - `side.rs`: the two sides of a comparison, from a baseline or from Criterion's results;
//! - `compare.rs`: the comparison and its verdicts;
//! - `export.rs`: a comparison's rows as a text table, Bencher Metric Format and
//!   github-action-benchmark's input.

mod compare;
mod criterion;
mod export;
mod file;
mod side;
mod thresholds;

pub use compare::{Row, Verdict, compare};
pub use criterion::{Estimate, criterion_dir, criterion_home, criterion_home_for};
pub use export::{bencher_json, github_json, table};
pub use file::{
    Baseline, CaseValues, DEFAULT_DIR, DEFAULT_NAME, FORMAT, KIND, MetricValue, check_name,
    from_summary, load, path, save,
};
pub use side::{Point, Side};
pub use thresholds::{DEFAULT_FLOOR, DEFAULT_PERCENT, Rule, Threshold, Thresholds};

/// An error with a one-line message (a file named in it where one is involved).
pub type Result<T> = std::result::Result<T, String>;
