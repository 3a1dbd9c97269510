//! The baseline file: its model, its format, reading it, saving it atomically, and building
//! one from a suite summary (with Criterion's estimates when they are there).
//!
//! ## File format (version 1)
//!
//! ```json
//! {
//!   "format": 1,
//!   "kind": "taskmem-baseline",
//!   "name": "main",
//!   "created_unix": 1795000000,
//!   "provenance": { "cores": 2, "memory_bytes": 25769803776, "kernel": "6.1.0",
//!                   "rustc": "rustc 1.95.0 (...)", "crates": { "tokio": "1.54.1", "...": "..." },
//!                   "git_revision": "0a29365...", "taskmem": "0.1.0" },
//!   "cases": {
//!     "tokio-mt/spawn/100000": {
//!       "n": 100000,
//!       "reported": "resident",
//!       "metrics": {
//!         "resident": { "value": 26398720.0, "min": 26398720.0, "max": 26402816.0,
//!                       "per_task": 263.98,
//!                       "criterion": { "mean": 26398720.0, "low": 26397900.0, "high": 26399500.0 } },
//!         "allocated": { "value": 26400000.0, "min": 26400000.0, "max": 26400000.0, "per_task": 264.0 },
//!         "usable": { "...": "..." },
//!         "rss": { "...": "..." }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! A file is written atomically (a temporary file beside it, then a rename), so an interrupted
//! save leaves either the old baseline or the new one, never half of one. A file whose
//! `format` is newer than this taskmem reads is refused with a one-line error naming it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Result;
use super::criterion::{Estimate, criterion_dir, read_criterion_estimate};
use taskmem::sample::Metric;
use taskmem::summary::Provenance;
use taskmem::summary::Summary;

/// The baseline format this taskmem writes and reads.
pub const FORMAT: u32 = 1;

/// The `kind` tag of a baseline file.
pub const KIND: &str = "taskmem-baseline";

/// Where baselines live, relative to the package root.
pub const DEFAULT_DIR: &str = "target-baselines";

/// The baseline `compare` uses when none is named.
pub const DEFAULT_NAME: &str = "main";

/// One metric of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// Median over the sampled runs (bytes).
    pub value: f64,
    /// Smallest sampled run.
    pub min: f64,
    /// Largest sampled run.
    pub max: f64,
    /// `value / n`.
    pub per_task: f64,
    /// Criterion's estimate, for the metric Criterion reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<Estimate>,
}

/// One case of a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseValues {
    /// Task count.
    pub n: usize,
    /// The metric the benchmark reported.
    pub reported: Metric,
    /// Every metric: `resident`, `allocated`, `usable`, `rss`.
    pub metrics: BTreeMap<String, MetricValue>,
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`FORMAT`].
    pub format: u32,
    /// [`KIND`].
    pub kind: String,
    /// The baseline's name.
    pub name: String,
    /// Unix time it was saved.
    pub created_unix: u64,
    /// Where its numbers came from.
    pub provenance: Provenance,
    /// Cases by id.
    pub cases: BTreeMap<String, CaseValues>,
}

/// Checks a baseline name: letters, digits, `.`, `_` and `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "baseline name '{name}' may hold only letters, digits, '.', '_' and '-'"
        ))
    }
}

/// The file of baseline `name` in `dir`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Builds a baseline from a suite summary, adding Criterion's estimates found under
/// `criterion_home` (`new/estimates.json` of each case) when given.
pub fn from_summary(name: &str, summary: &Summary, criterion_home: Option<&Path>) -> Baseline {
    let mut cases = BTreeMap::new();
    for pair in &summary.pairs {
        for c in &pair.cases {
            let n = c.n.max(1) as f64;
            let estimate = criterion_home
                .and_then(|home| read_criterion_estimate(&criterion_dir(home, &c.id), "new").ok())
                .flatten();
            let mut metrics = BTreeMap::new();
            for (key, stats) in &c.metrics {
                let reported = key == c.metric.id();
                // The reported metric's figure is what Criterion saw (with the page fallback).
                let s = if reported { &c.value } else { stats };
                metrics.insert(
                    key.clone(),
                    MetricValue {
                        value: s.median,
                        min: s.min,
                        max: s.max,
                        per_task: s.median / n,
                        criterion: if reported { estimate } else { None },
                    },
                );
            }
            cases.insert(
                c.id.clone(),
                CaseValues {
                    n: c.n,
                    reported: c.metric,
                    metrics,
                },
            );
        }
    }
    Baseline {
        format: FORMAT,
        kind: KIND.to_string(),
        name: name.to_string(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        provenance: summary.machine.provenance.clone(),
        cases,
    }
}

/// Reads a baseline file: a missing, corrupt or newer-format file is a one-line error
/// naming it.
pub fn load(file: &Path) -> Result<Baseline> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no baseline at {} (save one with `taskmem baseline save`)",
                file.display()
            )
        } else {
            format!("cannot read {}: {e}", file.display())
        }
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not valid JSON ({e}): the baseline is corrupt",
            file.display()
        )
    })?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(format!(
            "{} is not a taskmem baseline (no \"kind\": \"{KIND}\")",
            file.display()
        ));
    }
    match value.get("format").and_then(|f| f.as_u64()) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) if f > u64::from(FORMAT) => {
            return Err(format!(
                "{} has baseline format {f}, newer than this taskmem reads ({FORMAT}): upgrade taskmem",
                file.display()
            ));
        }
        other => {
            return Err(format!(
                "{} has baseline format {other:?}, this taskmem reads {FORMAT}",
                file.display()
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("{} is a corrupt baseline: {e}", file.display()))
}

/// Saves a baseline as `<dir>/<name>.json`, atomically.
pub fn save(dir: &Path, baseline: &Baseline) -> Result<PathBuf> {
    check_name(&baseline.name)?;
    let file = path(dir, &baseline.name);
    let json = serde_json::to_vec_pretty(baseline).map_err(|e| format!("cannot encode: {e}"))?;
    taskmem::summary::write_atomic_with(&file, |f| {
        f.write_all(&json)?;
        f.write_all(b"\n")
    })?;
    Ok(file)
}
