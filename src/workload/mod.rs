//! Workloads: how each case creates its N tasks, reaches the peak, and releases them.
//!
//! A run of a [`Case`] goes through three steps:
//!
//! 1. create the N tasks with the case's strategy on the case's runtime (each task sleeps
//!    [`RunOptions::sleep`], 10 s by default, with the runtime's own timer);
//! 2. reach the peak: every task alive and polled once, so its timer is registered
//!    (`join_all`, `FuturesUnordered` and sequential await: the combined future polled once,
//!    outside tokio's cooperative budget; spawned tasks and threads: each has reported its
//!    first poll on a shared latch); there the caller's `at_peak` closure runs;
//! 3. release: [`Release::Cancel`] drops, aborts or cancels the tasks (threads are woken),
//!    so a 1M case takes well under a second; [`Release::Complete`] lets every task sleep its
//!    full duration, for checking that cancelling does not change the peak.
//!
//! The sequential strategy polls only its first future: the others exist but are not polled
//! until the one before them finishes, which is the point of the strategy.
//!
//! The bounded strategies ([`bounded`]: `buffer_unordered`, `semaphore`) create at most K of
//! their N tasks at a time; their peak is when the first K are alive and polled once.
//! With [`Release::Complete`] the other N - K pass through, K at a time, as each finishes.
//!
//! A case's [`Payload`] chooses the task body ([`payload`]): each task then holds P bytes
//! inline, on the heap, or drops them before its await.
//!
//! Runs are not re-entrant: the latch and sleep duration are process-wide so that a task
//! carries no extra state. Callers serialise runs with [`exclusive`].
//!
//! The time side ([`crate::timing`]) uses two more things from here: [`Driver::time_to_peak`]
//! (the time from creating the first task to every task pending) and runs with
//! [`RunOptions::lateness`], where each task notes its deadline when its sleep is created
//! and records how late it resumed past it ([`take_lateness`]). Those tasks carry the
//! deadline, so their sizes are not the memory suite's: lateness runs are never measured in
//! bytes.

mod async_std_rt;
mod bounded;
mod payload;
mod smol_rt;
mod threads;
mod tokio_rt;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use futures::task::AtomicWaker;

use crate::matrix::{Case, Payload, Runtime, Strategy};
use payload::Body;

/// What happens to the tasks once the peak has been measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Drop, abort or cancel the tasks (wake the threads) right after the peak.
    Cancel,
    /// Let every task sleep its full duration and complete.
    Complete,
}

/// How a run is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// How long each task sleeps.
    pub sleep: Duration,
    /// What happens after the peak.
    pub release: Release,
    /// `Some(p)`: each task allocates `p` bytes on the heap, fills them, and holds them across
    /// its sleep (`Some(0)`: the same task shape, nothing allocated): the same tasks as the
    /// case's payload `p{p}-heap`, for a case id without payload (a case with its own payload
    /// and this set fails). `None`: the case's own tasks. Tests use this to plant a known
    /// size per task.
    pub payload: Option<usize>,
    /// Each task records how late it resumed past its deadline (the time its sleep was
    /// created plus [`RunOptions::sleep`]); read them with [`take_lateness`]. Meant for runs
    /// with [`Release::Complete`]; ignored with a payload.
    pub lateness: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            sleep: crate::matrix::SLEEP,
            release: Release::Cancel,
            payload: None,
            lateness: false,
        }
    }
}

/// How late each task of the last lateness run resumed, in nanoseconds, in completion order.
static LATENESS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn lateness_log() -> MutexGuard<'static, Vec<u64>> {
    LATENESS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records one task's lateness: how long after `deadline` it is now.
fn record_lateness(deadline: Instant) {
    let late = Instant::now().saturating_duration_since(deadline);
    lateness_log().push(late.as_nanos() as u64);
}

/// The lateness of every task that completed since the last call (empty when no run had
/// [`RunOptions::lateness`] set).
pub fn take_lateness() -> Vec<Duration> {
    std::mem::take(&mut *lateness_log())
        .into_iter()
        .map(Duration::from_nanos)
        .collect()
}

