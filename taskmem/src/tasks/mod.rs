//! N concurrent copies of any future, on a runtime, with a strategy, held at the peak.
//!
//! [`Tasks`] is what a bench measures: N tasks made by the caller's closure, created with a
//! [`Strategy`] on a [`Runtime`]. A run goes through three steps:
//!
//! 1. create the N futures (`make()` N times, inside the runtime, so tokio resources can be
//!    made there) and hand them to the strategy;
//! 2. reach the peak: every task alive and polled once (`join_all`, sequential,
//!    `FuturesUnordered` and `buffer_unordered`: the combined future polled once, outside
//!    tokio's cooperative budget; spawned tasks: each has reported its first poll). There the
//!    measurement is taken;
//! 3. release: every task is dropped, aborted or cancelled, so a 1M run takes well under a
//!    second whatever the futures wait for.
//!
//! Misuse ends the run with an [`Error`], never a hang or a wrong number: a future that
//! completes before the peak, a panic inside one (kept quiet, reported once), spawned tasks
//! that are not polled within [`Tasks::timeout`], a runtime this build does not have.
//!
//! The sequential strategy polls only its first future: the others exist but are not polled
//! until the one before them finishes, which is the point of the strategy. The bounded
//! strategies keep at most K of their N tasks alive; their peak is when the first K are.

// A build with no runtime compiles the drivers without a way to run them: `Tasks` then ends
// every run with `Error::NotCompiled`.
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(dead_code, unused_imports)
)]

#[cfg(feature = "async-std")]
mod async_std_rt;
mod dispatch;
mod guard;
mod ready;
#[cfg(feature = "smol")]
mod smol_rt;
mod strategies;
#[cfg(feature = "tokio")]
mod tokio_rt;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::Bencher;

use crate::error::Error;
use crate::measurement::{Calls, Memory};
pub use crate::runtime::{Release, Runtime, Strategy};
use crate::sample::{self, Metric, Sample};
use crate::sites::Site;
// What `taskmem::on` names: the runtimes a run is compiled for.
#[cfg(feature = "async-std")]
pub use dispatch::AsyncStd;
#[cfg(feature = "smol")]
pub use dispatch::Smol;
#[cfg(feature = "tokio")]
pub use dispatch::Tokio;
pub use dispatch::{Any, On, Polled, Spawned};
use guard::{FirstPoll, STARTED, Seen, Watch, Watchdog};
/// Runs `f` with panics caught and kept quiet (for Criterion's analysis in `group`).
pub(crate) use guard::{guarded, panic_message};
pub use ready::Latch;

/// A built runtime, shared by every [`Tasks`] derived from one another.
enum Executor {
    #[cfg(feature = "tokio")]
    Tokio(tokio_rt::Tokio),
    #[cfg(feature = "async-std")]
    AsyncStd(async_std_rt::AsyncStd),
    #[cfg(feature = "smol")]
    Smol(smol_rt::Smol),
}

impl Executor {
    fn build(runtime: Runtime) -> Result<Executor, Error> {
        match runtime {
            #[cfg(feature = "tokio")]
            Runtime::TokioCurrentThread => tokio_rt::Tokio::current_thread().map(Executor::Tokio),
            #[cfg(feature = "tokio")]
            Runtime::TokioMultiThread => tokio_rt::Tokio::multi_thread().map(Executor::Tokio),
            #[cfg(feature = "async-std")]
            Runtime::AsyncStd => Ok(Executor::AsyncStd(async_std_rt::AsyncStd)),
            #[cfg(feature = "smol")]
            Runtime::Smol => Ok(Executor::Smol(smol_rt::Smol)),
            #[allow(unreachable_patterns)]
            other => Err(Error::NotCompiled(other)),
        }
    }
}

