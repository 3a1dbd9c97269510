//! The workload matrix: runtimes x spawn strategies x task counts, defined once as data.
//!
//! The benches, the summary and the reports all read this module; nothing else lists cases.
//! A case's id reads `runtime/strategy/N` (e.g. `tokio-mt/spawn/100000`), which is also its
//! Criterion id, so a Criterion filter such as `cargo bench -- tokio-mt/spawn` picks a slice.
//!
//! Where a strategy does not exist for a runtime, [`support`] says so with the reason instead of
//! running a stand-in.

use std::fmt;
use std::str::FromStr;

/// The default task counts: N in {1, 10K, 100K, 1M}, as in the published comparisons.
pub const DEFAULT_SIZES: [usize; 4] = [1, 10_000, 100_000, 1_000_000];

/// The reduced task counts CI runs end to end.
pub const REDUCED_SIZES: [usize; 2] = [1, 10_000];

/// How long each task sleeps: 10 s, as in the published benchmarks. Cases are released right
/// after the peak is measured, so no run waits this long.
pub const SLEEP: std::time::Duration = std::time::Duration::from_secs(10);

/// An executor the tasks run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// tokio, current-thread scheduler.
    TokioCt,
    /// tokio, multi-thread scheduler with its default worker count (one per core).
    TokioMt,
    /// async-std (legacy: discontinued upstream, kept because the published comparisons use it).
    AsyncStd,
    /// smol: `smol::spawn` on its global executor, `smol::block_on`.
    Smol,
    /// No async runtime: OS threads scheduled by the kernel.
    Os,
}

/// How the N tasks are created and awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// `futures::future::join_all` over N sleep futures; nothing is spawned.
    JoinAll,
    /// A `Vec` of N sleep futures awaited one by one in a `for` loop.
    Sequential,
    /// Spawn each task, keep the `JoinHandle`s, await them.
    Spawn,
    /// tokio's `JoinSet`.
    JoinSet,
    /// `futures::stream::FuturesUnordered` over N sleep futures; nothing is spawned.
    FuturesUnordered,
    /// `std::thread::spawn` + join, each thread waiting with a 10 s deadline.
    Threads,
}

impl Runtime {
    /// Every runtime, in report order.
    pub const ALL: [Runtime; 5] = [
        Runtime::TokioCt,
        Runtime::TokioMt,
        Runtime::AsyncStd,
        Runtime::Smol,
        Runtime::Os,
    ];

    /// The id used in benchmark ids and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Runtime::TokioCt => "tokio-ct",
            Runtime::TokioMt => "tokio-mt",
            Runtime::AsyncStd => "async-std",
            Runtime::Smol => "smol",
            Runtime::Os => "os",
        }
    }

    /// A one-line description, with the legacy label where it applies.
    pub fn describe(self) -> &'static str {
        match self {
            Runtime::TokioCt => "tokio, current-thread runtime",
            Runtime::TokioMt => "tokio, multi-thread runtime (default workers)",
            Runtime::AsyncStd => "async-std (legacy: discontinued upstream)",
            Runtime::Smol => "smol (global executor)",
            Runtime::Os => "OS threads (std::thread)",
        }
    }
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 6] = [
        Strategy::JoinAll,
        Strategy::Sequential,
        Strategy::Spawn,
        Strategy::JoinSet,
        Strategy::FuturesUnordered,
        Strategy::Threads,
    ];

    /// The id used in benchmark ids and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Strategy::JoinAll => "join_all",
            Strategy::Sequential => "sequential",
            Strategy::Spawn => "spawn",
            Strategy::JoinSet => "joinset",
            Strategy::FuturesUnordered => "futures_unordered",
            Strategy::Threads => "threads",
        }
    }

    /// Whether the strategy's tasks are spawned onto a scheduler (and so carry its per-task
    /// header), rather than being futures polled inside one task.
    pub fn spawns(self) -> bool {
        matches!(
            self,
            Strategy::Spawn | Strategy::JoinSet | Strategy::Threads
        )
    }
}