/// Why a run produced no measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The case cannot run on this machine or in this build; the reason names the limit.
    Skipped(String),
    /// The case started and failed.
    Failed(String),
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseError::Skipped(why) => write!(f, "skipped: {why}"),
            CaseError::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::error::Error for CaseError {}

static RUN_LOCK: Mutex<()> = Mutex::new(());

/// Serialises runs and measurements in this process (the probes are process-wide).
pub fn exclusive() -> MutexGuard<'static, ()> {
    RUN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The process-wide sleep duration of the current run, read by each task when it starts
/// (so tasks capture nothing).
static SLEEP_NANOS: AtomicU64 = AtomicU64::new(10_000_000_000);

fn sleep_duration() -> Duration {
    Duration::from_nanos(SLEEP_NANOS.load(Ordering::Relaxed))
}

/// Counts the spawned tasks that have been polled once, and wakes the waiter when all have.
struct Latch {
    arrived: AtomicUsize,
    target: AtomicUsize,
    waker: AtomicWaker,
}

static STARTED: Latch = Latch {
    arrived: AtomicUsize::new(0),
    target: AtomicUsize::new(usize::MAX),
    waker: AtomicWaker::new(),
};

impl Latch {
    fn reset(&self, target: usize) {
        self.arrived.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }

    fn arrive(&self) {
        let now = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if now == self.target.load(Ordering::Acquire) {
            self.waker.wake();
        }
    }

    fn all_arrived(&self) -> bool {
        self.arrived.load(Ordering::Acquire) >= self.target.load(Ordering::Acquire)
    }

    /// Resolves once every task has arrived.
    fn wait(&'static self) -> impl Future<Output = ()> {
        futures::future::poll_fn(move |cx| {
            if self.all_arrived() {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.all_arrived() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// The body of a spawned task: report the first poll, then sleep.
async fn task<S: Future>(sleep: impl FnOnce(Duration) -> S) {
    STARTED.arrive();
    sleep(sleep_duration()).await;
}

/// A spawned task that records its lateness: its deadline is noted when its sleep is created.
async fn timed_task<S: Future>(sleep: impl FnOnce(Duration) -> S) {
    let d = sleep_duration();
    let deadline = Instant::now() + d;
    let sleep = sleep(d);
    STARTED.arrive();
    sleep.await;
    record_lateness(deadline);
}

/// A future for the unspawned strategies that records its lateness; `sleep` was created just
/// before, so the deadline is noted now, with it (not when the future is first polled: the
/// sequential strategy polls its k-th future only after the one before it finished).
fn timed<S: Future>(d: Duration, sleep: S) -> impl Future<Output = ()> {
    let deadline = Instant::now() + d;
    async move {
        sleep.await;
        record_lateness(deadline);
    }
}

/// A spawned task that also holds `payload` bytes across its sleep.
async fn payload_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    let held = vec![1u8; payload];
    STARTED.arrive();
    sleep(sleep_duration()).await;
    std::hint::black_box(&held);
}

/// Spawns N tasks with `spawn`, waits until each has been polled once, calls `at_peak`, then
/// cancels every task with `cancel` or awaits each in turn. For runtimes whose handles cancel
/// asynchronously (async-std's `JoinHandle`, smol's `Task`).
async fn spawn_then_cancel<H: Future, C: Future>(
    n: usize,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
    spawn: impl Fn() -> H,
    cancel: impl Fn(H) -> C,
) {
    STARTED.reset(n);
    let handles: Vec<H> = (0..n).map(|_| spawn()).collect();
    STARTED.wait().await;
    at_peak();
    match opts.release {
        Release::Cancel => {
            futures::future::join_all(handles.into_iter().map(cancel)).await;
        }
        Release::Complete => {
            // One by one: a join_all here would allocate beside the live tasks.
            for h in handles {
                h.await;
            }
        }
    }
}

/// An async runtime as the generic strategies see it.
trait Exec {
    /// Runs `f` to completion on this runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Awaits `f` outside the runtime's cooperative budget (tokio's would stop timers from
    /// registering after 128 polls in one task).
    fn unconstrained<F: Future>(f: F) -> impl Future<Output = F::Output>;
}

/// Polls `fut` once, outside the cooperative budget.
async fn poll_once<E: Exec, F: Future>(fut: Pin<&mut F>) {
    let once = E::unconstrained(fut);
    let _ = futures::poll!(std::pin::pin!(once));
}

/// `join_all` over N futures from `make`, polled once.
fn join_all<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: &mut dyn FnMut(),
) {
    exec.block_on(async {
        let mut all = std::pin::pin!(futures::future::join_all((0..n).map(|_| make())));
        poll_once::<E, _>(all.as_mut()).await;
        at_peak();
        if release == Release::Complete {
            E::unconstrained(all).await;
        }
    })
}

/// A Vec of N futures awaited one by one; the first is polled.
fn sequential<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: &mut dyn FnMut(),
) {
    exec.block_on(async {
        let futures: Vec<F> = (0..n).map(|_| make()).collect();
        let mut all = std::pin::pin!(async move {
            for f in futures {
                f.await;
            }
        });
        poll_once::<E, _>(all.as_mut()).await;
        at_peak();
        if release == Release::Complete {
            E::unconstrained(all).await;
        }
    })
}

/// `FuturesUnordered` over N futures, polled once.
fn futures_unordered<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: &mut dyn FnMut(),
) {
    exec.block_on(async {
        let mut set: FuturesUnordered<F> = (0..n).map(|_| make()).collect();
        poll_once::<E, _>(std::pin::pin!(set.next())).await;
        at_peak();
        if release == Release::Complete {
            E::unconstrained(async { while set.next().await.is_some() {} }).await;
        }
    })
}

/// One of the unspawned strategies on a runtime, for N futures from a constructor.
struct Unspawned<'a, E> {
    exec: &'a E,
    strategy: Strategy,
    n: usize,
    bound: Option<usize>,
    release: Release,
    at_peak: &'a mut dyn FnMut(),
}