/// N concurrent tasks of the caller's making, measured at their peak.
///
/// Each run creates the N tasks with `make` (called N times, inside the runtime), waits
/// until every task is alive and has been polled once, takes the measurement there, then
/// cancels every task. The runtime is built on first use and kept for every later run, and
/// for every `Tasks` made from this one with [`Tasks::with_n`] or [`Tasks::with_strategy`].
///
/// ```
/// use std::time::Duration;
/// use taskmem::{Runtime, Strategy, Tasks};
///
/// taskmem::use_tracked_jemalloc!();
///
/// # fn main() -> Result<(), taskmem::Error> {
/// let tasks = Tasks::new(Runtime::TokioCurrentThread, Strategy::JoinAll, 1_000);
/// let sample = tasks.measure(|| async {
///     let buffer = [7u8; 256];
///     tokio::time::sleep(Duration::from_secs(10)).await;
///     std::hint::black_box(&buffer);
/// })?;
/// // Exact heap bytes held by the 1,000 tasks at the peak: at least their futures' sizes.
/// assert!(sample.requested >= 1_000 * 256);
/// # Ok(())
/// # }
/// ```
pub struct Tasks {
    runtime: Runtime,
    strategy: Strategy,
    n: usize,
    metric: Metric,
    timeout: Duration,
    release: Release,
    ready: Option<Latch>,
    executor: Arc<OnceLock<Result<Executor, Error>>>,
    /// Whether a run has been made on this runtime instance (see [`Tasks::measure`]).
    warmed: Arc<std::sync::atomic::AtomicBool>,
    future_size: Cell<Option<usize>>,
    /// `std::any::type_name` of the caller's future, from the last run.
    future_type: Cell<Option<&'static str>>,
    runs: std::sync::Mutex<Calls<Vec<Sample>>>,
    reuse_pages: bool,
    self_reported: bool,
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("runtime", &self.runtime)
            .field("strategy", &self.strategy)
            .field("n", &self.n)
            .field("metric", &self.metric)
            .field("reuse_pages", &self.reuse_pages)
            .field("self_reported", &self.self_reported)
            .finish_non_exhaustive()
    }
}

/// What a run is assumed to need per live task beside the task's future, when it checks that
/// the machine has room before it starts: the runtime's cell around a spawned future (tokio:
/// about 136 B, rounded up to 128-byte steps), a `JoinHandle`, a timer entry, the allocator's
/// rounding, and the first-poll table (16 B). Generous: the largest seen is under 350 B.
pub const TASK_OVERHEAD_BYTES: u64 = 512;

/// How long [`Tasks`] waits, by default, for every spawned task's first poll.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The shortest bound on a cancelling release ([`Tasks::timeout`] when longer): a short
/// timeout for the first polls must not end a large run whose release is merely slow.
const RELEASE_FLOOR: Duration = Duration::from_secs(5);

impl Tasks {
    /// `n` tasks created with `strategy` on `runtime`, measured in the default metric
    /// ([`Metric::Resident`]).
    pub fn new(runtime: Runtime, strategy: Strategy, n: usize) -> Tasks {
        Tasks {
            runtime,
            strategy,
            n,
            metric: Metric::default(),
            timeout: DEFAULT_TIMEOUT,
            release: Release::Cancel,
            ready: None,
            executor: Arc::new(OnceLock::new()),
            warmed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            future_size: Cell::new(None),
            future_type: Cell::new(None),
            runs: std::sync::Mutex::new(Calls::default()),
            reuse_pages: false,
            self_reported: false,
        }
    }

    /// The same tasks with another count, on the same runtime instance.
    pub fn with_n(&self, n: usize) -> Tasks {
        self.derive(self.strategy, n)
    }

    /// The same count with another strategy, on the same runtime instance.
    pub fn with_strategy(&self, strategy: Strategy) -> Tasks {
        self.derive(strategy, self.n)
    }

    fn derive(&self, strategy: Strategy, n: usize) -> Tasks {
        Tasks {
            runtime: self.runtime,
            strategy,
            n,
            metric: self.metric,
            timeout: self.timeout,
            release: self.release,
            ready: self.ready.clone(),
            executor: Arc::clone(&self.executor),
            warmed: Arc::clone(&self.warmed),
            future_size: Cell::new(None),
            future_type: Cell::new(None),
            runs: std::sync::Mutex::new(Calls::default()),
            reuse_pages: self.reuse_pages,
            self_reported: self.self_reported,
        }
    }

    /// Which counter [`Tasks::bench`] reports to Criterion (every counter is in the
    /// [`Sample`]s either way).
    pub fn metric(mut self, metric: Metric) -> Tasks {
        self.metric = metric;
        self
    }

