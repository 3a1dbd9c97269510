//! The workload matrix: runtimes x spawn strategies x task counts, defined once as data.
//!
//! The benches, the summary and the reports all read this module; nothing else lists cases.
//! A case's id reads `runtime/strategy/N` (e.g. `tokio-mt/spawn/100000`), which is also its
//! Criterion id, so a Criterion filter such as `cargo bench -- tokio-mt/spawn` picks a slice.
//!
//! Two optional segments sit between the strategy and N:
//!
//! - `k{K}`, the bound of the bounded-concurrency strategies (`buffer_unordered`,
//!   `semaphore`): at most K of the N tasks are alive at a time. It is always written, so an
//!   id names its K: `tokio-mt/buffer_unordered/k1000/1000000`.
//! - `p{bytes}-{inline|heap|dropped}`, the [`Payload`] each task holds across its await:
//!   `tokio-mt/spawn/p1024-inline/10000`. Without it a task is the published workload, a bare
//!   sleep, and the id is the plain `runtime/strategy/N`.
//!
//! Where a strategy does not exist for a runtime, [`support`] says so with the reason instead of
//! running a stand-in.

use std::fmt;
use std::str::FromStr;

/// The default task counts: N in {1, 10K, 100K, 1M}, as in the published comparisons.
pub const DEFAULT_SIZES: [usize; 4] = [1, 10_000, 100_000, 1_000_000];

/// The reduced task counts CI runs end to end.
pub const REDUCED_SIZES: [usize; 2] = [1, 10_000];

/// The inline payload sizes compiled in (`[u8; P]` needs P at compile time): 0, 64 and 1 KiB,
/// and 16 KiB + 1, one byte past tokio's `BOX_FUTURE_THRESHOLD` (16384 in release builds),
/// above which `tokio::spawn` moves the future into a `Box` of its own.
pub const INLINE_SIZES: [usize; 4] = [0, 64, 1024, 16_385];

/// The largest heap or dropped payload accepted, per task (1 GiB).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

/// The default bound K of the bounded-concurrency strategies.
pub const DEFAULT_BOUND: usize = 1000;

/// How long each task sleeps: 10 s, as in the published benchmarks. Cases are released right
/// after the peak is measured, so no run waits this long.
pub const SLEEP: std::time::Duration = std::time::Duration::from_secs(10);

/// What a case's tasks run on: one of the library's runtimes, or OS threads, which the suite
/// measures beside them. The runtimes' ids, descriptions and features are the library's
/// ([`taskmem::Runtime`]); the suite adds only `os`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// An async runtime, driven by the library's [`taskmem::Tasks`].
    Async(taskmem::Runtime),
    /// No async runtime: OS threads scheduled by the kernel.
    Os,
}

/// How a case's N tasks are created and held: one of the library's strategies (a bounded one
/// with its K), or OS threads. Names, ids and bounds are the library's
/// ([`taskmem::Strategy`]); the suite adds only `threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Async tasks, created and held by the library's strategy.
    Async(taskmem::Strategy),
    /// `std::thread::spawn` + join, each thread waiting with a 10 s deadline.
    Threads,
}

impl Runtime {
    /// tokio's current-thread runtime.
    pub const TOKIO_CT: Runtime = Runtime::Async(taskmem::Runtime::TokioCurrentThread);
    /// tokio's multi-thread runtime (default workers).
    pub const TOKIO_MT: Runtime = Runtime::Async(taskmem::Runtime::TokioMultiThread);
    /// async-std (legacy: discontinued upstream, kept because the published comparisons
    /// use it).
    pub const ASYNC_STD: Runtime = Runtime::Async(taskmem::Runtime::AsyncStd);
    /// smol: `smol::spawn` on its global executor.
    pub const SMOL: Runtime = Runtime::Async(taskmem::Runtime::Smol);

    /// Every runtime, in report order: the library's, then OS threads.
    pub const ALL: [Runtime; 5] = [
        Runtime::TOKIO_CT,
        Runtime::TOKIO_MT,
        Runtime::ASYNC_STD,
        Runtime::SMOL,
        Runtime::Os,
    ];