impl<E: Exec> Unspawned<'_, E> {
    fn run<F: Future>(self, make: impl Fn() -> F) -> Result<(), CaseError> {
        let (exec, n, release, at_peak) = (self.exec, self.n, self.release, self.at_peak);
        match (self.strategy, self.bound) {
            (Strategy::JoinAll, _) => join_all(exec, n, make, release, at_peak),
            (Strategy::Sequential, _) => sequential(exec, n, make, release, at_peak),
            (Strategy::FuturesUnordered, _) => futures_unordered(exec, n, make, release, at_peak),
            (Strategy::BufferUnordered, Some(k)) => {
                bounded::buffer_unordered(exec, n, k, make, release, at_peak)
            }
            (other, _) => {
                return Err(CaseError::Failed(format!(
                    "{other} is not an unspawned strategy (or has no bound)"
                )));
            }
        }
        Ok(())
    }
}

impl<E: Exec> Body for Unspawned<'_, E> {
    type Out = Result<(), CaseError>;
    fn with<F: Future<Output = ()> + Send + 'static>(self, make: impl Fn() -> F) -> Self::Out {
        self.run(make)
    }
}

/// Runs one of the unspawned strategies with the runtime's `sleep`, with or without payload.
fn unspawned<E: Exec, S: Future + Send + 'static>(
    exec: &E,
    sleep: impl payload::Sleep<S>,
    case: &Case,
    payload: Option<Payload>,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
) -> Result<(), CaseError> {
    let d = opts.sleep;
    let run = Unspawned {
        exec,
        strategy: case.strategy,
        n: case.n,
        bound: case.bound,
        release: opts.release,
        at_peak,
    };
    match payload {
        None if opts.lateness => run.run(|| timed(d, sleep(d))),
        None => run.run(|| sleep(d)),
        Some(p) => payload::held_future(p, sleep, d, run).map_err(CaseError::Failed)?,
    }
}

/// A runtime that spawns tasks: runs a spawning strategy for N tasks from a constructor.
trait Spawner {
    /// Runs `strategy` (`spawn`, `joinset`, `semaphore`) with tasks from `make`.
    fn run_spawned<F: Future<Output = ()> + Send + 'static>(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError>;
}