    /// How long a run waits for every spawned task's first poll before it fails with
    /// [`Error::NotPolled`] (default [`DEFAULT_TIMEOUT`]). It also bounds a cancelling
    /// release ([`Release::Cancel`], or any run whose tasks were not all polled), with a floor
    /// of 5 s: tasks not all dropped by then (a future whose `Drop` blocks, a poll that never
    /// returns) end the process with one line on stderr and exit code 1, since nothing could
    /// free them and the next run would measure them too.
    pub fn timeout(mut self, timeout: Duration) -> Tasks {
        self.timeout = timeout;
        self
    }

    /// Reads the peak only once every task has arrived at `latch` ([`Latch::arrive`]), not as
    /// soon as every task is pending: for futures that are pending before they reach the
    /// state you mean to measure (a connection mid-exchange). The wait is bounded by
    /// [`Tasks::timeout`] from the run's start; past it the run fails with
    /// [`Error::NotReady`]. With [`Strategy::Sequential`] only the first future runs, so the
    /// run waits for one arrival; with a bounded strategy, for K.
    pub fn ready_latch(mut self, latch: &Latch) -> Tasks {
        self.ready = Some(latch.clone());
        self
    }

    /// The tasks report their own first poll: each calls [`Latch::arrive`] on `latch` once,
    /// in its first poll (before its first await: a call there adds no byte to the future).
    /// The run then knows from the latch alone that every task has been polled, and keeps no
    /// table of its own. That table (of the spawned tasks' wakers: (2N).next_power_of_two() x 8
    /// B, 16 MiB at N = 1M) is allocated before a measurement's first reading, so no
    /// [`Tasks::measure`] sees it; a figure of the whole process (its peak RSS, a heap
    /// profiler's peak) does. With this set the run holds nothing per task but what the
    /// strategy itself needs (the `JoinHandle`s of [`Strategy::Spawn`]). It implies
    /// [`Tasks::ready_latch`] with the same latch: a task that never arrives fails the run
    /// with [`Error::NotReady`].
    pub fn first_poll_latch(mut self, latch: &Latch) -> Tasks {
        self.ready = Some(latch.clone());
        self.self_reported = true;
        self
    }

    /// What happens after the peak (default [`Release::Cancel`]).
    pub fn release(mut self, release: Release) -> Tasks {
        self.release = release;
        self
    }

    /// Whether each run reuses the pages the run before it freed (default `false`: every run
    /// starts from pages returned to the OS). Reusing them saves a page fault per page, the
    /// larger part of a 1M-task run's time after the tasks' own work; the resident and
    /// allocated bytes read the same (see [`crate::probe::start_run`]). RSS may read more: a
    /// reused page is resident whether or not this run touches it, so an allocation that
    /// leaves some of its pages untouched counts them (a 16,385-byte payload per task: 23.6
    /// KiB of RSS per task instead of 19.7). The suite reuses pages for its cases without a
    /// payload, whose RSS reads the same either way.
    pub fn reuse_pages(mut self, reuse: bool) -> Tasks {
        self.reuse_pages = reuse;
        self
    }

    /// The runtime.
    pub fn runtime_kind(&self) -> Runtime {
        self.runtime
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The task count N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The metric [`Tasks::bench`] reports.
    pub fn reported_metric(&self) -> Metric {
        self.metric
    }

    /// `runtime/strategy`, e.g. `tokio-mt/spawn`: the function part of a benchmark id.
    pub fn label(&self) -> String {
        format!("{}/{}", self.runtime.id(), self.strategy.id())
    }

    /// `size_of` of one task as it is held, in bytes, from the last run: the caller's future
    /// (unspawned strategies), or the caller's future in taskmem's first-poll wrapper
    /// (spawned: a newtype, the same size; with the semaphore's permit beside it for
    /// [`Strategy::Semaphore`]). `None` before a run.
    pub fn future_size(&self) -> Option<usize> {
        self.future_size.get()
    }

    /// `std::any::type_name` of the caller's future (`mybench::handler::{{closure}}` for
    /// `async fn handler`), from the last run: what matches it to the compiler's type layout.
    /// `None` before a run.
    pub fn future_type(&self) -> Option<&'static str> {
        self.future_type.get()
    }

