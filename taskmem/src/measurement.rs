//! The Criterion measurement: bytes, not seconds.
//!
//! [`Memory`] is a [`criterion::measurement::Measurement`] whose value is a byte count, of
//! the [`Metric`] it was made with:
//!
//! | metric | what it counts | stacks | unit |
//! |---|---|---|---|
//! | `resident` (default) | growth of jemalloc `stats.resident`, its unused dirty pages left out | no | bytes, page-granular |
//! | `allocated` | growth of live heap bytes requested, all threads, exact | no | bytes |
//! | `rss` | growth of process RSS (`/proc/self/statm`) | yes | bytes, page-granular |
//!
//! Two ways to use it:
//!
//! - **N tasks at their peak**: [`Tasks::bench`](crate::Tasks::bench) returns its values
//!   through `Bencher::iter_custom`: each run is measured while every task is alive and
//!   polled, and the value is the growth from just before the tasks were created (Criterion
//!   divides the sum by its iteration count). That metric is the `Tasks`'s own.
//! - **Any routine, with `Bencher::iter`**: Criterion's start/end contract. [`Memory::start`]
//!   settles the allocator and reads every counter; [`Memory::end`] reads them again after
//!   the routine. With [`Mode::Peak`] (the default) the value is the *highest* growth of
//!   live heap bytes during the routine for `allocated` (exact, every thread); `resident`
//!   and `rss` have no peak counter, so with them the value is the growth at the end, as
//!   with [`Mode::Retained`], which reports what the routine left behind (a cache that
//!   grew, values kept in an outer collection, a leak). A value of zero makes Criterion drop
//!   the benchmark ("took zero time"): a routine that allocates nothing has nothing to
//!   report.
//!
//! A peak is a maximum, not a sum, so Criterion's division by the iteration count is right
//! only with one iteration per sample: [`criterion()`] configures that (warm-up and
//! measurement times of 1 ns make Criterion plan one iteration per sample). Retained bytes
//! add up over iterations, so any configuration reads them right.
//!
//! The formatter prints binary units (B, KiB, MiB, GiB), and bytes per task with
//! `Throughput::Elements(n)`. Criterion's command line still labels the line `time:` and its
//! HTML axes "Average time": read them as bytes.

use std::sync::OnceLock;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput};

use crate::error::exit_with;
use crate::probe::{self, Snapshot};
use crate::sample::{Metric, Sample, quiesce};

/// What [`Memory`] reports around a `Bencher::iter` routine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The highest growth during the routine (`allocated`); the growth at its end for the
    /// page-granular metrics, which have no peak counter.
    #[default]
    Peak,
    /// The growth from before the routine to after it: what it kept.
    Retained,
}

/// Bytes, as a Criterion measurement.
///
/// ```
/// use criterion::Criterion;
/// use taskmem::{Memory, Metric};
///
/// taskmem::use_tracked_jemalloc!();
///
/// fn main() {
///     // The peak heap growth of building a 1 MiB vector, measured with plain `b.iter`.
///     // Without plots: Criterion 0.8.2 panics drawing the t-test when every sample equals
///     // the last run's, as exact bytes do on a rerun (`taskmem::group` catches that and
///     // keeps the plots).
///     let mut c: Criterion<Memory> = taskmem::criterion()
///         .with_measurement(Memory::new(Metric::Allocated))
///         .without_plots();
///     c.bench_function("vec-1mib", |b| b.iter(|| vec![1u8; 1 << 20]));
/// }
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    metric: Metric,
    mode: Mode,
}

impl Memory {
    /// Bytes of `metric`, [`Mode::Peak`] around `b.iter` routines.
    pub fn new(metric: Metric) -> Memory {
        Memory {
            metric,
            mode: Mode::Peak,
        }
    }

