//! Why a run produced no measurement: one error type for the measuring core, each variant
//! a one-line message that names what to change.

use std::fmt;
use std::time::Duration;

use crate::runtime::Runtime;

/// Why a run of N tasks, or a measurement, produced no figure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The runtime is not compiled into this build of taskmem.
    NotCompiled(Runtime),
    /// The runtime has no such strategy (e.g. `JoinSet` is tokio's).
    Unsupported(String),
    /// The runtime could not be built.
    Runtime(String),
    /// Some futures completed before every task was alive: the peak would miss them.
    CompletedEarly {
        /// How many completed before the peak.
        count: usize,
        /// How many tasks the run made.
        n: usize,
    },
    /// A future panicked (its message); the run was released without a measurement.
    Panicked(String),
    /// Not every spawned task was polled within the deadline.
    NotPolled {
        /// Tasks polled at least once.
        polled: usize,
        /// Tasks spawned.
        n: usize,
        /// How long the run waited.
        waited: Duration,
    },
    /// Not every task arrived at the run's [`Latch`](crate::Latch) within the deadline.
    NotReady {
        /// Tasks that arrived.
        ready: usize,
        /// Arrivals the run waited for.
        n: usize,
        /// How long the run waited.
        waited: Duration,
    },
    /// taskmem's counting allocator is not this binary's global allocator.
    NoAllocator,
    /// A probe (jemalloc's statistics, the process's RSS) could not be read.
    Probe(String),
    /// The counters found nothing to report (every value must be non-zero for Criterion).
    NothingMeasured(String),
    /// The run was refused before it started: it could not measure anything (no task, a
    /// bound of 0), the message says why.
    Invalid(String),
    /// The run was refused before it started: by the estimate of what its tasks need, it
    /// would pass the machine's memory (the cgroup's limit, or half of `MemAvailable`),
    /// where the kernel would kill the process. The message names the limit and the estimate.
    TooLarge(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotCompiled(rt) => write!(
                f,
                "the {rt} runtime is not compiled into taskmem: enable its cargo feature \
                 (features = [\"{}\"])",
                rt.feature()
            ),
            Error::Unsupported(why) | Error::Runtime(why) | Error::Probe(why) => f.write_str(why),
            Error::CompletedEarly { count, n } => write!(
                f,
                "{count} of {n} futures completed before every task was alive, so the peak \
                 would not hold them: a measured future must stay pending (await a sleep, a \
                 socket, a channel) until taskmem releases it"
            ),
            Error::Panicked(message) => write!(f, "a task panicked: {message}"),
            Error::NotPolled { polled, n, waited } => write!(
                f,
                "only {polled} of {n} spawned tasks were polled within {waited:?}: the runtime \
                 is not running them (a blocked worker thread?)"
            ),
            Error::NotReady { ready, n, waited } => write!(
                f,
                "only {ready} of {n} tasks arrived at the ready latch within {waited:?}: each \
                 task must call `Latch::arrive` once it reaches its idle state"
            ),
            Error::NoAllocator => f.write_str(
                "taskmem's counting allocator is not this binary's global allocator: add \
                 `taskmem::use_tracked_jemalloc!();` at the top level of the bench file",
            ),
            Error::NothingMeasured(why) => write!(f, "nothing measurable: {why}"),
            Error::Invalid(why) => write!(f, "refused: {why}"),
            Error::TooLarge(why) => write!(f, "refused before it started: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::probe::ProbeError> for Error {
    fn from(e: crate::probe::ProbeError) -> Self {
        Error::Probe(e.0)
    }
}

/// Prints `taskmem: <message>` on stderr and ends the process with `code`. Written to the
/// stderr handle itself, not through `eprintln!`: a test harness's output capture (which
/// threads inherit from the thread that spawned them) would keep the line in a buffer that
/// the exit discards.
pub fn exit_with(message: &str, code: i32) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "taskmem: {message}");
    std::process::exit(code)
}
