//! The machine-readable summary of a run: `target/taskmem/summary.json`, written by
//! [`group`](crate::group) for a user's cases (and by the taskmem suite for its own), read by
//! `taskmem baseline save`, `taskmem compare` and `taskmem report`.
//!
//! For every case ([`CaseSummary`], id `<name>/<N>`) it holds the statistics of every
//! metric over the runs of Criterion's samples (median, mean, coefficient of variation, min,
//! max; bytes), which metric Criterion reported, and whether a page-granular figure fell back
//! to exact bytes. Cases are grouped into pairs ([`PairSummary`]: the case id without its
//! last segment, N) with bytes per task of each metric (least-squares slope of the medians
//! across N; with one N, the median divided by N), `size_of` of the task's future where it
//! is known, and a [`Breakdown`] of the bytes per task. Skipped cases carry their reason.
//!
//! A run updates only the cases it measured: the file is merged by case id and written
//! atomically (temporary file, then rename), under a lock, through a [`Journal`] that keeps
//! every case on disk as soon as it is measured ([`journal`]). A pair whose cases did not
//! change keeps what an earlier writer put in it; a writer that knows more about its pairs
//! (the suite's payloads and bounds) passes a [`Pairing`]. Older summaries, without the newer
//! fields, still load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sample::{Metric, Sample};

pub mod journal;
mod provenance;

pub use journal::{Entry, Journal};
pub use provenance::Provenance;

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
    /// Growth of the count of live allocations in jemalloc's large size classes (each padded
    /// by [`Machine::jemalloc_large_pad`] in resident memory). Absent in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_allocations: Option<Stats>,
    /// The runtime, for a case recorded from a user's bench (`tokio-mt`); the suite's cases
    /// carry it in their id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// `size_of` of one task as it was held, for a case recorded from a user's bench.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub future_size: Option<usize>,
    /// `std::any::type_name` of the task's future, for a case recorded from a user's bench.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub future_type: Option<String>,
    /// The heap the run's tasks held at the peak by call stack ([`crate::Tasks::sites`]),
    /// from one more run, when the bench was asked for it (`TASKMEM_SITES=1`, as `taskmem
    /// bill` runs it). The addresses are the bench executable's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<crate::sites::Site>>,
    /// The executable that recorded [`CaseSummary::sites`]: their addresses are its.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites_from: Option<String>,
}

/// One runtime x strategy pair (with its bound and payload, where it has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSummary {
    /// `runtime/strategy[/kK][/pP-place]`: the case id without N.
    pub id: String,
    /// What the runtime is.
    pub runtime: String,
    /// `size_of` of one task's future, where each task is one future.
    pub future_size: Option<usize>,
    /// Bytes per task of each counter (slope across N).
    pub bytes_per_task: BTreeMap<String, f64>,
    /// The cases measured, by N.
    pub cases: Vec<CaseSummary>,
    /// What each task holds across its await, for a pair of the suite's payload cases
    /// (`{"bytes": 1024, "place": "inline"}`); kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// K, for a bounded pair (`buffer_unordered`, `semaphore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<usize>,
    /// Where each task's bytes go, for an async pair that is not bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
    /// For a bounded pair: the reported bytes at the largest N measured, divided by the tasks
    /// alive at its peak (min(N, K)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_live_task: Option<f64>,
    /// The bill of one of the pair's tasks, as `taskmem bill` wrote it (its parts by name,
    /// owner and bytes per task); kept as written, and gone when the pair is measured again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<serde_json::Value>,
}

