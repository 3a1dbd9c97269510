//! The run compared with a saved baseline, for the report's change column.

use std::path::{Path, PathBuf};

use crate::baseline::{self, Row};
use taskmem::summary::Summary;

/// A run compared with a saved baseline, for the report's change column.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's name.
    pub name: String,
    /// Its file.
    pub file: PathBuf,
    /// One row per case in either side, from [`baseline::compare`].
    pub rows: Vec<Row>,
    /// What differs between the baseline's machine or build and the run's.
    pub differences: Vec<String>,
}

/// Compares `summary` with baseline `name` in `dir`, using `<dir>/thresholds.toml` when it
/// exists. A bad name or a missing, corrupt or newer baseline is a one-line error.
pub fn compare(summary: &Summary, dir: &Path, name: &str) -> Result<Comparison, String> {
    baseline::check_name(name)?;
    let file = baseline::path(dir, name);
    let base = baseline::load(&file)?;
    let thresholds_file = dir.join("thresholds.toml");
    let thresholds = if thresholds_file.exists() {
        baseline::Thresholds::load(&thresholds_file)?
    } else {
        baseline::Thresholds::default()
    };
    let current = baseline::from_summary("current", summary, None);
    let rows = baseline::compare(
        &baseline::Side::from_baseline(&base, &file.display().to_string(), None),
        &baseline::Side::from_baseline(&current, "this run", None),
        &thresholds,
    );
    Ok(Comparison {
        name: name.to_string(),
        differences: base.provenance.differences(&summary.machine.provenance),
        file,
        rows,
    })
}