/// A spawning strategy on a runtime, as a [`Body`].
struct Spawned<'a, R> {
    rt: &'a R,
    case: &'a Case,
    opts: &'a RunOptions,
    at_peak: &'a mut dyn FnMut(),
}

impl<R: Spawner> Body for Spawned<'_, R> {
    type Out = Result<(), CaseError>;
    fn with<F: Future<Output = ()> + Send + 'static>(self, make: impl Fn() -> F) -> Self::Out {
        self.rt
            .run_spawned(self.case, self.opts, self.at_peak, make)
    }
}

/// Runs a spawning strategy on `rt` with the task body of `payload`.
fn spawned<R: Spawner, S: Future + Send + 'static>(
    rt: &R,
    sleep: impl payload::Sleep<S>,
    case: &Case,
    payload: Option<Payload>,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
) -> Result<(), CaseError> {
    let body = Spawned {
        rt,
        case,
        opts,
        at_peak,
    };
    if payload.is_none() && opts.lateness {
        return body.with(move || timed_task(sleep));
    }
    payload::spawned_body(payload, sleep, body).map_err(CaseError::Failed)?
}

/// The payload the tasks of a run hold: the case's, or `RunOptions::payload` as a heap
/// payload; both at once is an error.
fn effective_payload(case: &Case, opts: &RunOptions) -> Result<Option<Payload>, CaseError> {
    match (case.payload, opts.payload) {
        (Some(_), Some(_)) => Err(CaseError::Failed(format!(
            "{} has its own payload; RunOptions::payload must be None",
            case.id()
        ))),
        (Some(p), None) => Ok(Some(p)),
        (None, p) => Ok(p.map(Payload::heap)),
    }
}

/// A runtime, built once and reused by every run of a case.
pub struct Driver {
    runtime: Runtime,
    inner: DriverInner,
}

enum DriverInner {
    Tokio(tokio_rt::Tokio),
    AsyncStd(async_std_rt::AsyncStd),
    Smol(smol_rt::Smol),
    Os,
}

impl Driver {
    /// Builds the runtime (tokio's runtimes are created here; the global executors of
    /// async-std and smol start on first use).
    pub fn new(runtime: Runtime) -> Result<Driver, CaseError> {
        let inner = match runtime {
            Runtime::TokioCt => DriverInner::Tokio(tokio_rt::Tokio::current_thread()?),
            Runtime::TokioMt => DriverInner::Tokio(tokio_rt::Tokio::multi_thread()?),
            Runtime::AsyncStd => DriverInner::AsyncStd(async_std_rt::AsyncStd),
            Runtime::Smol => DriverInner::Smol(smol_rt::Smol),
            Runtime::Os => DriverInner::Os,
        };
        Ok(Driver { runtime, inner })
    }

    /// The runtime this driver runs.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// Runs the case once: creates the tasks, calls `at_peak` once they are all alive and
    /// polled, then releases them as `opts` says. The caller holds [`exclusive`].
    pub fn run(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        self.run_checked(case, opts, &mut || {}, at_peak)
    }