macro_rules! from_id {
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$ty>::ALL.into_iter().find(|v| v.id() == s).ok_or_else(|| {
                    let valid: Vec<_> = <$ty>::ALL.iter().map(|v| v.id()).collect();
                    format!(
                        concat!("unknown ", $what, " '{}' (valid: {})"),
                        s,
                        valid.join(", ")
                    )
                })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.id())
            }
        }
    };
}
from_id!(Runtime, "runtime");
from_id!(Strategy, "strategy");

/// Whether a strategy exists on a runtime.
pub fn support(runtime: Runtime, strategy: Strategy) -> Result<(), &'static str> {
    use Runtime::*;
    use Strategy::*;
    match (runtime, strategy) {
        (Os, Threads) => Ok(()),
        (Os, _) => Err("OS threads have no futures: async strategies need an async runtime"),
        (_, Threads) => Err("OS threads are the `os` runtime, not a strategy of an async one"),
        (AsyncStd | Smol, JoinSet) => Err("JoinSet is tokio's API; this runtime has none"),
        _ => Ok(()),
    }
}

/// One runtime x strategy pair of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// The runtime.
    pub runtime: Runtime,
    /// The strategy.
    pub strategy: Strategy,
}

impl Pair {
    /// `runtime/strategy`.
    pub fn id(self) -> String {
        format!("{}/{}", self.runtime.id(), self.strategy.id())
    }
}

impl FromStr for Pair {
    type Err = String;
    /// Parses `runtime/strategy`.
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((runtime, strategy)) = s.split_once('/') else {
            return Err(format!("pair '{s}' is not runtime/strategy"));
        };
        Ok(Pair {
            runtime: runtime.parse()?,
            strategy: strategy.parse()?,
        })
    }
}

/// One runtime x strategy x N cell: a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Case {
    /// The runtime.
    pub runtime: Runtime,
    /// The strategy.
    pub strategy: Strategy,
    /// How many tasks are alive at the peak.
    pub n: usize,
}

impl Case {
    /// A case.
    pub fn new(runtime: Runtime, strategy: Strategy, n: usize) -> Self {
        Case {
            runtime,
            strategy,
            n,
        }
    }

    /// `runtime/strategy/N`, the Criterion id.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.runtime.id(), self.strategy.id(), self.n)
    }

    /// The runtime x strategy pair.
    pub fn pair(&self) -> Pair {
        Pair {
            runtime: self.runtime,
            strategy: self.strategy,
        }
    }
}

impl FromStr for Case {
    type Err = String;
    /// Parses `runtime/strategy/N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let [runtime, strategy, n] = parts[..] else {
            return Err(format!("case '{s}' is not runtime/strategy/N"));
        };
        let n = crate::config::parse_size(n)?;
        Ok(Case::new(runtime.parse()?, strategy.parse()?, n))
    }
}

/// Every supported runtime x strategy pair, in report order.
pub fn pairs() -> Vec<Pair> {
    Runtime::ALL
        .into_iter()
        .flat_map(|runtime| {
            Strategy::ALL
                .into_iter()
                .map(move |strategy| Pair { runtime, strategy })
        })
        .filter(|p| support(p.runtime, p.strategy).is_ok())
        .collect()
}

/// The pairs that do not exist, each with its reason, for the summary and reports.
/// Only pairs a reader might look for are listed (not every async strategy on `os`).
pub fn unsupported() -> Vec<(Pair, &'static str)> {
    Runtime::ALL
        .into_iter()
        .filter(|r| *r != Runtime::Os)
        .flat_map(|runtime| {
            Strategy::ALL
                .into_iter()
                .map(move |strategy| Pair { runtime, strategy })
        })
        .filter(|p| p.strategy != Strategy::Threads)
        .filter_map(|p| support(p.runtime, p.strategy).err().map(|why| (p, why)))
        .collect()
}

/// Every case of the matrix at the given sizes, in report order.
pub fn cases(sizes: &[usize]) -> Vec<Case> {
    pairs()
        .into_iter()
        .flat_map(|p| {
            sizes
                .iter()
                .map(move |&n| Case::new(p.runtime, p.strategy, n))
        })
        .collect()
}
