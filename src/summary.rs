//! The machine-readable summary of a run: `target/taskmem/summary.json`.
//!
//! Per runtime x strategy pair it holds, for every N measured: the statistics of every metric
//! over the runs (median, mean, coefficient of variation, min, max; bytes), which metric the
//! Criterion benchmark reported, and whether a page-granular figure fell back to exact bytes.
//! Per pair: bytes per task of each metric (least-squares slope of the medians across N; with
//! one N, the median divided by N) and `size_of` of the task's future where it has one.
//! Skipped cases carry their reason; pairs that do not exist carry theirs.
//!
//! A filtered run updates only the cases it ran: the file is merged by case id and written
//! atomically (temporary file, then rename).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::matrix::{self, Case, Pair};
use crate::provenance::Provenance;
use crate::sample::{Metric, Sample};

/// The summary file's format version.
pub const FORMAT: u32 = 1;

/// Statistics of one metric over the runs of a case's Criterion samples (warm-up excluded),
/// in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Median over the runs.
    pub median: f64,
    /// Mean over the runs.
    pub mean: f64,
    /// Sample standard deviation over the mean, in percent.
    pub cv_percent: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
}

impl Stats {
    /// Statistics of `values` (at least one).
    pub fn of(values: &[f64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let median = match v.len() {
            0 => 0.0,
            l if l % 2 == 1 => v[l / 2],
            l => (v[l / 2 - 1] + v[l / 2]) / 2.0,
        };
        Stats {
            median,
            mean,
            cv_percent: if mean != 0.0 {
                100.0 * var.sqrt() / mean.abs()
            } else {
                0.0
            },
            min: v.first().copied().unwrap_or(0.0),
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// One measured case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// `runtime/strategy/N`.
    pub id: String,
    /// Task count.
    pub n: usize,
    /// The metric Criterion reported for this case.
    pub metric: Metric,
    /// Runs made: taskmem's first run, Criterion's warm-up and its samples.
    pub runs: usize,
    /// The reported metric's statistics (after the below-resolution fallback).
    pub value: Stats,
    /// The reported value per task (median / N).
    pub per_task: f64,
    /// The page-granular metric grew by less than a page in some run; exact bytes were used.
    pub below_resolution: bool,
    /// The reported figure of every sampled run, in the order they ran (bytes).
    pub values: Vec<u64>,
    /// Raw growth of each counter: `resident`, `allocated`, `usable`, `rss`.
    pub metrics: BTreeMap<String, Stats>,
}

/// One runtime x strategy pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSummary {
    /// `runtime/strategy`.
    pub id: String,
    /// What the runtime is.
    pub runtime: String,
    /// `size_of` of one task's future, where each task is one future.
    pub future_size: Option<usize>,
    /// Bytes per task of each counter (slope across N).
    pub bytes_per_task: BTreeMap<String, f64>,
    /// The cases measured, by N.
    pub cases: Vec<CaseSummary>,
}

/// A case that did not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    /// The case or pair id.
    pub id: String,
    /// The reason, naming the limit.
    pub reason: String,
}

/// The machine and build a summary came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Machine, compiler, crate versions, git revision.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// jemalloc's `opt.dirty_decay_ms` in the measuring binary.
    pub jemalloc_dirty_decay_ms: Option<i64>,
}

impl Machine {
    /// This machine and build.
    pub fn current() -> Machine {
        Machine {
            provenance: Provenance::current(),
            jemalloc_dirty_decay_ms: crate::probe::dirty_decay_ms().ok(),
        }
    }
}

/// The whole summary file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`FORMAT`].
    pub format: u32,
    /// `taskmem <version>`.
    pub tool: String,
    /// Unix time of the last update.
    pub updated_unix: u64,
    /// Where the numbers came from.
    pub machine: Machine,
    /// Measured pairs, in matrix order.
    pub pairs: Vec<PairSummary>,
    /// Cases skipped, with reasons.
    pub skipped: Vec<Skip>,
    /// Runtime x strategy pairs that do not exist, with reasons.
    pub unsupported: Vec<Skip>,
}

/// Summarises one case from the runs of Criterion's samples (`samples`) and the count of all
/// runs made, warm-up included.
pub fn summarise_case(case: &Case, metric: Metric, samples: &[Sample], runs: usize) -> CaseSummary {
    let col =
        |f: fn(&Sample) -> i64| Stats::of(&samples.iter().map(|s| f(s) as f64).collect::<Vec<_>>());
    let mut metrics = BTreeMap::new();
    metrics.insert("resident".to_string(), col(|s| s.resident));
    metrics.insert("allocated".to_string(), col(|s| s.requested));
    metrics.insert("usable".to_string(), col(|s| s.usable));
    metrics.insert("rss".to_string(), col(|s| s.rss));
    let values: Vec<_> = samples
        .iter()
        .filter_map(|s| s.value(metric).ok())
        .collect();
    let value = Stats::of(&values.iter().map(|v| v.bytes as f64).collect::<Vec<_>>());
    CaseSummary {
        id: case.id(),
        n: case.n,
        metric,
        runs,
        per_task: value.median / case.n as f64,
        value,
        below_resolution: values.iter().any(|v| v.below_resolution),
        values: values.iter().map(|v| v.bytes).collect(),
        metrics,
    }
}

