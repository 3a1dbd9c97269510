#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// The measuring core: allocator counters, probes, one measured run, the Criterion
// measurement and the task drivers. It reads no environment and no files, and imports
// nothing below this line.
#[doc(hidden)]
pub mod alloc;
mod error;
#[doc(hidden)]
pub mod measurement;
#[doc(hidden)]
pub mod probe;
mod runtime;
#[doc(hidden)]
pub mod sample;
mod tasks;

// What records a user's results: the summary file, the journal that keeps it up to date
// case by case, and the group that writes it.
mod group;
#[doc(hidden)]
pub mod journal;
#[doc(hidden)]
pub mod matrix;
#[doc(hidden)]
pub mod provenance;
#[doc(hidden)]
pub mod summary;

// The built-in suite, its tools and the command line (cargo feature `suite`).
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod baseline;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod child;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod cli;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod config;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod cores;
// Its records, breakdown and peers build with the suite (the report reads them); the
// servers under measurement need the `connections` feature.
#[cfg(any(feature = "suite", feature = "connections"))]
#[doc(hidden)]
pub mod connections;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod gate;
#[cfg(all(feature = "suite", feature = "dhat"))]
#[doc(hidden)]
pub mod heap_profile;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod interrupt;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod jobs;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod limits;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod peers;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod progress;
// Keeps Criterion's meaningless "Unable to complete 10 samples" off stderr, for `group` and
// the suite alike.
#[doc(hidden)]
pub mod quiet_stderr;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod report;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod run;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod sample_time;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod spawn_time;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod suite;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod sweep;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod timing;
#[cfg(feature = "suite")]
#[doc(hidden)]
pub mod workload;

pub use alloc::TrackedJemalloc;
pub use error::Error;
pub use group::{Group, group};
pub use measurement::{Memory, Mode, criterion};
pub use runtime::{Release, Runtime, Strategy};
pub use sample::{Metric, Sample, Value};
pub use tasks::{DEFAULT_TIMEOUT, Latch, Tasks};