/// Where a pair's bytes per task go. Every field is bytes per task (slopes across N), and
/// `measured = future + heap_payload + header + size_class_rounding + large_pad + unexplained`,
/// where `heap_payload + header = beyond_future` (a user's own tasks: `beyond_future` alone).
///
/// - `future`: `size_of_val` of one task's future (the spawned body, or the future each
///   unspawned strategy holds per task): known from the type.
/// - `heap_payload`: the P bytes a heap payload keeps alive: known.
/// - `header`: what the runtime (spawned tasks: tokio's task cell with its header, trailer
///   and padding to 128 bytes, the `JoinHandle` kept in a `Vec`; async-task's header) or the
///   combinator (`join_all`'s and `FuturesUnordered`'s node per future) allocates per task
///   beyond the future and the payload, and any other per-task allocation (async-io's timer
///   B-tree under async-std and smol): measured, as the exact requested bytes per task
///   (`allocated`) minus the two known parts. A `Vec` of futures allocates exactly their
///   `size_of` (tested), so this is the difference between the pair and the sequential
///   await of the same future.
/// - `size_class_rounding`: jemalloc's size classes, `usable - allocated`: measured.
/// - `large_pad`: the page jemalloc adds to each large (16 KiB and up) allocation's extent
///   (`opt.cache_oblivious`): live large allocations per task times the pad, measured.
/// - `unexplained`: the rest: for the `resident` metric, pages and metadata jemalloc holds
///   beyond the live allocations; 0 by construction for `allocated`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The metric `measured` is (the one the pair's cases reported).
    pub metric: Metric,
    /// Bytes per task of that metric.
    pub measured: f64,
    /// `size_of_val` of one task's future.
    pub future: f64,
    /// Heap bytes of the payload held across the await. `None` for a user's own tasks, whose
    /// heap is not known apart from the runtime's: see `beyond_future`.
    pub heap_payload: Option<f64>,
    /// The runtime's or combinator's per-task bytes: allocated - future - heap payload.
    /// `None` for a user's own tasks (see `beyond_future`).
    pub header: Option<f64>,
    /// Exact allocated bytes per task beyond the future: the heap payload and the header
    /// together. For a user's own tasks this is all that is known: the runtime's allocations
    /// (its task cell, a `JoinHandle`) and the task's own heap are not told apart here.
    #[serde(default)]
    pub beyond_future: f64,
    /// The same pair's header without payload, where the summary has that pair: how the
    /// header moves with the future's size (tokio pads its task cell to 128 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_plain: Option<f64>,
    /// jemalloc's size-class rounding: usable - allocated (0 for the `allocated` metric).
    pub size_class_rounding: f64,
    /// jemalloc's page per large allocation (0 for the `allocated` metric).
    pub large_pad: f64,
    /// measured minus everything above.
    pub unexplained: f64,
    /// `unexplained` as a percentage of `measured`.
    pub unexplained_percent: f64,
}

/// Bytes per task of a pair, as [`Breakdown::compute`] takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerTask {
    /// The reported metric.
    pub metric: Metric,
    /// Bytes per task of the reported metric.
    pub measured: f64,
    /// Exact requested bytes per task.
    pub allocated: f64,
    /// The same in jemalloc's size classes.
    pub usable: f64,
    /// Large-allocation pad bytes per task.
    pub large_pad: f64,
}

impl Breakdown {
    /// Splits `per` into the known parts (`future`, and `heap_payload` where it is known:
    /// the suite's payloads), the measured ones (header, rounding, pad) and the unexplained
    /// rest. With `heap_payload` `None` (a user's own tasks) the heap beyond the future is one
    /// part, `beyond_future`, with no header or payload claimed.
    pub fn compute(per: PerTask, future: usize, heap_payload: Option<usize>) -> Breakdown {
        let future = future as f64;
        let beyond_future = per.allocated - future;
        let heap_payload = heap_payload.map(|h| h as f64);
        let header = heap_payload.map(|h| beyond_future - h);
        let (rounding, pad) = match per.metric {
            Metric::Allocated => (0.0, 0.0),
            Metric::Resident | Metric::Rss => (per.usable - per.allocated, per.large_pad),
        };
        let unexplained = per.measured - future - beyond_future - rounding - pad;
        Breakdown {
            metric: per.metric,
            measured: per.measured,
            future,
            heap_payload,
            header,
            beyond_future,
            header_plain: None,
            size_class_rounding: rounding,
            large_pad: pad,
            unexplained,
            unexplained_percent: if per.measured != 0.0 {
                100.0 * unexplained / per.measured
            } else {
                0.0
            },
        }
    }
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
    /// Bytes jemalloc adds to each large allocation's extent (a page with
    /// `opt.cache_oblivious`, else 0). Absent in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jemalloc_large_pad: Option<u64>,
}