    /// The id used in benchmark ids and on the command line (the library's, and `os`).
    pub fn id(self) -> &'static str {
        match self {
            Runtime::Async(rt) => rt.id(),
            Runtime::Os => "os",
        }
    }

    /// A one-line description, with the legacy label where it applies.
    pub fn describe(self) -> &'static str {
        match self {
            Runtime::Async(rt) => rt.describe(),
            Runtime::Os => "OS threads (std::thread)",
        }
    }

    /// The library's runtime, for an async one.
    pub fn tasks(self) -> Option<taskmem::Runtime> {
        match self {
            Runtime::Async(rt) => Some(rt),
            Runtime::Os => None,
        }
    }
}

impl Strategy {
    /// `futures::future::join_all` over N sleep futures; nothing is spawned.
    pub const JOIN_ALL: Strategy = Strategy::Async(taskmem::Strategy::JoinAll);
    /// A `Vec` of N sleep futures awaited one by one in a `for` loop.
    pub const SEQUENTIAL: Strategy = Strategy::Async(taskmem::Strategy::Sequential);
    /// Spawn each task, keep the `JoinHandle`s, await them.
    pub const SPAWN: Strategy = Strategy::Async(taskmem::Strategy::Spawn);
    /// tokio's `JoinSet`.
    pub const JOINSET: Strategy = Strategy::Async(taskmem::Strategy::JoinSet);
    /// `futures::stream::FuturesUnordered` over N sleep futures; nothing is spawned.
    pub const FUTURES_UNORDERED: Strategy = Strategy::Async(taskmem::Strategy::FuturesUnordered);
    /// Bounded: `buffer_unordered(K)` over a lazy stream of N sleep futures, with
    /// [`DEFAULT_BOUND`] (see [`Strategy::with_bound`]).
    pub const BUFFER_UNORDERED: Strategy =
        Strategy::Async(taskmem::Strategy::BufferUnordered(DEFAULT_BOUND));
    /// Bounded: N spawned tasks, each holding one of K semaphore permits (tokio's
    /// `Semaphore`, async-lock's on async-std and smol), with [`DEFAULT_BOUND`].
    pub const SEMAPHORE: Strategy = Strategy::Async(taskmem::Strategy::Semaphore(DEFAULT_BOUND));

    /// Every strategy, in report order (the bounded ones with [`DEFAULT_BOUND`]).
    pub const ALL: [Strategy; 8] = [
        Strategy::JOIN_ALL,
        Strategy::SEQUENTIAL,
        Strategy::SPAWN,
        Strategy::JOINSET,
        Strategy::FUTURES_UNORDERED,
        Strategy::BUFFER_UNORDERED,
        Strategy::SEMAPHORE,
        Strategy::Threads,
    ];

    /// The name used in benchmark ids and on the command line, without the bound (the
    /// library's, and `threads`).
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Async(s) => s.name(),
            Strategy::Threads => "threads",
        }
    }

    /// The library's strategy, for async tasks.
    pub fn tasks(self) -> Option<taskmem::Strategy> {
        match self {
            Strategy::Async(s) => Some(s),
            Strategy::Threads => None,
        }
    }

    /// Whether the strategy's tasks are spawned onto a scheduler (and so carry its per-task
    /// header), rather than being futures polled inside one task.
    pub fn spawns(self) -> bool {
        match self {
            Strategy::Async(s) => s.spawns(),
            Strategy::Threads => true,
        }
    }

    /// Whether the strategy bounds how many of its N tasks are alive at a time.
    pub fn bounded(self) -> bool {
        self.bound().is_some()
    }

    /// K, for a bounded strategy.
    pub fn bound(self) -> Option<usize> {
        self.tasks().and_then(taskmem::Strategy::bound)
    }

    /// The same strategy with bound K; `None` for a strategy that takes none.
    pub fn with_bound(self, k: usize) -> Option<Strategy> {
        self.tasks()?.with_bound(k).map(Strategy::Async)
    }
}

