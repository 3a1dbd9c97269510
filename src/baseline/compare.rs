//! The comparison: each case's change from one side to the other, and its verdict against
//! its threshold.

use serde::{Deserialize, Serialize};

use super::side::Side;
use super::{Threshold, Thresholds};
use taskmem::sample::Metric;

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Grew past both thresholds.
    Regressed,
    /// Shrank past both thresholds.
    Improved,
    /// Within the thresholds.
    Unchanged,
    /// Not in the baseline.
    New,
    /// In the baseline, not in this run.
    Removed,
}

impl Verdict {
    /// The word printed in the table.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::New => "new",
            Verdict::Removed => "removed",
        }
    }
}

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Case id.
    pub id: String,
    /// Task count.
    pub n: usize,
    /// The metric compared.
    pub metric: Metric,
    /// Baseline value (bytes), if the case is in the baseline.
    pub baseline: Option<f64>,
    /// Current value (bytes), if the case ran.
    pub current: Option<f64>,
    /// The current estimate's interval, where Criterion gave one.
    pub current_interval: Option<(f64, f64)>,
    /// The threshold applied.
    pub threshold: Threshold,
    /// The verdict.
    pub verdict: Verdict,
}

impl Row {
    /// current - baseline, in bytes.
    pub fn change(&self) -> Option<f64> {
        Some(self.current? - self.baseline?)
    }

    /// The change in percent of the baseline.
    pub fn change_percent(&self) -> Option<f64> {
        let b = self.baseline?;
        let change = self.change()?;
        (b != 0.0).then(|| 100.0 * change / b)
    }
}

/// Compares `current` against `baseline` case by case.
pub fn compare(baseline: &Side, current: &Side, thresholds: &Thresholds) -> Vec<Row> {
    let ids: std::collections::BTreeSet<&String> = baseline
        .values
        .keys()
        .chain(current.values.keys())
        .collect();
    let mut rows: Vec<Row> = ids
        .into_iter()
        .map(|id| {
            let b = baseline.values.get(id);
            let c = current.values.get(id);
            let (n, metric) = c.or(b).map_or((0, Metric::Resident), |p| (p.n, p.metric));
            let threshold = thresholds.for_case(id, metric);
            let verdict = match (b, c) {
                (None, _) => Verdict::New,
                (_, None) => Verdict::Removed,
                (Some(b), Some(c)) => {
                    let change = c.value - b.value;
                    let limit =
                        (threshold.percent / 100.0 * b.value.abs()).max(threshold.floor_bytes);
                    if change > limit {
                        Verdict::Regressed
                    } else if change < -limit {
                        Verdict::Improved
                    } else {
                        Verdict::Unchanged
                    }
                }
            };
            Row {
                id: id.clone(),
                n,
                metric,
                baseline: b.map(|p| p.value),
                current: c.map(|p| p.value),
                current_interval: c.and_then(|p| p.interval),
                threshold,
                verdict,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &Row| r.id.parse::<crate::matrix::Case>().ok();
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });
    rows
}