impl Machine {
    /// This machine and build.
    pub fn current() -> Machine {
        Machine {
            provenance: Provenance::current(),
            jemalloc_dirty_decay_ms: crate::probe::dirty_decay_ms().ok(),
            jemalloc_large_pad: crate::probe::large_pad_bytes().ok(),
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

/// Summarises the sampled runs of any case, by its id and task count `n`.
pub fn summarise(
    id: &str,
    n: usize,
    metric: Metric,
    samples: &[Sample],
    runs: usize,
) -> CaseSummary {
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
        id: id.to_string(),
        n,
        metric,
        runs,
        per_task: value.median / n.max(1) as f64,
        value,
        below_resolution: values.iter().any(|v| v.below_resolution),
        values: values.iter().map(|v| v.bytes).collect(),
        metrics,
        large_allocations: Some(col(|s| s.large)),
        runtime: None,
        future_size: None,
        future_type: None,
        sites: None,
        sites_from: None,
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

/// Writes a summary file atomically (see [`write_atomic_with`]); take its lock first
/// ([`journal::lock`]) where other writers may be at it.
pub fn save(path: &Path, summary: &Summary) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(summary)
        .map_err(|e| format!("cannot encode the summary: {e}"))?;
    write_atomic(path, &json)
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

/// What a writer that knows its pairs better than their ids do does to a merged summary: the
/// taskmem suite fills in its payloads, bounds and breakdowns, orders its pairs and lists the
/// pairs that do not exist. It runs after every merge, on the whole summary.
pub type Pairing = fn(&mut Summary);

/// Builds a summary from this run's cases merged over an earlier summary: cases by id (a
/// case measured now replaces the earlier one; a skipped one removes it), grouped into pairs
/// by [`PairSummary::of`]. A pair whose cases are all as they were keeps the earlier
/// summary's pair as it was. Then `pairing`, where given.
pub fn merge(
    earlier: Option<Summary>,
    measured: Vec<CaseSummary>,
    skipped: Vec<Skip>,
    pairing: Option<Pairing>,
) -> Summary {
    let mut cases: BTreeMap<String, CaseSummary> = BTreeMap::new();
    let mut skips: BTreeMap<String, String> = BTreeMap::new();
    let mut kept: BTreeMap<String, PairSummary> = BTreeMap::new();
    let mut unsupported = Vec::new();
    if let Some(e) = earlier {
        for p in e.pairs {
            for c in &p.cases {
                cases.insert(c.id.clone(), c.clone());
            }
            kept.insert(p.id.clone(), p);
        }
        skips.extend(e.skipped.into_iter().map(|s| (s.id, s.reason)));
        unsupported = e.unsupported;
    }
    for c in measured {
        skips.remove(&c.id);
        cases.insert(c.id.clone(), c);
    }
    for s in skipped {
        cases.remove(&s.id);
        skips.insert(s.id, s.reason);
    }
    let machine = Machine::current();
    let pad = machine.jemalloc_large_pad.unwrap_or(0) as f64;
    let mut by_pair: BTreeMap<String, Vec<CaseSummary>> = BTreeMap::new();
    for c in cases.into_values() {
        by_pair
            .entry(pair_id(&c.id).to_string())
            .or_default()
            .push(c);
    }
    let pairs = by_pair
        .into_iter()
        .map(|(id, mut mine)| {
            mine.sort_by_key(|c| c.n);
            match kept.remove(&id) {
                Some(earlier) if earlier.cases == mine => earlier,
                _ => PairSummary::of(id, mine, pad),
            }
        })
        .collect();
    let mut summary = Summary {
        format: FORMAT,
        tool: format!("taskmem {}", env!("CARGO_PKG_VERSION")),
        updated_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine,
        pairs,
        skipped: skips
            .into_iter()
            .map(|(id, reason)| Skip { id, reason })
            .collect(),
        unsupported,
    };
    if let Some(pairing) = pairing {
        pairing(&mut summary);
    }
    summary
}

/// The pair a case id belongs to: the id without its last segment (N).
pub fn pair_id(case_id: &str) -> &str {
    case_id.rsplit_once('/').map_or(case_id, |(p, _)| p)
}

impl PairSummary {
    /// A pair from its cases, sorted by N: bytes per task of each counter, and the breakdown
    /// where the future's size is known (`pad`: jemalloc's large-allocation pad in bytes).
    /// The runtime and the future's size are the latest case's that has them.
    pub fn of(id: String, mut cases: Vec<CaseSummary>, pad: f64) -> PairSummary {
        cases.sort_by_key(|c| c.n);
        let bytes_per_task = bytes_per_task(&cases);
        let future_size = cases.iter().rev().find_map(|c| c.future_size);
        let breakdown = future_size.map(|future| {
            Breakdown::compute(PerTask::of(&cases, &bytes_per_task, pad), future, None)
        });
        PairSummary {
            id,
            runtime: cases
                .iter()
                .rev()
                .find_map(|c| c.runtime.clone())
                .unwrap_or_default(),
            future_size,
            bytes_per_task,
            cases,
            payload: None,
            bound: None,
            breakdown,
            bytes_per_live_task: None,
            bill: None,
        }
    }
}

/// Bytes per task of each counter (`resident`, `allocated`, `usable`, `rss`) and of the
/// reported figure (`reported`): slopes of the medians over N.
pub fn bytes_per_task(cases: &[CaseSummary]) -> BTreeMap<String, f64> {
    let mut bytes_per_task = BTreeMap::new();
    for key in ["resident", "allocated", "usable", "rss"] {
        let pts: Vec<(f64, f64)> = cases
            .iter()
            .filter_map(|c| Some((c.n as f64, c.metrics.get(key)?.median)))
            .collect();
        bytes_per_task.insert(key.to_string(), slope(&pts));
    }
    let reported: Vec<(f64, f64)> = cases.iter().map(|c| (c.n as f64, c.value.median)).collect();
    bytes_per_task.insert("reported".to_string(), slope(&reported));
    bytes_per_task
}

impl PerTask {
    /// The per-task figures of a pair's `cases`, from its [`bytes_per_task`] and jemalloc's
    /// large-allocation pad `pad`.
    pub fn of(cases: &[CaseSummary], bytes_per_task: &BTreeMap<String, f64>, pad: f64) -> PerTask {
        let large: Vec<(f64, f64)> = cases
            .iter()
            .filter_map(|c| Some((c.n as f64, c.large_allocations?.median * pad)))
            .collect();
        let per = |key: &str| bytes_per_task.get(key).copied().unwrap_or(0.0);
        PerTask {
            metric: cases.last().map_or(Metric::Resident, |c| c.metric),
            measured: per("reported"),
            allocated: per("allocated"),
            usable: per("usable"),
            large_pad: slope(&large),
        }
    }
}

impl std::fmt::Display for CaseSummary {
    /// Two lines, indented under Criterion's own: the reported figure per task (with its CV,
    /// and the fallback to exact bytes where it applied), then every counter per task.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::measurement::format_bytes;
        let per = |key: &str| {
            self.metrics.get(key).map_or_else(
                || "-".into(),
                |s| format_bytes(s.median / self.n.max(1) as f64),
            )
        };
        let note = if self.below_resolution {
            " (resident/RSS grew by less than a page: showing exact allocated bytes)"
        } else {
            ""
        };
        write!(
            f,
            "{:<40} {} per task [{}; cv {:.2}%]{note}\n{:<40} resident {} | allocated {} | usable {} | rss {}",
            "",
            format_bytes(self.per_task),
            self.metric,
            self.value.cv_percent,
            "",
            per("resident"),
            per("allocated"),
            per("usable"),
            per("rss"),
        )
    }
}