/// Where a task keeps its payload.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    /// A `[u8; P]` local held across the await: it grows the future's state machine by P.
    Inline,
    /// A `Vec<u8>` of P bytes held across the await: the state machine holds the `Vec`
    /// (24 B), the heap holds the P bytes.
    Heap,
    /// The P bytes are allocated, filled and summed before the await, and dropped there: only
    /// the 8-byte checksum is held across it ("drop heavy values before awaiting").
    Dropped,
}

impl Place {
    /// Every place.
    pub const ALL: [Place; 3] = [Place::Inline, Place::Heap, Place::Dropped];

    /// `inline`, `heap` or `dropped`, as in case ids.
    pub fn id(self) -> &'static str {
        match self {
            Place::Inline => "inline",
            Place::Heap => "heap",
            Place::Dropped => "dropped",
        }
    }
}

/// What each task holds across its await besides its sleep: P bytes, inline, on the heap, or
/// dropped before the await. Written `p{bytes}-{place}` in case ids (`p1024-inline`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Payload {
    /// Where the task keeps it (first, so that payloads sort by place, then size).
    pub place: Place,
    /// P, the payload's size in bytes.
    pub bytes: usize,
}

impl Payload {
    /// A payload; inline sizes must be among [`INLINE_SIZES`], every size at most
    /// [`MAX_PAYLOAD_BYTES`]. The error is one line naming the valid sizes.
    pub fn new(bytes: usize, place: Place) -> Result<Payload, String> {
        if place == Place::Inline && !INLINE_SIZES.contains(&bytes) {
            let valid: Vec<String> = INLINE_SIZES.iter().map(|s| s.to_string()).collect();
            return Err(format!(
                "no inline payload of {bytes} B is compiled in (inline sizes: {}; heap and dropped payloads take any size)",
                valid.join(", ")
            ));
        }
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "a payload of {bytes} B per task is more than the {MAX_PAYLOAD_BYTES} B accepted"
            ));
        }
        Ok(Payload { bytes, place })
    }

    /// A heap payload of `bytes` (any size up to [`MAX_PAYLOAD_BYTES`]).
    pub fn heap(bytes: usize) -> Payload {
        Payload {
            bytes: bytes.min(MAX_PAYLOAD_BYTES),
            place: Place::Heap,
        }
    }

    /// `p{bytes}-{place}`.
    pub fn id(&self) -> String {
        format!("p{}-{}", self.bytes, self.place.id())
    }

    /// Bytes the payload keeps alive across the await, outside the future's own state
    /// machine: P for a heap payload, 0 otherwise (an inline payload is inside the future, a
    /// dropped one is gone).
    pub fn heap_bytes(&self) -> usize {
        match self.place {
            Place::Heap => self.bytes,
            Place::Inline | Place::Dropped => 0,
        }
    }

    /// The default payload dimension: every place at every size of [`INLINE_SIZES`].
    pub fn defaults() -> Vec<Payload> {
        Place::ALL
            .into_iter()
            .flat_map(|place| INLINE_SIZES.map(|bytes| Payload { bytes, place }))
            .collect()
    }
}

impl FromStr for Payload {
    type Err = String;
    /// Parses `p{bytes}-{inline|heap|dropped}`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("payload '{s}' is not p{{bytes}}-{{inline|heap|dropped}} (e.g. p1024-inline)")
        };
        let rest = s.strip_prefix('p').ok_or_else(bad)?;
        let (bytes, place) = rest.split_once('-').ok_or_else(bad)?;
        if bytes.is_empty() || !bytes.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let bytes: usize = bytes.parse().map_err(|_| bad())?;
        let place = Place::ALL
            .into_iter()
            .find(|p| p.id() == place)
            .ok_or_else(|| {
                format!("payload '{s}': unknown place '{place}' (valid: inline, heap, dropped)")
            })?;
        Payload::new(bytes, place)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
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
    use Runtime::Os;
    use Strategy::Threads;
    match (runtime, strategy) {
        (Os, Threads) => Ok(()),
        (Os, _) => Err("OS threads have no futures: async strategies need an async runtime"),
        (_, Threads) => Err("OS threads are the `os` runtime, not a strategy of an async one"),
        (Runtime::ASYNC_STD | Runtime::SMOL, Strategy::JOINSET) => {
            Err("JoinSet is tokio's API; this runtime has none")
        }
        _ => Ok(()),
    }
}