    /// The samples of every run made by [`Tasks::bench`] so far, one `Vec` per Criterion
    /// call (warm-up first, then one per sample), and forgets them.
    pub fn take_runs(&self) -> Vec<Vec<Sample>> {
        self.take_calls().into_all()
    }

    /// The samples of every run made by [`Tasks::bench`] so far, by Criterion call, told
    /// apart into warm-up calls and the samples Criterion analysed ([`Calls::into_samples`]),
    /// and forgets them.
    pub fn take_calls(&self) -> Calls<Vec<Sample>> {
        std::mem::take(&mut *self.kept_runs())
    }

    /// The runs [`Tasks::bench`] kept; a panic elsewhere while they were locked does not lose
    /// them.
    fn kept_runs(&self) -> std::sync::MutexGuard<'_, Calls<Vec<Sample>>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn executor(&self) -> Result<&Executor, Error> {
        if !self.runtime.is_compiled() {
            return Err(Error::NotCompiled(self.runtime));
        }
        self.executor
            .get_or_init(|| Executor::build(self.runtime))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// One measured run: every counter's growth from just before the tasks are created to
    /// the peak (all N alive and polled once). Bytes; see [`Sample`]. With
    /// [`Tasks::reuse_pages`], jemalloc keeps the pages the run frees for the next run
    /// ([`crate::probe::return_freed_pages`] gives them back to the OS).
    ///
    /// The first measurement on a runtime instance (this `Tasks` and those made from it with
    /// [`Tasks::with_n`] and [`Tasks::with_strategy`]) is preceded by one unmeasured run of
    /// the same tasks: a runtime's first run reads high (its workers' and the allocator's
    /// first use: resident +1.6 to +2.2 %, requested bytes at N = 1 2384 against 2328 B for a
    /// tokio-mt spawn case), and that run is not the tasks'.
    pub fn measure<F, M>(&self, make: M) -> Result<Sample, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = sample::exclusive();
        self.measure_on::<Any, F, M>(make)
    }

    /// [`Tasks::measure`] compiled for the runtimes and strategies of `R` only
    /// ([`crate::on`]): a bench that measures many future types, each on one runtime and one
    /// kind of strategy, compiles a fraction of the code. With a runtime or strategy outside
    /// `R` nothing runs and the result is [`Error::Unsupported`]. Unlike
    /// [`Tasks::measure`], the caller holds [`sample::exclusive`] (so that it can measure
    /// other things in the same lock).
    pub fn measure_on<R: On, F, M>(&self, make: M) -> Result<Sample, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.prepare::<R, F, M>(&make)?;
        let run = |at_peak: &mut dyn FnMut()| self.run_on::<R, F, M>(&make, &mut || {}, at_peak);
        if self.reuse_pages {
            sample::measure_reusing(run)
        } else {
            sample::measure(run)
        }
    }

    /// What comes before a measured (or site-recorded) run: the refusals, the runtime, its
    /// first run (unmeasured, see [`Tasks::measure`]) and the first-poll table, reserved
    /// before the run so that it is not the run's.
    fn prepare<R: On, F, M>(&self, make: &M) -> Result<(), Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.refuse(self.held_size(make))?;
        Watchdog::start();
        self.executor()?;
        if !self.warmed.load(std::sync::atomic::Ordering::SeqCst) {
            // The runtime's first run, unmeasured (see `measure`; `run_on` marks it made).
            self.run_on::<R, F, M>(make, &mut || {}, &mut || {})?;
        }
        if self.keeps_table() {
            Seen::reserve(self.strategy.live_tasks(self.n));
        }
        Ok(())
    }

    /// One run that records where the tasks' heap was allocated ([`crate::sites`]): every
    /// block allocated from just before the first task is created and still live at the
    /// peak (every task alive and polled once, the heap quiet), summed by call stack, largest
    /// first. What the runtime allocated for the tasks (task cells, timer and I/O
    /// registrations, its queues) is there beside what the tasks' own code allocated; the
    /// stacks' addresses are the executable's, for a symbolizer to name (`taskmem bill`
    /// does). A run of its own, slower than a measured one and not a measurement: the
    /// recorder's own table is not in the sites, but it is in the process's heap.
    ///
    /// ```
    /// taskmem::use_tracked_jemalloc!();
    ///
    /// fn main() -> Result<(), taskmem::Error> {
    ///     let tasks = taskmem::Tasks::new(
    ///         taskmem::Runtime::TokioCurrentThread,
    ///         taskmem::Strategy::Spawn,
    ///         1_000,
    ///     );
    ///     let sites = tasks.sites(|| async {
    ///         let buffer = vec![0u8; 3000];
    ///         tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    ///         drop(buffer);
    ///     })?;
    ///     // One site holds the 1,000 buffers; others hold tokio's task cells.
    ///     assert!(sites.iter().any(|s| s.blocks == 1_000 && s.bytes == 3_000_000));
    ///     Ok(())
    /// }
    /// ```
    pub fn sites<F, M>(&self, make: M) -> Result<Vec<Site>, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = sample::exclusive();
        self.sites_on::<Any, F, M>(make)
    }

    /// [`Tasks::sites`] compiled for the runtimes and strategies of `R` only (see
    /// [`Tasks::measure_on`]). The caller holds [`sample::exclusive`].
    pub fn sites_on<R: On, F, M>(&self, make: M) -> Result<Vec<Site>, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if !crate::sites::supported() {
            return Err(Error::Unsupported(
                "allocation sites are recorded on Linux only".into(),
            ));
        }
        if !crate::alloc::installed() {
            return Err(Error::NoAllocator);
        }
        self.prepare::<R, F, M>(&make)?;
        sample::quiesce();
        let mut found = None;
        let ran = self.run_on::<R, F, M>(&make, &mut crate::sites::start, &mut || {
            sample::quiesce();
            found = Some(crate::sites::snapshot());
        });
        crate::sites::stop();
        ran?;
        found.ok_or_else(|| Error::Probe("the run never reached its peak".into()))
    }

    /// [`Tasks::sites`] with per-run state kept outside the tasks, as
    /// [`Tasks::measure_with`] has it: the state is made before the recording starts and
    /// dropped after the run.
    pub fn sites_with<S, F, M>(
        &self,
        state: impl FnOnce() -> S,
        make: M,
    ) -> Result<Vec<Site>, Error>
    where
        M: Fn(&mut S) -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let state = std::cell::RefCell::new(state());
        let sites = self.sites(|| make(&mut state.borrow_mut()));
        drop(state);
        sites
    }

    /// One run without a measurement: `at_peak` is called once, with every task alive and
    /// polled once (e.g. to read your own counters there).
    pub fn run<F, M>(&self, make: M, at_peak: &mut dyn FnMut()) -> Result<(), Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = sample::exclusive();
        Watchdog::start();
        self.run_unlocked(&make, &mut || {}, at_peak)
    }

    /// `size_of` of one task as a run of these tasks would hold it (see
    /// [`Tasks::future_size`]), without running them.
    pub fn held_size<F, M>(&self, _make: &M) -> usize
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
    {
        match (self.strategy, self.runtime) {
            #[cfg(feature = "tokio")]
            (Strategy::Semaphore(_), Runtime::TokioCurrentThread | Runtime::TokioMultiThread) => {
                size_of::<FirstPoll<strategies::WithPermit<F, tokio::sync::OwnedSemaphorePermit>>>()
            }
            #[cfg(any(feature = "smol", feature = "async-std"))]
            (Strategy::Semaphore(_), Runtime::AsyncStd | Runtime::Smol) => {
                size_of::<FirstPoll<strategies::WithPermit<F, async_lock::SemaphoreGuardArc>>>()
            }
            (s, _) if s.spawns() => size_of::<FirstPoll<F>>(),
            // Unspawned futures are held as they are (`Watch` is a newtype).
            _ => size_of::<Watch<F>>(),
        }
    }

    /// One run, timed: wall time from just before the first task is created to every task
    /// alive and pending (the cost of creating them). Not a memory measurement.
    pub fn time_to_peak<F, M>(&self, make: M) -> Result<Duration, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = sample::exclusive();
        self.time_to_peak_unlocked(make)
    }

    /// [`Tasks::time_to_peak`] for a caller that already holds [`sample::exclusive`].
    fn time_to_peak_unlocked<F, M>(&self, make: M) -> Result<Duration, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.time_to_peak_on::<Any, F, M>(make, &mut || {})
    }

    /// [`Tasks::time_to_peak`] compiled for the runtimes and strategies of `R` only (see
    /// [`Tasks::measure_on`]); `at_peak` is called at the peak, every task alive and pending,
    /// after the time is taken. The caller holds [`sample::exclusive`].
    pub fn time_to_peak_on<R: On, F, M>(
        &self,
        make: M,
        at_peak: &mut dyn FnMut(),
    ) -> Result<Duration, Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.refuse(self.held_size(&make))?;
        Watchdog::start();
        self.executor()?;
        let start = Cell::new(None);
        let mut elapsed = None;
        self.run_on::<R, F, M>(&make, &mut || start.set(Some(Instant::now())), &mut || {
            elapsed = start.get().map(|s: Instant| s.elapsed());
            at_peak();
        })?;
        elapsed.ok_or_else(|| Error::Probe("the run never reached its peak".into()))
    }

    /// Measures the tasks as a Criterion benchmark: each of Criterion's calls runs them
    /// `iters` times and returns the sum of the per-run figures of the chosen metric, in
    /// bytes (Criterion divides by `iters`). Set `Throughput::Elements(n)` on the group to get
    /// bytes per task. On an error it prints one line (`taskmem: <label>/<n>: <error>`) and
    /// ends the process with exit code 1: a wrong number must not reach Criterion.
    ///
    /// Every run's full [`Sample`] is kept: read them with [`Tasks::take_runs`].
    ///
    /// With [`Tasks::reuse_pages`], the first call (no runs kept yet) returns the pages that
    /// earlier runs left held to the OS, and each run after it reuses the pages the run
    /// before it freed.
    pub fn bench<F, M>(&self, b: &mut Bencher<'_, Memory>, make: M)
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.bench_runs(b, || self.measure(&make));
    }

    /// [`Tasks::bench`] with per-run state ([`Tasks::measure_with`]): `state()` before each
    /// run, dropped after it.
    pub fn bench_with<S, Z, F, M>(&self, b: &mut Bencher<'_, Memory>, state: Z, make: M)
    where
        Z: Fn() -> S,
        M: Fn(&mut S) -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.bench_runs(b, || self.measure_with(&state, &make));
    }

    /// [`Tasks::measure`] with state of the caller's that lives outside the tasks for one run
    /// and is dropped after it: the other half of each task's channel, or of its duplex
    /// stream, which must outlive the tasks' peak without being held by them (holding it in
    /// the task would change what is measured) and without piling up across runs. `state()`
    /// makes it before the run, before the first reading (not measured); each task is made
    /// with `make(&mut state)`; the state is dropped once the run has released its tasks,
    /// after the peak was read. What `make` adds to the state while the tasks are created is
    /// inside the run, and measured: reserve room in `state()` for what it will hold (a
    /// `Vec::with_capacity(n)` of senders).
    ///
    /// ```
    /// use taskmem::{Runtime, Strategy, Tasks};
    ///
    /// taskmem::use_tracked_jemalloc!();
    ///
    /// # fn main() -> Result<(), taskmem::Error> {
    /// let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 1_000);
    /// let sample = tasks.measure_with(
    ///     // Per run: room for the 1,000 senders the tasks' channels keep outside them.
    ///     || Vec::with_capacity(1_000),
    ///     |senders| {
    ///         let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(16);
    ///         senders.push(tx);
    ///         async move { while rx.recv().await.is_some() {} }
    ///     },
    /// )?;
    /// // Each task holds its receiver's half of a channel: more than the task alone.
    /// assert!(sample.requested > 1_000 * 256);
    /// # Ok(())
    /// # }
    /// ```
    pub fn measure_with<S, F, M>(&self, state: impl FnOnce() -> S, make: M) -> Result<Sample, Error>
    where
        M: Fn(&mut S) -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let state = std::cell::RefCell::new(state());
        let sample = self.measure(|| make(&mut state.borrow_mut()));
        // After the run released its tasks: the other halves go now, unmeasured.
        drop(state);
        sample
    }

    /// Criterion's calls of one benchmark: each runs `measure_one` `iters` times and returns
    /// the sum of the chosen metric; an error ends the process with one line.
    fn bench_runs(
        &self,
        b: &mut Bencher<'_, Memory>,
        measure_one: impl Fn() -> Result<Sample, Error>,
    ) {
        let first_call = self.kept_runs().is_empty();
        if first_call && self.reuse_pages {
            // A new benchmark: the pages an earlier workload's runs left held go back to the
            // OS, and this one's runs reuse each other's (Tasks::reuse_pages).
            let _guard = sample::exclusive();
            sample::return_held_pages_or_exit();
        }
        b.iter_custom(|iters| {
            let mut total = 0u64;
            let mut runs = Vec::with_capacity(iters as usize);
            for _ in 0..iters {
                match measure_one().and_then(|s| Ok((s, s.value(self.metric)?))) {
                    Ok((s, v)) => {
                        total += v.bytes;
                        runs.push(s);
                    }
                    Err(e) => {
                        crate::error::exit_with(&format!("{}/{}: {e}", self.label(), self.n), 1)
                    }
                }
            }
            self.kept_runs().push(runs);
            total
        });
    }

    /// [`Tasks::run`] for a caller that already holds [`sample::exclusive`], with a callback
    /// just before the first task is created.
    fn run_unlocked<F, M>(
        &self,
        make: &M,
        on_start: &mut dyn FnMut(),
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.refuse(self.held_size(make))?;
        self.run_on::<Any, F, M>(make, on_start, at_peak)
    }

    /// [`Tasks::run`] compiled for the runtimes and strategies of `R` only (see
    /// [`Tasks::measure_on`]), with `on_start` called just before the first task is created
    /// and `at_peak` once every task is alive and polled. The caller holds
    /// [`sample::exclusive`].
    pub fn run_on<R: On, F, M>(
        &self,
        make: &M,
        on_start: &mut dyn FnMut(),
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), Error>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Watchdog::start();
        let executor = self.executor()?;
        self.warmed.store(true, std::sync::atomic::Ordering::SeqCst);
        if self.strategy == Strategy::JoinSet
            && !matches!(
                self.runtime,
                Runtime::TokioCurrentThread | Runtime::TokioMultiThread
            )
        {
            return Err(Error::Unsupported(format!(
                "joinset is tokio's JoinSet: {} has none",
                self.runtime
            )));
        }
        guard::begin_run();
        // This thread may poll the tasks itself (tokio's current-thread runtime, block_on):
        // it keeps its jemalloc cache, which is flushed before each run (probe::runtime_thread).
        crate::probe::measuring_thread();
        // The table of first polls, for the spawned strategies whose tasks do not report
        // their own (the unspawned ones are polled by the driver itself: no table).
        guard::TRACKED.store(self.keeps_table(), std::sync::atomic::Ordering::SeqCst);
        ready::forward_first_polls(self.self_reported);
        if self.keeps_table() {
            Seen::clear(self.strategy.live_tasks(self.n));
        }
        // Clears the last run's timeout for every strategy (spawning ones set their target).
        STARTED.reset(self.strategy.live_tasks(self.n));
        ready::begin(self.ready.as_ref(), self.ready_target());
        let watchdog = Cell::new(Some(Watchdog::arm(self.timeout)));
        let mut reached = false;
        let mut peak = || {
            drop(watchdog.take());
            if self.release == Release::Cancel || !STARTED.all_arrived() {
                // The tasks are cancelled from here on: a release that cannot finish (a drop
                // that blocks, a poll that never returns) ends the process instead of hanging.
                watchdog.set(Some(Watchdog::arm_release(self.timeout.max(RELEASE_FLOOR))));
            }
            if !STARTED.all_arrived() && self.strategy.spawns() {
                return;
            }
            // Early completion makes a cancelled run's peak miss those tasks; a run whose tasks
            // complete anyway (`Release::Complete`, the published programs' way) keeps its peak.
            if guard::panicked() || (guard::early() > 0 && self.release == Release::Cancel) {
                return;
            }
            if self.ready.as_ref().is_some_and(|l| !l.complete()) {
                return;
            }
            guard::peak_read();
            at_peak();
            reached = true;
        };
        on_start();
        let result = guard::guarded(|| {
            self.future_size.set(Some(self.held_size(make)));
            self.future_type.set(Some(std::any::type_name::<F>()));
            R::dispatch(self, make, &mut peak)
        });
        drop(watchdog.take());
        guard::peak_read();
        ready::begin(None, 0);
        ready::forward_first_polls(false);
        guard::TRACKED.store(true, std::sync::atomic::Ordering::SeqCst);
        self.flush(executor);
        match result {
            Err(payload) => guard::record_panic(&*payload),
            Ok(false) => {
                return Err(Error::Unsupported(format!(
                    "these futures were compiled for another runtime than {}",
                    self.runtime
                )));
            }
            Ok(true) => {}
        }
        if let Some(message) = guard::take_panic() {
            return Err(Error::Panicked(message));
        }
        if !reached {
            let early = guard::take_early();
            if self.strategy.spawns() && !STARTED.all_arrived() {
                return Err(Error::NotPolled {
                    polled: STARTED.arrived(),
                    n: self.strategy.live_tasks(self.n),
                    waited: self.timeout,
                });
            }
            if let Some(latch) = self.ready.as_ref().filter(|l| !l.complete())
                && (early == 0 || self.release != Release::Cancel)
            {
                return Err(Error::NotReady {
                    ready: latch.arrived(),
                    n: latch.target(),
                    waited: self.timeout,
                });
            }
            return Err(Error::CompletedEarly {
                count: early.max(1),
                n: self.n,
            });
        }
        Ok(())
    }

    /// Refuses a run that cannot measure anything (no task, a bound of 0) or that would pass
    /// the machine's memory by [`TASK_OVERHEAD_BYTES`] per live task beside its future of
    /// `held` bytes, before anything is allocated.
    fn refuse(&self, held: usize) -> Result<(), Error> {
        if self.n == 0 {
            return Err(Error::Invalid(format!(
                "{}/0: a run needs at least one task (N = 0)",
                self.label()
            )));
        }
        if let Strategy::BufferUnordered(0) | Strategy::Semaphore(0) = self.strategy {
            return Err(Error::Invalid(format!(
                "{}: a bound of 0 lets no task run (K must be at least 1)",
                self.label()
            )));
        }
        let live = self.strategy.live_tasks(self.n) as u64;
        let need = live.saturating_mul(held as u64 + TASK_OVERHEAD_BYTES);
        let what = format!(
            "{}/{} (about {} B per task)",
            self.label(),
            self.n,
            held as u64 + TASK_OVERHEAD_BYTES
        );
        match crate::probe::room::room_for(&what, need) {
            crate::probe::room::Room::Exceeds(why) => Err(Error::TooLarge(why)),
            // Off Linux the room is unknown: nothing to refuse by.
            crate::probe::room::Room::Fits | crate::probe::room::Room::Unknown(_) => Ok(()),
        }
    }

    /// Whether a run keeps the table of first polls ([`guard::Seen`]): spawned tasks that do
    /// not report their first poll themselves.
    fn keeps_table(&self) -> bool {
        self.strategy.spawns() && !self.self_reported
    }

    /// The arrivals a run with a [`Latch`] waits for: the tasks that are polled at the peak.
    fn ready_target(&self) -> usize {
        match self.strategy {
            Strategy::Sequential => 1,
            s => s.live_tasks(self.n),
        }
    }

    /// After a run on async-io (async-std, smol): lets its reactor drop the cancelled timers.
    fn flush(&self, executor: &Executor) {
        match *executor {
            #[cfg(feature = "tokio")]
            Executor::Tokio(_) => {}
            #[cfg(feature = "async-std")]
            Executor::AsyncStd(ref rt) => rt.flush_timers(),
            #[cfg(feature = "smol")]
            Executor::Smol(ref rt) => rt.flush_timers(),
        }
    }
}
