//! The two sides of a comparison: a figure per case, from a baseline file or from
//! Criterion's saved results.

use std::collections::BTreeMap;
use std::path::Path;

use super::criterion::{case_dirs_in, criterion_case_id, criterion_dir, read_criterion_estimate};
use super::{Baseline, Result};
use taskmem::sample::Metric;
use taskmem::summary::Provenance;

/// One case's figure on one side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Task count.
    pub n: usize,
    /// The metric the value is of.
    pub metric: Metric,
    /// The value (bytes).
    pub value: f64,
    /// Criterion's confidence interval of the mean, where known.
    pub interval: Option<(f64, f64)>,
}

/// One side of a comparison: a value per case for one metric choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// Where the figures come from (for messages).
    pub label: String,
    /// Provenance, where known.
    pub provenance: Option<Provenance>,
    /// Per case id.
    pub values: BTreeMap<String, Point>,
}

impl Side {
    /// The cases of a baseline, each with `metric` (or the metric its benchmark reported).
    pub fn from_baseline(b: &Baseline, label: &str, metric: Option<Metric>) -> Side {
        let values = b
            .cases
            .iter()
            .filter_map(|(id, c)| {
                let m = metric.unwrap_or(c.reported);
                let v = c.metrics.get(m.id())?;
                let point = Point {
                    n: c.n,
                    metric: m,
                    value: v.value,
                    interval: v.criterion.map(|e| (e.low, e.high)),
                };
                Some((id.clone(), point))
            })
            .collect();
        Side {
            label: label.to_string(),
            provenance: Some(b.provenance.clone()),
            values,
        }
    }

    /// The cases of Criterion's saved results named `which` (`new` for the latest run, or a
    /// `--save-baseline` name), for the metric the benchmarks reported, from the mean
    /// estimates. Every case directory under `home` with a `<which>/estimates.json` counts.
    pub fn from_criterion(home: &Path, which: &str) -> Result<Side> {
        let mut values = BTreeMap::new();
        let mut cases: Vec<crate::matrix::Case> = case_dirs_in(home)
            .iter()
            .filter_map(|dir| criterion_case_id(dir, which)?.parse().ok())
            .collect();
        cases.sort_unstable();
        cases.dedup();
        for case in cases {
            let id = case.id();
            if let Some(e) = read_criterion_estimate(&criterion_dir(home, &id), which)? {
                let point = Point {
                    n: case.n,
                    metric: case.default_metric(),
                    value: e.mean,
                    interval: Some((e.low, e.high)),
                };
                values.insert(id, point);
            }
        }
        if values.is_empty() {
            return Err(format!(
                "no Criterion results named '{which}' under {} (run `cargo bench -- --save-baseline {which}`)",
                home.display()
            ));
        }
        Ok(Side {
            label: format!("criterion:{which}"),
            provenance: None,
            values,
        })
    }
}