/// Whether a whole case can exist: its pair ([`support`]), its bound (at least 1) and its
/// payload (async tasks only).
pub fn support_case(case: &Case) -> Result<(), String> {
    support(case.runtime, case.strategy)
        .map_err(|why| format!("{} does not exist: {why}", case.pair().id()))?;
    if case.strategy.bound() == Some(0) {
        return Err("the bound K must be at least 1".into());
    }
    if case.payload.is_some() && case.runtime == Runtime::Os {
        return Err("payloads are held by async tasks; os/threads takes none".into());
    }
    Ok(())
}

/// One runtime x strategy pair of the matrix (with its bound and payload, where it has them):
/// every case of a pair differs only in N, so bytes per task is the pair's slope across N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// The runtime.
    pub runtime: Runtime,
    /// The strategy, a bounded one with its K.
    pub strategy: Strategy,
    /// What each task holds across its await.
    pub payload: Option<Payload>,
}

impl Pair {
    /// The plain pair: no payload.
    pub fn new(runtime: Runtime, strategy: Strategy) -> Pair {
        Pair {
            runtime,
            strategy,
            payload: None,
        }
    }

    /// K, for a bounded pair.
    pub fn bound(self) -> Option<usize> {
        self.strategy.bound()
    }

    /// `runtime/strategy[/kK][/pP-place]`: the case id without N.
    pub fn id(self) -> String {
        let mut id = format!("{}/{}", self.runtime.id(), self.strategy.id());
        if let Some(k) = self.bound() {
            id.push_str(&format!("/k{k}"));
        }
        if let Some(p) = self.payload {
            id.push('/');
            id.push_str(&p.id());
        }
        id
    }

    /// The pair's id without its runtime, `strategy[/kK][/pP-place]`: Criterion's function
    /// name in the runtime's group.
    pub fn function_id(self) -> String {
        let id = self.id();
        id[self.runtime.id().len() + 1..].to_string()
    }

    /// The pair's case at N.
    pub fn case(self, n: usize) -> Case {
        Case {
            runtime: self.runtime,
            strategy: self.strategy,
            payload: self.payload,
            n,
        }
    }

    /// The same pair without its payload.
    pub fn plain(self) -> Pair {
        Pair {
            payload: None,
            ..self
        }
    }
}

impl FromStr for Pair {
    type Err = String;
    /// Parses `runtime/strategy[/kK][/pP-place]`; a bounded strategy without `kK` gets
    /// [`DEFAULT_BOUND`].
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((runtime, rest)) = s.split_once('/') else {
            return Err(format!("pair '{s}' is not runtime/strategy"));
        };
        let (runtime, strategy): (Runtime, Strategy) = match rest.split_once('/') {
            None => (runtime.parse()?, rest.parse()?),
            Some(_) => {
                let case: Case = format!("{s}/1")
                    .parse()
                    .map_err(|e: String| e.replace(&format!("{s}/1"), s))?;
                return Ok(case.pair());
            }
        };
        Ok(Pair::new(runtime, strategy))
    }
}

/// One runtime x strategy x N cell (with its bound and payload, where it has them): a
/// benchmark. Cases sort by pair, then N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Case {
    /// The runtime.
    pub runtime: Runtime,
    /// The strategy; a bounded one's K says how many of the N tasks are alive at a time.
    pub strategy: Strategy,
    /// What each task holds across its await; `None`: a bare sleep.
    pub payload: Option<Payload>,
    /// How many tasks the case runs (all alive at the peak, unless bounded).
    pub n: usize,
}

impl Case {
    /// A case without payload.
    pub fn new(runtime: Runtime, strategy: Strategy, n: usize) -> Self {
        Pair::new(runtime, strategy).case(n)
    }

    /// The same case with each task holding `payload`.
    pub fn with_payload(self, payload: Payload) -> Self {
        Case {
            payload: Some(payload),
            ..self
        }
    }

