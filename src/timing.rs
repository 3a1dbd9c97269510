//! The time side of a case: how long creating N tasks takes, and how late they wake.
//!
//! - **Time to all-pending** ([`Driver::time_to_peak`]): wall time from just before the first
//!   task is created to every task alive and pending (polled once, its timer registered;
//!   threads started), the same point where the memory suite measures bytes. Releasing the
//!   tasks afterwards is not timed. Per task: that time divided by N; tasks per second: N
//!   over it.
//! - **Wake-up lateness** ([`lateness_run`]): N tasks sleep a short time (10 ms by default,
//!   as in the published latency comparison) and really complete; each notes its deadline
//!   when its sleep is created (the runtime's sleep future, or the thread's start) and
//!   records how late it resumed past it. Reported: p50, p99, max and mean lateness, and the
//!   run's total wall time. Percentiles are nearest-rank: p-th percentile of n sorted values
//!   is the value at rank `ceil(p/100 * n)`.
//!
//! A strategy's own semantics show in its lateness: `sequential` awaits one future after
//! another, so on async-std, whose sleep starts its timer only when first polled, task k
//! starts sleeping after task k-1 finished and its lateness grows with k.
//!
//! Results go to `target/taskmem/time.json` ([`TimeSummary`]), merged by id like the memory
//! summary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::matrix::{Case, Pair};
use crate::workload::{self, CaseError, Driver, Release, RunOptions};
use taskmem::summary::Provenance;
use taskmem::summary::{Skip, Stats};

/// The time file's format version.
pub const FORMAT: u32 = 1;

/// Default task count of a lateness run (the published latency comparison's 1,000).
pub const LATENESS_TASKS: usize = 1_000;

/// Default sleep of a lateness run (the published latency comparison's 10 ms).
pub const LATENESS_SLEEP: Duration = Duration::from_millis(10);

/// The value at the nearest rank of `p` percent in `sorted` (ascending, non-empty).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "percentile of no values");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Lateness statistics of one run, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatenessStats {
    /// Tasks that recorded their lateness.
    pub tasks: usize,
    /// Median lateness.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest lateness.
    pub max_us: f64,
    /// Mean lateness.
    pub mean_us: f64,
}

impl LatenessStats {
    /// Statistics of `lateness` (at least one value).
    pub fn of(lateness: &[Duration]) -> LatenessStats {
        let mut sorted = lateness.to_vec();
        sorted.sort_unstable();
        let us = |d: Duration| d.as_nanos() as f64 / 1_000.0;
        let total: Duration = sorted.iter().sum();
        LatenessStats {
            tasks: sorted.len(),
            p50_us: us(percentile(&sorted, 50.0)),
            p99_us: us(percentile(&sorted, 99.0)),
            max_us: us(*sorted.last().expect("at least one value")),
            mean_us: us(total) / sorted.len() as f64,
        }
    }
}

/// One lateness run of a runtime x strategy pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatenessSummary {
    /// `runtime/strategy`.
    pub id: String,
    /// Each task's sleep, in milliseconds.
    pub sleep_ms: f64,
    /// Wall time of the whole run: creating the tasks until the last completed, in ms.
    pub total_ms: f64,
    /// The lateness statistics.
    pub lateness: LatenessStats,
}

/// Runs `case` once with every task really sleeping `sleep` and completing, and returns the
/// lateness of its tasks. The caller holds no [`workload::exclusive`] guard.
pub fn lateness_run(
    driver: &Driver,
    case: &Case,
    sleep: Duration,
) -> Result<LatenessSummary, CaseError> {
    let _guard = workload::exclusive();
    let opts = RunOptions {
        sleep,
        release: Release::Complete,
        lateness: true,
        ..RunOptions::default()
    };
    workload::take_lateness();
    let start = Instant::now();
    driver.run(case, &opts, &mut || {})?;
    let total = start.elapsed();
    let lateness = workload::take_lateness();
    if lateness.len() != case.n {
        return Err(CaseError::Failed(format!(
            "{}: {} of {} tasks recorded their wake-up",
            case.id(),
            lateness.len(),
            case.n
        )));
    }
    Ok(LatenessSummary {
        id: case.pair().id(),
        sleep_ms: sleep.as_secs_f64() * 1e3,
        total_ms: total.as_secs_f64() * 1e3,
        lateness: LatenessStats::of(&lateness),
    })
}