    /// Runs the case once like [`Driver::run`] and returns the time from just before the
    /// first task is created (after the limit checks) to every task alive and pending, taken
    /// before `at_peak` runs.
    pub fn time_to_peak(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<Duration, CaseError> {
        let start = std::cell::Cell::new(None);
        let mut elapsed = None;
        self.run_checked(
            case,
            opts,
            &mut || start.set(Some(Instant::now())),
            &mut || {
                elapsed = start.get().map(|s: Instant| s.elapsed());
                at_peak();
            },
        )?;
        elapsed.ok_or_else(|| CaseError::Failed(format!("{} never reached its peak", case.id())))
    }

    fn run_checked(
        &self,
        case: &Case,
        opts: &RunOptions,
        on_start: &mut dyn FnMut(),
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        if case.runtime != self.runtime {
            return Err(CaseError::Failed(format!(
                "case {} given to a {} driver",
                case.id(),
                self.runtime
            )));
        }
        crate::matrix::support(case.runtime, case.strategy)
            .map_err(|why| CaseError::Skipped(why.to_string()))?;
        crate::matrix::support_case(case).map_err(CaseError::Failed)?;
        crate::limits::check_case(case, opts)?;
        SLEEP_NANOS.store(opts.sleep.as_nanos() as u64, Ordering::Relaxed);
        if opts.lateness {
            lateness_log().reserve(case.n);
        }
        on_start();
        let result = self.run_strategy(case, opts, at_peak);
        self.flush_timers();
        result
    }

    /// async-io (under async-std and smol) removes dropped timers through a queue that its
    /// reactor drains only when it next wakes; a 1 ms timer makes it drain the queue now, so
    /// the next run does not start with the last run's timers (and their tasks) still alive.
    fn flush_timers(&self) {
        const TICK: Duration = Duration::from_millis(1);
        match &self.inner {
            DriverInner::AsyncStd(rt) => rt.block_on(async_std_rt::sleep(TICK)),
            DriverInner::Smol(rt) => drop(rt.block_on(smol::Timer::after(TICK))),
            DriverInner::Tokio(_) | DriverInner::Os => {}
        }
    }

    fn run_strategy(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        let payload = effective_payload(case, opts)?;
        if let DriverInner::Os = &self.inner {
            return threads::run(case.n, opts, at_peak);
        }
        if case.strategy.spawns() {
            match &self.inner {
                DriverInner::Tokio(rt) => {
                    spawned(rt, tokio::time::sleep, case, payload, opts, at_peak)
                }
                DriverInner::AsyncStd(rt) => {
                    spawned(rt, async_std_rt::sleep, case, payload, opts, at_peak)
                }
                DriverInner::Smol(rt) => {
                    spawned(rt, smol::Timer::after, case, payload, opts, at_peak)
                }
                DriverInner::Os => unreachable!(),
            }
        } else {
            match &self.inner {
                DriverInner::Tokio(rt) => {
                    unspawned(rt, tokio::time::sleep, case, payload, opts, at_peak)
                }
                DriverInner::AsyncStd(rt) => {
                    unspawned(rt, async_std_rt::sleep, case, payload, opts, at_peak)
                }
                DriverInner::Smol(rt) => {
                    unspawned(rt, smol::Timer::after, case, payload, opts, at_peak)
                }
                DriverInner::Os => unreachable!(),
            }
        }
    }
}

/// `size_of` of one task's future for the case, where the case has one future per task
/// (the sleep future, or the future holding the payload around it, for the unspawned
/// strategies; the spawned task body otherwise, with its semaphore permit for `semaphore`).
/// `None` for OS threads, and for an inline payload size that is not compiled in.
pub fn future_size(case: &Case) -> Option<usize> {
    match case.runtime {
        Runtime::TokioCt | Runtime::TokioMt => {
            size_on(case, tokio::time::sleep, tokio_rt::future_size)
        }
        Runtime::AsyncStd => size_on(case, async_std_rt::sleep, async_std_rt::future_size),
        Runtime::Smol => size_on(case, smol::Timer::after, smol_rt::future_size),
        Runtime::Os => None,
    }
}

/// [`future_size`] on a runtime whose sleep is `sleep` and whose plain sizes are `plain`.
fn size_on<S: Future + Send + 'static>(
    case: &Case,
    sleep: impl payload::Sleep<S>,
    plain: fn(Strategy) -> Option<usize>,
) -> Option<usize> {
    let d = crate::matrix::SLEEP;
    match (case.strategy, case.payload) {
        (Strategy::Threads, _) => None,
        (Strategy::Semaphore, p) => {
            let permit = bounded::SizeWithPermit::for_runtime(case.runtime)?;
            payload::spawned_body(p, sleep, permit).ok()
        }
        (s, Some(p)) if !s.spawns() => payload::held_future(p, sleep, d, payload::SizeOf).ok(),
        (_, Some(p)) => payload::spawned_body(Some(p), sleep, payload::SizeOf).ok(),
        (s, None) => plain(s),
    }
}