    /// Bytes of `metric` a `b.iter` routine leaves behind ([`Mode::Retained`]).
    pub fn retained(metric: Metric) -> Memory {
        Memory {
            metric,
            mode: Mode::Retained,
        }
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// A Criterion for byte-valued benchmarks: the [`Memory`] measurement (resident bytes), 10
/// samples (Criterion's minimum), flat sampling with warm-up and measurement times of 1 ns so
/// that every sample is one run, and 10,000 bootstrap resamples (byte samples vary so
/// little that Criterion's default 100,000 only cost time). The command line
/// (`--sample-size`, `--save-baseline`, a filter) still applies after it, through
/// `criterion_group!`.
pub fn criterion() -> Criterion<Memory> {
    Criterion::default()
        .with_measurement(Memory::default())
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_nanos(1))
        .nresamples(NRESAMPLES)
}

/// Bootstrap resamples [`criterion()`] sets.
pub const NRESAMPLES: usize = 10_000;

/// Criterion's sample count [`criterion()`] sets (its minimum).
pub const SAMPLE_SIZE: usize = 10;

/// How many samples Criterion has taken with a [`Memory`] measurement in this process (its
/// calls of [`Measurement::to_f64`]).
static SAMPLES_TAKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Criterion's calls of one benchmark's routine, each with what it recorded, told apart into
/// warm-up calls and the samples Criterion analyses, whatever sets the sample size (code,
/// `--sample-size N`, `--sample-size=N`, a group's `sample_size`): Criterion turns each sample's
/// value into a number with [`Measurement::to_f64`] right after the call that made it, and
/// does not for a warm-up call.
#[derive(Debug)]
pub struct Calls<T> {
    calls: Vec<(u64, T)>,
}

impl<T> Default for Calls<T> {
    fn default() -> Self {
        Calls { calls: Vec::new() }
    }
}

impl<T> Calls<T> {
    /// Records one call (call it inside the routine, once per Criterion call).
    pub fn push(&mut self, recorded: T) {
        let taken = SAMPLES_TAKEN.load(std::sync::atomic::Ordering::SeqCst);
        self.calls.push((taken, recorded));
    }

    /// How many calls were recorded, warm-up included.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call was recorded (a benchmark that Criterion's filter left out).
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// What the sample calls recorded, in order (after Criterion's benchmark returned: the
    /// last call's sample is taken after it). The warm-up calls' are dropped.
    pub fn into_samples(self) -> Vec<T> {
        let now = SAMPLES_TAKEN.load(std::sync::atomic::Ordering::SeqCst);
        let next: Vec<u64> = self
            .calls
            .iter()
            .skip(1)
            .map(|(t, _)| *t)
            .chain(std::iter::once(now))
            .collect();
        self.calls
            .into_iter()
            .zip(next)
            .filter(|((at, _), after)| after > at)
            .map(|((_, recorded), _)| recorded)
            .collect()
    }

    /// Every call's record, warm-up included, in order.
    pub fn records(&self) -> impl Iterator<Item = &T> {
        self.calls.iter().map(|(_, r)| r)
    }

    /// Every call's record, warm-up included.
    pub fn into_all(self) -> Vec<T> {
        self.calls.into_iter().map(|(_, r)| r).collect()
    }
}

/// Reads every counter, or ends the process with one line: a measurement that cannot read
/// its counters must not hand Criterion a number.
fn snapshot_or_exit() -> Snapshot {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        if let Err(e) = probe::check() {
            exit_with(&e.to_string(), 1);
        }
    });
    probe::snapshot().unwrap_or_else(|e| exit_with(&e.to_string(), 1))
}

/// Criterion's `Measurement` contract. Its methods have no error path: when the counters
/// cannot be read (taskmem's allocator is not the binary's global allocator, jemalloc's
/// statistics fail), `start` and `end` print one line (`taskmem: <why>`) and end the process
/// with exit code 1, since any number returned would reach Criterion's analysis as a figure.
/// [`crate::Tasks::measure`] returns the same failures as an [`crate::Error`].
impl Measurement for Memory {
    type Intermediate = Snapshot;
    type Value = u64;

    /// Criterion calls this before the routine: settles the allocator (this thread's cache
    /// flushed, every arena purged), reads every counter and starts peak tracking.
    fn start(&self) -> Snapshot {
        quiesce();
        if let Err(e) = probe::settle() {
            exit_with(&e.to_string(), 1);
        }
        let before = snapshot_or_exit();
        crate::alloc::track_peak();
        before
    }

    /// Criterion calls this after the routine: the bytes of the metric, as [`Mode`] says
    /// (negative growth reads as 0).
    fn end(&self, before: Snapshot) -> u64 {
        let peak = crate::alloc::take_peak();
        quiesce();
        let after = snapshot_or_exit();
        let mut grown = Sample::between(&before, &after);
        if self.mode == Mode::Peak {
            grown.requested = peak - before.requested;
        }
        let bytes = match self.metric {
            Metric::Resident => grown.resident,
            Metric::Allocated => grown.requested,
            Metric::Rss => grown.rss,
        };
        bytes.max(0) as u64
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        v1 + v2
    }