    /// K, for a bounded case.
    pub fn bound(&self) -> Option<usize> {
        self.strategy.bound()
    }

    /// `runtime/strategy[/kK][/pP-place]/N`, the Criterion id.
    pub fn id(&self) -> String {
        format!("{}/{}", self.pair().id(), self.n)
    }

    /// The pair: everything but N.
    pub fn pair(&self) -> Pair {
        Pair {
            runtime: self.runtime,
            strategy: self.strategy,
            payload: self.payload,
        }
    }

    /// How many tasks are alive at the peak: N, or K for a bounded case with N above K.
    pub fn live_tasks(&self) -> usize {
        self.bound().map_or(self.n, |k| self.n.min(k))
    }
}

impl FromStr for Case {
    type Err = String;
    /// Parses `runtime/strategy[/kK][/pP-place]/N`; the case must exist ([`support_case`]).
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let (runtime, strategy, middle, n) = match parts[..] {
            [runtime, strategy, ref middle @ .., n] if middle.len() <= 2 => {
                (runtime, strategy, middle, n)
            }
            _ => {
                return Err(format!(
                    "case '{s}' is not runtime/strategy/N (or runtime/strategy/p1024-inline/N)"
                ));
            }
        };
        let n = parse_size(n)?;
        let mut case = Case {
            runtime: runtime.parse()?,
            strategy: strategy.parse()?,
            payload: None,
            n,
        };
        let mut bound = None;
        for part in middle {
            if let Some(k) = part
                .strip_prefix('k')
                .filter(|k| k.bytes().all(|b| b.is_ascii_digit()))
            {
                if bound.is_some() {
                    return Err(format!("case '{s}' names its bound twice"));
                }
                let k = parse_size(k).map_err(|e| format!("bound {part}: {e}"))?;
                bound = Some(k);
                case.strategy = case.strategy.with_bound(k).ok_or_else(|| {
                    format!(
                        "k{k}: only the bounded strategies (buffer_unordered, semaphore) take a bound, not {}",
                        case.strategy
                    )
                })?;
            } else if part.starts_with('p') {
                if case.payload.is_some() {
                    return Err(format!("case '{s}' names its payload twice"));
                }
                case.payload = Some(part.parse()?);
            } else {
                return Err(format!(
                    "case '{s}': '{part}' is neither a payload (p1024-inline) nor a bound (k1000)"
                ));
            }
        }
        if case.strategy.bounded() && bound.is_none() {
            return Err(format!(
                "{} needs its bound K in the id: {}/{}/k{DEFAULT_BOUND}/{}",
                case.strategy, case.runtime, case.strategy, case.n
            ));
        }
        support_case(&case)?;
        Ok(case)
    }
}

/// Every supported runtime x strategy pair, in report order.
pub fn pairs() -> Vec<Pair> {
    Runtime::ALL
        .into_iter()
        .flat_map(|runtime| {
            Strategy::ALL
                .into_iter()
                .map(move |strategy| Pair::new(runtime, strategy))
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
                .map(move |strategy| Pair::new(runtime, strategy))
        })
        .filter(|p| p.strategy != Strategy::Threads)
        .filter_map(|p| support(p.runtime, p.strategy).err().map(|why| (p, why)))
        .collect()
}

/// Every case of the matrix at the given sizes, in report order (bounded strategies with
/// [`DEFAULT_BOUND`]).
pub fn cases(sizes: &[usize]) -> Vec<Case> {
    cases_bounded(sizes, DEFAULT_BOUND)
}

/// Every case of the matrix at the given sizes, the bounded strategies with bound `k`.
pub fn cases_bounded(sizes: &[usize], k: usize) -> Vec<Case> {
    pairs()
        .into_iter()
        .map(|p| Pair {
            strategy: p.strategy.with_bound(k).unwrap_or(p.strategy),
            ..p
        })
        .flat_map(|p| sizes.iter().map(move |&n| p.case(n)))
        .collect()
}

/// The task counts of the default payload sweep: two, so that bytes per task is a slope.
pub const PAYLOAD_SIZES: [usize; 2] = [1_000, 10_000];