/// One case's time to all-pending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpawnTime {
    /// `runtime/strategy/N`, the memory suite's id.
    pub id: String,
    /// Task count.
    pub n: usize,
    /// Runs whose times are in `seconds` (Criterion's samples; each may be several runs).
    pub runs: usize,
    /// Time to all-pending per run, in seconds, over Criterion's samples.
    pub seconds: Stats,
    /// Median time per task, in nanoseconds.
    pub ns_per_task: f64,
    /// Tasks created per second (N over the median time).
    pub tasks_per_second: f64,
    /// One cache line's round trip between two CPUs, in ns ([`crate::cores`]), read before
    /// and after the case and after each of its long samples (see [`crate::spawn_time`]): the
    /// state of the machine the times were taken in. Empty where it could not be measured,
    /// or in a file written before it was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_trip_ns: Vec<f64>,
}

impl SpawnTime {
    /// The summary of a case from the per-run times of its samples (each sample: total time
    /// and the runs it covers).
    pub fn of(case: &Case, samples: &[(Duration, u64)]) -> SpawnTime {
        let per_run: Vec<f64> = samples
            .iter()
            .map(|(t, runs)| t.as_secs_f64() / (*runs).max(1) as f64)
            .collect();
        let seconds = Stats::of(&per_run);
        SpawnTime {
            id: case.id(),
            n: case.n,
            runs: samples.iter().map(|s| s.1 as usize).sum(),
            seconds,
            ns_per_task: seconds.median * 1e9 / case.n as f64,
            tasks_per_second: if seconds.median > 0.0 {
                case.n as f64 / seconds.median
            } else {
                f64::INFINITY
            },
            round_trip_ns: Vec::new(),
        }
    }
}

/// `target/taskmem/time.json`: spawn times and lateness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSummary {
    /// [`FORMAT`].
    pub format: u32,
    /// The machine and build.
    pub machine: Provenance,
    /// Time to all-pending per case.
    pub cases: Vec<SpawnTime>,
    /// Lateness per pair.
    pub lateness: Vec<LatenessSummary>,
    /// Cases or pairs that did not run, and why.
    pub skipped: Vec<Skip>,
}

/// Where the time summary is written.
pub fn default_path() -> PathBuf {
    taskmem::summary::target_dir()
        .join("taskmem")
        .join("time.json")
}

/// Reads a time summary; one-line errors.
pub fn load(path: &std::path::Path) -> Result<TimeSummary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let s: TimeSummary = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a taskmem time summary: {e}", path.display()))?;
    if s.format != FORMAT {
        return Err(format!(
            "{} has format {}, this taskmem reads {FORMAT}",
            path.display(),
            s.format
        ));
    }
    Ok(s)
}

/// `earlier` updated with this run's results: entries with the same id are replaced, a
/// skip is dropped once its id has a result, and the machine is this one's.
pub fn merge(
    earlier: Option<TimeSummary>,
    cases: Vec<SpawnTime>,
    lateness: Vec<LatenessSummary>,
    skipped: Vec<Skip>,
) -> TimeSummary {
    fn upsert<T: Clone>(into: &mut Vec<T>, new: Vec<T>, id: impl Fn(&T) -> &str) {
        for item in new {
            match into.iter_mut().find(|x| id(x) == id(&item)) {
                Some(slot) => *slot = item,
                None => into.push(item),
            }
        }
    }
    let mut s = earlier.unwrap_or(TimeSummary {
        format: FORMAT,
        machine: Provenance::current(),
        cases: Vec::new(),
        lateness: Vec::new(),
        skipped: Vec::new(),
    });
    s.machine = Provenance::current();
    let ran: Vec<String> = cases
        .iter()
        .map(|c| c.id.clone())
        .chain(lateness.iter().map(|l| format!("lateness:{}", l.id)))
        .collect();
    s.skipped.retain(|k| !ran.contains(&k.id));
    upsert(&mut s.cases, cases, |c| &c.id);
    upsert(&mut s.lateness, lateness, |l| &l.id);
    upsert(&mut s.skipped, skipped, |k| &k.id);
    // Matrix order (runtime, strategy, N); ids that do not parse go last.
    s.cases.sort_by_key(|c| {
        c.id.parse::<Case>()
            .ok()
            .map_or((1, None), |c| (0, Some(c)))
    });
    s.lateness.sort_by_key(|l| {
        l.id.parse::<Pair>()
            .ok()
            .map_or((1, None), |p| (0, Some(p)))
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_written_before_the_round_trip_was_read_still_loads() {
        let json = r#"{"id": "smol/spawn/1000", "n": 1000, "runs": 10,
            "seconds": {"median": 0.001, "mean": 0.001, "cv_percent": 1.0, "min": 0.001, "max": 0.001},
            "ns_per_task": 1000.0, "tasks_per_second": 1000000.0}"#;
        let case: SpawnTime = serde_json::from_str(json).expect("an older case loads");
        assert!(case.round_trip_ns.is_empty());
        let written = serde_json::to_string(&case).expect("encodes");
        assert!(!written.contains("round_trip_ns"), "{written}");
    }
}
