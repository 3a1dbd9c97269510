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

use crate::matrix::{Case, Runtime, Strategy};

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
    /// its sleep (`Some(0)`: the same task shape, nothing allocated). `None`: the published
    /// workload, a bare sleep. Tests use this to plant a known size per task.
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

/// Which body a spawned task runs.
#[derive(Clone, Copy)]
enum Body {
    Plain,
    Payload(usize),
    Timed,
}

impl RunOptions {
    fn body(&self) -> Body {
        match (self.payload, self.lateness) {
            (Some(p), _) => Body::Payload(p),
            (None, true) => Body::Timed,
            (None, false) => Body::Plain,
        }
    }
}

/// A spawned task that also holds `payload` bytes across its sleep.
async fn payload_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    let held = vec![1u8; payload];
    STARTED.arrive();
    sleep(sleep_duration()).await;
    std::hint::black_box(&held);
}

/// A future for the unspawned strategies that holds `payload` bytes across its sleep.
async fn hold_payload<S: Future>(payload: usize, sleep: S) {
    let held = vec![1u8; payload];
    sleep.await;
    std::hint::black_box(&held);
}

/// The task bodies a runtime spawns, one closure per [`Body`], each spawning one task.
struct Spawners<A, B, C> {
    plain: A,
    payload: B,
    timed: C,
}

impl<H, A: Fn() -> H, B: Fn(usize) -> H, C: Fn() -> H> Spawners<A, B, C> {
    /// Spawns `n` tasks with the body `opts` asks for.
    fn spawn_all(&self, n: usize, opts: &RunOptions) -> Vec<H> {
        match opts.body() {
            Body::Plain => (0..n).map(|_| (self.plain)()).collect(),
            Body::Payload(p) => (0..n).map(|_| (self.payload)(p)).collect(),
            Body::Timed => (0..n).map(|_| (self.timed)()).collect(),
        }
    }
}

/// Spawns N tasks with `spawners`, waits until each has been polled once, calls `at_peak`,
/// then cancels every task with `cancel` or awaits each in turn. For runtimes whose handles
/// cancel asynchronously (async-std's `JoinHandle`, smol's `Task`).
async fn spawn_then_cancel<H: Future, C: Future, A, B, T>(
    n: usize,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
    spawners: Spawners<A, B, T>,
    cancel: impl Fn(H) -> C,
) where
    A: Fn() -> H,
    B: Fn(usize) -> H,
    T: Fn() -> H,
{
    STARTED.reset(n);
    let handles = spawners.spawn_all(n, opts);
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

/// Runs one of the unspawned strategies with the runtime's `sleep`, with or without payload.
fn unspawned<E: Exec, S: Future>(
    exec: &E,
    sleep: fn(Duration) -> S,
    strategy: Strategy,
    n: usize,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
) {
    fn pick<E: Exec, F: Future>(
        exec: &E,
        strategy: Strategy,
        n: usize,
        make: impl Fn() -> F,
        release: Release,
        at_peak: &mut dyn FnMut(),
    ) {
        match strategy {
            Strategy::JoinAll => join_all(exec, n, make, release, at_peak),
            Strategy::Sequential => sequential(exec, n, make, release, at_peak),
            Strategy::FuturesUnordered => futures_unordered(exec, n, make, release, at_peak),
            other => unreachable!("{other} is not an unspawned strategy"),
        }
    }
    let d = opts.sleep;
    match opts.body() {
        Body::Plain => pick(exec, strategy, n, || sleep(d), opts.release, at_peak),
        Body::Payload(p) => pick(
            exec,
            strategy,
            n,
            || hold_payload(p, sleep(d)),
            opts.release,
            at_peak,
        ),
        Body::Timed => pick(
            exec,
            strategy,
            n,
            || timed(d, sleep(d)),
            opts.release,
            at_peak,
        ),
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
        crate::limits::check_case(case, opts)?;
        SLEEP_NANOS.store(opts.sleep.as_nanos() as u64, Ordering::Relaxed);
        let (n, s) = (case.n, case.strategy);
        if opts.lateness {
            lateness_log().reserve(n);
        }
        on_start();
        let result = self.run_strategy(n, s, opts, at_peak);
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
        n: usize,
        s: Strategy,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        match (&self.inner, s) {
            (DriverInner::Os, _) => threads::run(n, opts, at_peak),
            (_, Strategy::JoinAll | Strategy::Sequential | Strategy::FuturesUnordered) => {
                match &self.inner {
                    DriverInner::Tokio(rt) => {
                        unspawned(rt, tokio::time::sleep, s, n, opts, at_peak)
                    }
                    DriverInner::AsyncStd(rt) => {
                        unspawned(rt, async_std_rt::sleep, s, n, opts, at_peak)
                    }
                    DriverInner::Smol(rt) => unspawned(rt, smol::Timer::after, s, n, opts, at_peak),
                    DriverInner::Os => unreachable!(),
                }
                Ok(())
            }
            (DriverInner::Tokio(rt), Strategy::Spawn) => rt.spawn(n, opts, at_peak),
            (DriverInner::Tokio(rt), Strategy::JoinSet) => rt.join_set(n, opts, at_peak),
            (DriverInner::AsyncStd(rt), Strategy::Spawn) => rt.spawn(n, opts, at_peak),
            (DriverInner::Smol(rt), Strategy::Spawn) => rt.spawn(n, opts, at_peak),
            (inner, s) => Err(CaseError::Skipped(format!(
                "{}/{s} is not implemented",
                match inner {
                    DriverInner::Tokio(_) => "tokio",
                    DriverInner::AsyncStd(_) => "async-std",
                    DriverInner::Smol(_) => "smol",
                    DriverInner::Os => "os",
                }
            ))),
        }
    }
}

/// `size_of` of one task's future for the case, where the case has one future per task
/// (the sleep future for the unspawned strategies, the spawned async block otherwise).
pub fn future_size(case: &Case) -> Option<usize> {
    match case.runtime {
        Runtime::TokioCt | Runtime::TokioMt => tokio_rt::future_size(case.strategy),
        Runtime::AsyncStd => async_std_rt::future_size(case.strategy),
        Runtime::Smol => smol_rt::future_size(case.strategy),
        Runtime::Os => None,
    }
}