    fn zero(&self) -> Self::Value {
        0
    }

    /// Criterion calls this once for each sample it takes, right after the routine's call that
    /// made it, and never for a warm-up call: [`Calls`] tells the two apart by it.
    fn to_f64(&self, value: &Self::Value) -> f64 {
        SAMPLES_TAKEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &BytesFormatter
    }
}

// Here, beside the byte formatting, so that `sample` imports nothing of this module.
/// Every counter's growth in binary units: `resident 22.0 MiB | allocated 22.1 MiB | usable
/// 22.1 MiB | rss 22.0 MiB` (`{:#}` adds the large allocations).
impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = |v: i64| format_bytes(v as f64);
        write!(
            f,
            "resident {} | allocated {} | usable {} | rss {}",
            b(self.resident),
            b(self.requested),
            b(self.usable),
            b(self.rss)
        )?;
        if f.alternate() {
            write!(f, " | {} large allocations", self.large)?;
        }
        Ok(())
    }
}

/// Formats byte values in binary units.
#[derive(Debug, Default, Clone, Copy)]
pub struct BytesFormatter;

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
const PER_TASK: [&str; 5] = ["B/task", "KiB/task", "MiB/task", "GiB/task", "TiB/task"];
const PER_BYTE: [&str; 5] = ["B/B", "KiB/B", "MiB/B", "GiB/B", "TiB/B"];
const PER_BIT: [&str; 5] = ["B/bit", "KiB/bit", "MiB/bit", "GiB/bit", "TiB/bit"];

/// The index into [`UNITS`] of the binary unit that suits `typical`, and its size in bytes.
fn unit_index(typical: f64) -> (f64, usize) {
    let mut scale = 1.0;
    for i in 0..UNITS.len() - 1 {
        if typical.abs() < scale * 1024.0 {
            return (scale, i);
        }
        scale *= 1024.0;
    }
    (scale, UNITS.len() - 1)
}

/// The binary unit that suits `typical` (B, KiB, MiB, GiB, TiB), and its size in bytes.
pub fn binary_unit(typical: f64) -> (f64, &'static str) {
    let (scale, i) = unit_index(typical);
    (scale, UNITS[i])
}

/// `bytes` in a binary unit with up to three significant decimals (`25.17 MiB`).
pub fn format_bytes(bytes: f64) -> String {
    let (scale, unit) = binary_unit(bytes);
    let v = bytes / scale;
    if scale == 1.0 {
        format!("{v:.0} {unit}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

impl ValueFormatter for BytesFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let (scale, unit) = binary_unit(typical_value);
        values.iter_mut().for_each(|v| *v /= scale);
        unit
    }

    /// Bytes per unit of work: per task for `Elements`/`ElementsAndBytes` (N tasks), per
    /// byte or bit otherwise.
    fn scale_throughputs(
        &self,
        typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, labels) = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n as f64, &PER_TASK)
            }
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => (b as f64, &PER_BYTE),
            Throughput::Bits(b) => (b as f64, &PER_BIT),
        };
        let per = per.max(1.0);
        let (scale, i) = unit_index(typical_value / per);
        values.iter_mut().for_each(|v| *v /= per * scale);
        labels[i]
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "B"
    }
}

/// Why Criterion's analysis of a benchmark panicked, told from the panic's message. Criterion
/// 0.8 panics in its analysis on figures a byte count makes possible; [`group`](crate::group)
/// catches the panic, keeps the case and prints this in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisPanic {
    /// Every run measured the same bytes, this time and the last: Criterion cannot draw the
    /// t-test of two equal zero-variance samples.
    EqualSamples,
    /// Anything else: the panic's first line.
    Other(String),
}

impl AnalysisPanic {
    /// The kind of panic `message` is.
    pub fn of(message: &str) -> AnalysisPanic {
        if message.contains("index out of bounds: the len is 0") {
            AnalysisPanic::EqualSamples
        } else {
            AnalysisPanic::Other(message.lines().next().unwrap_or("").to_string())
        }
    }
}

impl std::fmt::Display for AnalysisPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalysisPanic::EqualSamples => f.write_str(
                "Criterion 0.8.2 cannot draw the t-test of two zero-variance samples that are \
                 equal (every run measured the same bytes as the baseline); this case's HTML page \
                 keeps its previous plots, its figures and change estimates are saved",
            ),
            AnalysisPanic::Other(first_line) => {
                write!(f, "Criterion's analysis failed: {first_line}")
            }
        }
    }
}
