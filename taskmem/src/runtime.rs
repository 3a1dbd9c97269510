//! What a run is made of: the runtime the tasks run on, the strategy that creates and holds
//! them, and what happens to them after the peak.

use std::fmt;
use std::str::FromStr;

/// The async runtime the tasks run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// tokio's current-thread runtime (cargo feature `tokio`).
    TokioCurrentThread,
    /// tokio's multi-thread runtime, one worker per core (cargo feature `tokio`).
    TokioMultiThread,
    /// async-std's global executor (cargo feature `async-std`). Legacy: discontinued
    /// upstream, kept because published comparisons measure it.
    AsyncStd,
    /// smol's global executor (cargo feature `smol`).
    Smol,
}

impl Runtime {
    /// Every runtime, compiled in or not.
    pub const ALL: [Runtime; 4] = [
        Runtime::TokioCurrentThread,
        Runtime::TokioMultiThread,
        Runtime::AsyncStd,
        Runtime::Smol,
    ];

    /// The runtime's id in benchmark ids: `tokio-ct`, `tokio-mt`, `async-std`, `smol`.
    pub fn id(self) -> &'static str {
        match self {
            Runtime::TokioCurrentThread => "tokio-ct",
            Runtime::TokioMultiThread => "tokio-mt",
            Runtime::AsyncStd => "async-std",
            Runtime::Smol => "smol",
        }
    }

    /// A one-line description, with the legacy label where it applies.
    pub fn describe(self) -> &'static str {
        match self {
            Runtime::TokioCurrentThread => "tokio, current-thread runtime",
            Runtime::TokioMultiThread => "tokio, multi-thread runtime (default workers)",
            Runtime::AsyncStd => "async-std (legacy: discontinued upstream)",
            Runtime::Smol => "smol (global executor)",
        }
    }

    /// The cargo feature of taskmem that compiles the runtime in.
    pub fn feature(self) -> &'static str {
        match self {
            Runtime::TokioCurrentThread | Runtime::TokioMultiThread => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::Smol => "smol",
        }
    }

    /// Whether this build of taskmem has the runtime.
    pub fn is_compiled(self) -> bool {
        match self {
            Runtime::TokioCurrentThread | Runtime::TokioMultiThread => cfg!(feature = "tokio"),
            Runtime::AsyncStd => cfg!(feature = "async-std"),
            Runtime::Smol => cfg!(feature = "smol"),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Runtime::ALL
            .into_iter()
            .find(|r| r.id() == s)
            .ok_or_else(|| {
                format!("unknown runtime '{s}' (valid: tokio-ct, tokio-mt, async-std, smol)")
            })
    }
}

/// How the N tasks are created and held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// `futures::future::join_all` over the N futures, inside one task.
    JoinAll,
    /// A `Vec` of the N futures awaited one by one: only the first is polled.
    Sequential,
    /// Each future spawned as a task (`tokio::spawn`, `smol::spawn`,
    /// `async_std::task::spawn`), its handle kept.
    Spawn,
    /// Each future spawned into a tokio `JoinSet` (tokio only).
    JoinSet,
    /// `futures::stream::FuturesUnordered` over the N futures, inside one task.
    FuturesUnordered,
    /// `buffer_unordered(K)` over a lazy stream of the N futures: at most K exist at a time.
    BufferUnordered(usize),
    /// Spawned tasks, each holding one of K semaphore permits: at most K alive at a time.
    Semaphore(usize),
}

impl Strategy {
    /// The strategy's id in benchmark ids: `join_all`, `sequential`, `spawn`, `joinset`,
    /// `futures_unordered`, `buffer_unordered/k1000`, `semaphore/k1000`.
    pub fn id(self) -> String {
        match self.bound() {
            Some(k) => format!("{}/k{k}", self.name()),
            None => self.name().into(),
        }
    }

    /// The strategy's name: its id without the bound (`buffer_unordered`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::JoinAll => "join_all",
            Strategy::Sequential => "sequential",
            Strategy::Spawn => "spawn",
            Strategy::JoinSet => "joinset",
            Strategy::FuturesUnordered => "futures_unordered",
            Strategy::BufferUnordered(_) => "buffer_unordered",
            Strategy::Semaphore(_) => "semaphore",
        }
    }

    /// K, for the bounded strategies.
    pub fn bound(self) -> Option<usize> {
        match self {
            Strategy::BufferUnordered(k) | Strategy::Semaphore(k) => Some(k),
            _ => None,
        }
    }

    /// The same strategy with bound `k`; `None` for a strategy that takes no bound.
    pub fn with_bound(self, k: usize) -> Option<Strategy> {
        match self {
            Strategy::BufferUnordered(_) => Some(Strategy::BufferUnordered(k)),
            Strategy::Semaphore(_) => Some(Strategy::Semaphore(k)),
            _ => None,
        }
    }

    /// Whether the tasks are spawned onto the runtime's scheduler (each then carries the
    /// runtime's per-task header).
    pub fn spawns(self) -> bool {
        matches!(
            self,
            Strategy::Spawn | Strategy::JoinSet | Strategy::Semaphore(_)
        )
    }

    /// How many of `n` tasks are alive at the peak: `n`, or the bound K.
    pub fn live_tasks(self, n: usize) -> usize {
        self.bound().map_or(n, |k| n.min(k))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// What happens to the tasks once the peak has been measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// Drop, abort or cancel every task right after the peak (the default: a 1M run takes
    /// well under a second).
    #[default]
    Cancel,
    /// Let every task run to completion (tests use it to check that cancelling does not
    /// change the peak; `taskmem run` uses it for the published programs' real sleeps). Tasks
    /// that complete before every task was polled are then allowed, not an error.
    Complete,
}
