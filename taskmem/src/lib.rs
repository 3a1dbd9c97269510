#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// The measuring core: allocator counters, probes, one measured run, allocation sites, the
// Criterion measurement and the task drivers. It reads no environment and no files.
pub mod alloc;
mod error;
mod measurement;
pub mod probe;
mod runtime;
pub mod sample;
pub mod sites;
mod tasks;

// What records a user's results: the summary file and the group that writes it.
mod group;
pub mod quiet_stderr;

/// What a measurement compiles: the runtimes and strategies [`Tasks`]' `_on` methods
/// ([`Tasks::measure_on`], [`Tasks::run_on`], [`Tasks::time_to_peak_on`]) instantiate for a
/// future type.
///
/// [`Tasks::measure`] compiles every strategy of every runtime compiled in for each future
/// type it is given: any future runs anywhere. A bench that measures many future types, each
/// on one runtime and either spawned or not, names that instead, and builds a fraction of the
/// code: `tasks.measure_on::<on::Spawned<on::Tokio>, _, _>(make)` compiles tokio's spawning
/// strategies alone (spawn, `JoinSet`, the semaphore). The taskmem suite's task bodies do
/// this: each is compiled for a sixth of what [`on::Any`] would compile.
pub mod on {
    #[cfg(feature = "async-std")]
    pub use crate::tasks::AsyncStd;
    #[cfg(feature = "smol")]
    pub use crate::tasks::Smol;
    #[cfg(feature = "tokio")]
    pub use crate::tasks::Tokio;
    pub use crate::tasks::{Any, On, Polled, Spawned};
}
pub mod summary;

pub use alloc::TrackedJemalloc;
pub use error::Error;
pub use group::{Group, SITES_ENV, group};
pub use measurement::{
    AnalysisPanic, Calls, Memory, Mode, NRESAMPLES, SAMPLE_SIZE, binary_unit, criterion,
    format_bytes,
};
pub use runtime::{Release, Runtime, Strategy};
pub use sample::{Metric, Sample, Value};
pub use tasks::{DEFAULT_TIMEOUT, Latch, TASK_OVERHEAD_BYTES, Tasks};
