//! The Criterion measurement: bytes held at the peak, not seconds.
//!
//! [`Memory`] is a [`criterion::measurement::Measurement`] whose value is a byte count. Which
//! bytes is chosen by [`Metric`](crate::sample::Metric) (`TASKMEM_METRIC`):
//!
//! | metric | what it counts | stacks | unit |
//! |---|---|---|---|
//! | `resident` (default for async cases) | growth of jemalloc `stats.resident` | no | bytes, page-granular |
//! | `allocated` | growth of live heap bytes requested, all threads, exact | no | bytes |
//! | `rss` (default for OS threads) | growth of process RSS (`/proc/self/statm`) | yes | bytes, page-granular |
//!
//! Each value is taken once per run, at the peak: every task alive and polled once, measured
//! against the level just before the tasks were created (see [`crate::sample`]).
//!
//! Criterion plans its iterations by wall-clock time but analyses the values the measurement
//! returns, so the value must come back through `Bencher::iter_custom`: the routine runs the
//! case `iters` times and returns the sum of the per-run peaks; Criterion divides by `iters`.
//! `start`/`end` around `Bencher::iter` would measure what is left after the tasks ended
//! (about nothing), so [`Memory::end`] returns zero and such a benchmark is dropped by
//! Criterion: use [`crate::suite`], which does it right.
//!
//! The formatter prints binary units (B, KiB, MiB, GiB). Criterion's command line still
//! labels the line `time:` and its HTML axes "Average time": read them as bytes.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// Bytes held at the peak, as a Criterion measurement.
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory;

impl Measurement for Memory {
    type Intermediate = ();
    type Value = u64;

    /// Nothing to start: values come from `iter_custom`.
    fn start(&self) -> Self::Intermediate {}

    /// Zero: memory is measured at the peak inside the run, not around it.
    fn end(&self, _i: Self::Intermediate) -> Self::Value {
        0
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        v1 + v2
    }

    fn zero(&self) -> Self::Value {
        0
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &BytesFormatter
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