/// Least-squares slope of `y` over `x`; with one point, y / x.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    match points {
        [] => 0.0,
        [(x, y)] => y / x,
        _ => {
            let n = points.len() as f64;
            let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
            let my = points.iter().map(|p| p.1).sum::<f64>() / n;
            let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
            let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
            if sxx == 0.0 { my / mx } else { sxy / sxx }
        }
    }
}

/// Cargo's target directory as the benches see it: `$CARGO_TARGET_DIR`, or `target` (cargo
/// runs benches from the package root).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// The default summary path: `<target>/taskmem/summary.json` (see [`target_dir`]).
pub fn default_path() -> PathBuf {
    target_dir().join("taskmem").join("summary.json")
}

/// Reads a summary file.
pub fn load(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let summary: Summary = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a taskmem summary: {e}", path.display()))?;
    if summary.format != FORMAT {
        return Err(format!(
            "{} has summary format {}, this taskmem reads {FORMAT}",
            path.display(),
            summary.format
        ));
    }
    Ok(summary)
}

/// Writes `contents` to `path` atomically (see [`write_atomic_with`]).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    use std::io::Write;
    write_atomic_with(path, |f| f.write_all(contents))
}

/// Writes `file` atomically: `write` fills a temporary file beside it, which is synced and
/// renamed over `file` only if `write` succeeded. On any failure the temporary file is
/// removed and an existing `file` is left as it was.
pub fn write_atomic_with(
    file: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), String> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!(
            "cannot write {}: {e} (any earlier file there is unchanged)",
            file.display()
        )
    })
}

/// Builds a summary from this run's cases merged over an earlier summary.
pub fn merge(earlier: Option<Summary>, measured: Vec<CaseSummary>, skipped: Vec<Skip>) -> Summary {
    let mut cases: BTreeMap<String, CaseSummary> = BTreeMap::new();
    let mut skips: BTreeMap<String, String> = BTreeMap::new();
    if let Some(e) = earlier {
        for p in e.pairs {
            for c in p.cases {
                cases.insert(c.id.clone(), c);
            }
        }
        skips.extend(e.skipped.into_iter().map(|s| (s.id, s.reason)));
    }
    for c in measured {
        skips.remove(&c.id);
        cases.insert(c.id.clone(), c);
    }
    for s in skipped {
        cases.remove(&s.id);
        skips.insert(s.id, s.reason);
    }
    let pairs = matrix::pairs()
        .into_iter()
        .filter_map(|pair| pair_summary(pair, &cases))
        .collect();
    Summary {
        format: FORMAT,
        tool: format!("taskmem {}", env!("CARGO_PKG_VERSION")),
        updated_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine: Machine::current(),
        pairs,
        skipped: skips
            .into_iter()
            .map(|(id, reason)| Skip { id, reason })
            .collect(),
        unsupported: matrix::unsupported()
            .into_iter()
            .map(|(p, why)| Skip {
                id: p.id(),
                reason: why.to_string(),
            })
            .collect(),
    }
}

fn pair_summary(pair: Pair, cases: &BTreeMap<String, CaseSummary>) -> Option<PairSummary> {
    let prefix = format!("{}/", pair.id());
    let mut mine: Vec<CaseSummary> = cases
        .values()
        .filter(|c| {
            c.id.strip_prefix(&prefix)
                .is_some_and(|n| n.parse::<usize>().is_ok())
        })
        .cloned()
        .collect();
    if mine.is_empty() {
        return None;
    }
    mine.sort_by_key(|c| c.n);
    let mut bytes_per_task = BTreeMap::new();
    for key in ["resident", "allocated", "usable", "rss"] {
        let pts: Vec<(f64, f64)> = mine
            .iter()
            .filter_map(|c| Some((c.n as f64, c.metrics.get(key)?.median)))
            .collect();
        bytes_per_task.insert(key.to_string(), slope(&pts));
    }
    let reported: Vec<(f64, f64)> = mine.iter().map(|c| (c.n as f64, c.value.median)).collect();
    bytes_per_task.insert("reported".to_string(), slope(&reported));
    let case = Case::new(pair.runtime, pair.strategy, 1);
    Some(PairSummary {
        id: pair.id(),
        runtime: pair.runtime.describe().to_string(),
        future_size: crate::workload::future_size(&case),
        bytes_per_task,
        cases: mine,
    })
}