/// The pairs the payload dimension can apply to: every async pair whose strategy is not
/// bounded.
pub fn payload_pairs() -> Vec<Pair> {
    pairs()
        .into_iter()
        .filter(|p| p.runtime != Runtime::Os && !p.strategy.bounded())
        .collect()
}

/// The payload cases `cargo bench` runs by default (`TASKMEM_PAYLOAD=default`), at
/// [`PAYLOAD_SIZES`]: `tokio-mt/spawn` and `tokio-ct/join_all` with every inline size, heap
/// payloads of 64 B, 1 KiB and 16 KiB + 1, and a dropped 1 KiB payload; `smol/spawn` and
/// `async-std/spawn` with 1 KiB inline, on the heap and dropped.
pub fn default_payload_cases() -> Vec<Case> {
    let full: Vec<Payload> = INLINE_SIZES
        .into_iter()
        .map(|bytes| Payload {
            bytes,
            place: Place::Inline,
        })
        .chain([64, 1024, 16_385].into_iter().map(|bytes| Payload {
            bytes,
            place: Place::Heap,
        }))
        .chain([Payload {
            bytes: 1024,
            place: Place::Dropped,
        }])
        .collect();
    let small: Vec<Payload> = Place::ALL
        .into_iter()
        .map(|place| Payload { bytes: 1024, place })
        .collect();
    let sets = [
        (Runtime::TOKIO_CT, Strategy::JOIN_ALL, &full),
        (Runtime::TOKIO_MT, Strategy::SPAWN, &full),
        (Runtime::ASYNC_STD, Strategy::SPAWN, &small),
        (Runtime::SMOL, Strategy::SPAWN, &small),
    ];
    sets.into_iter()
        .flat_map(|(runtime, strategy, payloads)| {
            payloads.iter().flat_map(move |&p| {
                PAYLOAD_SIZES.map(|n| Case::new(runtime, strategy, n).with_payload(p))
            })
        })
        .collect()
}

/// Every payload in `payloads` on every pair of [`payload_pairs`], at `sizes`.
pub fn payload_cases(payloads: &[Payload], sizes: &[usize]) -> Vec<Case> {
    payload_pairs()
        .into_iter()
        .flat_map(|pair| {
            payloads.iter().flat_map(move |&p| {
                sizes.iter().map(move |&n| {
                    Pair {
                        payload: Some(p),
                        ..pair
                    }
                    .case(n)
                })
            })
        })
        .collect()
}

/// Largest task count accepted (beyond it no machine of this kind has the memory).
pub const MAX_TASKS: usize = 100_000_000;

/// Parses one task count: `10000`, `10_000`, `10k`, `1m`, `1M`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim().replace('_', "");
    let (digits, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        _ => (&t[..], 1),
    };
    let n = digits
        .parse::<usize>()
        .ok()
        .and_then(|d| d.checked_mul(mult))
        .ok_or_else(|| format!("'{text}' is not a task count (examples: 1, 10000, 10k, 1m)"))?;
    if n == 0 || n > MAX_TASKS {
        return Err(format!(
            "task count '{text}' must be between 1 and {MAX_TASKS}"
        ));
    }
    Ok(n)
}

impl Case {
    /// The metric the case reports when none is chosen: RSS for OS threads (their stacks are
    /// not jemalloc's), jemalloc resident bytes otherwise.
    pub fn default_metric(&self) -> taskmem::Metric {
        if self.strategy == Strategy::Threads {
            taskmem::Metric::Rss
        } else {
            taskmem::Metric::Resident
        }
    }
}

/// Why a case produced no measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The case cannot run on this machine or in this build; the reason names the limit.
    Skipped(String),
    /// The case started and failed.
    Failed(String),
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Skipped(why) => write!(f, "skipped: {why}"),
            CaseError::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::error::Error for CaseError {}

impl From<taskmem::Error> for CaseError {
    fn from(e: taskmem::Error) -> Self {
        match e {
            taskmem::Error::NotCompiled(_) => CaseError::Skipped(e.to_string()),
            other => CaseError::Failed(other.to_string()),
        }
    }
}
