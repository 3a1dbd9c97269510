//! The suite's workloads, written against the public API ([`taskmem::Tasks`]): what each case
//! of the matrix runs.
//!
//! A case's tasks each sleep [`RunOptions::sleep`] (10 s by default) with their runtime's own
//! timer, holding the case's [`Payload`] across the await (`payload.rs`); OS threads wait on
//! a condition variable (`threads.rs`). [`Driver`] turns a [`Case`] into a [`taskmem::Tasks`]
//! on one runtime instance per runtime, and checks the machine's limits first.
//!
//! The time side ([`crate::timing`]) uses two more things from here: [`Driver::time_to_peak`]
//! and runs with [`RunOptions::lateness`], where each task notes its deadline when its sleep
//! is created and records how late it resumed past it ([`take_lateness`]). Those tasks carry
//! the deadline, so their sizes are not the memory suite's: lateness runs are never measured
//! in bytes.

mod payload;
mod threads;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::matrix::{Case, Payload, Runtime};
use payload::Body;
use taskmem::on::{self, On};
use taskmem::sample::Sample;
use taskmem::{self as tasks, Tasks};

pub use crate::matrix::CaseError;
pub use taskmem::Release;
pub use taskmem::sample::exclusive;

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
    /// Nothing per task but the task itself and what the strategy needs: each spawned task
    /// reports its own first poll ([`taskmem::Tasks::first_poll_latch`]), so the run keeps no
    /// table of polled tasks. For whole-process figures (`taskmem run`, `taskmem sweep`), where
    /// whatever the harness holds counts; the suite's measured runs keep the table, which no
    /// measurement sees.
    pub bare: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            sleep: crate::matrix::SLEEP,
            release: Release::Cancel,
            payload: None,
            lateness: false,
            bare: false,
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

/// The latch the spawned tasks of a bare run arrive at in their first poll ([`announce`]).
fn first_polls() -> &'static tasks::Latch {
    static LATCH: OnceLock<tasks::Latch> = OnceLock::new();
    LATCH.get_or_init(tasks::Latch::new)
}

/// Whether the current run's tasks report their first poll ([`RunOptions::bare`]).
static ANNOUNCE: AtomicBool = AtomicBool::new(false);

/// Called by every spawned task body in its first poll: in a bare run, arrives at
/// [`first_polls`]; otherwise one relaxed load. Reads statics only, so the task captures
/// nothing for it.
fn announce() {
    if ANNOUNCE.load(Ordering::Relaxed) {
        first_polls().arrive();
    }
}

/// The process-wide sleep duration of the current run, read by each spawned task when it
/// starts (so tasks capture nothing).
static SLEEP_NANOS: AtomicU64 = AtomicU64::new(10_000_000_000);

fn sleep_duration() -> Duration {
    Duration::from_nanos(SLEEP_NANOS.load(Ordering::Relaxed))
}

/// A runtime, built once and reused by every run of every case on it.
pub struct Driver {
    runtime: Runtime,
    /// The runtime instance every case's [`Tasks`] is derived from; `None` for OS threads.
    base: Option<Tasks>,
}

impl Driver {
    /// Builds the runtime (tokio's runtimes are created here; the global executors of
    /// async-std and smol start on first use).
    pub fn new(runtime: Runtime) -> Result<Driver, CaseError> {
        let base = runtime
            .tasks()
            .map(|rt| Tasks::new(rt, tasks::Strategy::JoinAll, 1));
        if let Some(rt) = runtime.tasks().filter(|rt| !rt.is_compiled()) {
            return Err(CaseError::Skipped(
                taskmem::Error::NotCompiled(rt).to_string(),
            ));
        }
        Ok(Driver { runtime, base })
    }

    /// The runtime this driver runs.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The case's tasks, on this driver's runtime instance (`None` for OS threads).
    fn tasks(&self, case: &Case, opts: &RunOptions) -> Result<Option<Tasks>, CaseError> {
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
        crate::limits::check_case(case, opts.payload)?;
        SLEEP_NANOS.store(opts.sleep.as_nanos() as u64, Ordering::Relaxed);
        if opts.lateness {
            lateness_log().reserve(case.n);
        }
        let Some(base) = &self.base else {
            return Ok(None);
        };
        let strategy = case
            .strategy
            .tasks()
            .ok_or_else(|| CaseError::Failed(format!("{} has no async strategy", case.id())))?;
        // Runs reuse the pages the run before them freed, except with a payload, whose RSS
        // would then read more (Tasks::reuse_pages says why). Threads (no Tasks here) start
        // from fresh pages too: each new thread's jemalloc cache is a zeroed allocation, free
        // of page faults on fresh pages and a memset that makes every page resident on reused
        // ones (45 KiB of RSS per thread at 10K instead of 25).
        let reuse = case.payload.is_none() && opts.payload.is_none();
        let tasks = base
            .with_strategy(strategy)
            .with_n(case.n)
            .release(opts.release)
            .reuse_pages(reuse);
        // The unspawned strategies keep no table in any run: only spawned tasks announce.
        let bare = opts.bare && strategy.spawns();
        ANNOUNCE.store(bare, Ordering::SeqCst);
        Ok(Some(if bare {
            tasks.first_poll_latch(first_polls())
        } else {
            tasks
        }))
    }

    /// Runs the case once: creates the tasks, calls `at_peak` once they are all alive and
    /// polled, then releases them as `opts` says. The caller holds [`exclusive`].
    pub fn run(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        match self.tasks(case, opts)? {
            None => threads::run(case.n, opts, at_peak),
            Some(tasks) => with_body(&tasks, case, opts, Run { at_peak }),
        }
    }

    /// Runs the case once and measures it (see [`taskmem::sample::measure`]; the cases without
    /// a payload reuse the pages the run before freed, [`taskmem::sample::measure_reusing`]).
    pub fn measure(&self, case: &Case, opts: &RunOptions) -> Result<Sample, CaseError> {
        match self.tasks(case, opts)? {
            None => {
                let _guard = exclusive();
                let mut failed = None;
                let sample = taskmem::sample::measure(|at_peak| {
                    failed = threads::run(case.n, opts, at_peak).err();
                    Ok(())
                });
                match (failed, sample) {
                    (Some(e), _) => Err(e),
                    (None, s) => Ok(s?),
                }
            }
            Some(tasks) => with_body(&tasks, case, opts, Measure),
        }
    }

    /// Runs the case once and records where the blocks its tasks hold at the peak were
    /// allocated ([`Tasks::sites`]), with the type name of its future. OS threads have no
    /// tasks to record: skipped.
    pub fn sites(
        &self,
        case: &Case,
        opts: &RunOptions,
    ) -> Result<(Vec<taskmem::sites::Site>, Option<&'static str>), CaseError> {
        match self.tasks(case, opts)? {
            None => Err(CaseError::Skipped(
                "OS threads have no tasks whose allocation sites to record".into(),
            )),
            Some(tasks) => with_body(&tasks, case, opts, Sites),
        }
    }

    /// Runs the case once like [`Driver::run`] and returns the time from just before the
    /// first task is created (after the limit checks) to every task alive and pending.
    /// `at_peak` is called there, with every task alive and pending (before a
    /// [`Release::Complete`] lets them finish).
    pub fn time_to_peak(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<Duration, CaseError> {
        match self.tasks(case, opts)? {
            None => {
                let start = Instant::now();
                let mut elapsed = None;
                threads::run(case.n, opts, &mut || {
                    elapsed = Some(start.elapsed());
                    at_peak();
                })?;
                elapsed.ok_or_else(|| {
                    CaseError::Failed(format!("{} never reached its peak", case.id()))
                })
            }
            Some(tasks) => with_body(&tasks, case, opts, TimeToPeak { at_peak }),
        }
    }
}

/// Measures one run of `case` on `driver` (the suite's form of [`Tasks::measure`]).
pub fn measure(driver: &Driver, case: &Case, opts: &RunOptions) -> Result<Sample, CaseError> {
    driver.measure(case, opts)
}

/// What to do with a case's tasks once their body is known.
trait Action {
    type Out;
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<Self::Out, CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// An unmeasured run with a peak callback (the caller holds [`exclusive`]).
struct Run<'a> {
    at_peak: &'a mut dyn FnMut(),
}

impl Action for Run<'_> {
    type Out = ();
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<(), CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(tasks.run_on::<R, F, M>(&make, &mut || {}, self.at_peak)?)
    }
}

/// A measured run.
struct Measure;

impl Action for Measure {
    type Out = Sample;
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<Sample, CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = exclusive();
        Ok(tasks.measure_on::<R, F, M>(make)?)
    }
}

/// A run that records the allocation sites of the blocks the tasks hold at the peak, with
/// the future's type name.
struct Sites;

impl Action for Sites {
    type Out = (Vec<taskmem::sites::Site>, Option<&'static str>);
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<Self::Out, CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = exclusive();
        let sites = tasks.sites_on::<R, F, M>(make)?;
        Ok((sites, tasks.future_type()))
    }
}

/// A timed run, with a callback at the peak (every task alive and pending).
struct TimeToPeak<'a> {
    at_peak: &'a mut dyn FnMut(),
}

impl Action for TimeToPeak<'_> {
    type Out = Duration;
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<Duration, CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(tasks.time_to_peak_on::<R, F, M>(make, self.at_peak)?)
    }
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

/// An [`Action`] with the case's tasks, compiled for their runtime `R`, as a payload [`Body`].
struct Bound<'a, A, R> {
    tasks: &'a Tasks,
    action: A,
    on: std::marker::PhantomData<R>,
}

impl<A: Action, R: On> Body for Bound<'_, A, R> {
    type Out = Result<A::Out, CaseError>;
    fn with<F>(self, make: impl Fn() -> F) -> Self::Out
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.action.act::<R, _, _>(self.tasks, make)
    }
}

/// Hands `action` the constructor of the case's task body on its runtime.
fn with_body<A: Action>(
    tasks: &Tasks,
    case: &Case,
    opts: &RunOptions,
    action: A,
) -> Result<A::Out, CaseError> {
    let payload = effective_payload(case, opts)?;
    let (spawned, d, lateness) = (case.strategy.spawns(), opts.sleep, opts.lateness);
    fn on<R, A: Action>(tasks: &Tasks, action: A) -> Bound<'_, A, R> {
        Bound {
            tasks,
            action,
            on: std::marker::PhantomData,
        }
    }
    // Each body is compiled with its runtime's half of the strategies alone
    // (crate::tasks::dispatch): spawned bodies with the spawning ones, the rest with the
    // polled ones.
    macro_rules! on_runtime {
        ($on:ty, $sleep:expr) => {
            if spawned {
                payload::spawned(
                    payload,
                    lateness,
                    $sleep,
                    on::<on::Spawned<$on>, A>(tasks, action),
                )
            } else {
                payload::unspawned(
                    payload,
                    lateness,
                    d,
                    $sleep,
                    on::<on::Polled<$on>, A>(tasks, action),
                )
            }
        };
    }
    match case.runtime {
        Runtime::TOKIO_CT | Runtime::TOKIO_MT => on_runtime!(on::Tokio, tokio::time::sleep),
        Runtime::ASYNC_STD => on_runtime!(on::AsyncStd, payload::async_std_sleep),
        Runtime::SMOL => on_runtime!(on::Smol, smol::Timer::after),
        Runtime::Os => Ok(Err(CaseError::Failed(
            "OS threads have no task body".into(),
        ))),
    }
    .map_err(CaseError::Failed)?
}

/// `size_of` of one task as the case holds it (the sleep future, or the future holding the
/// payload around it, for the unspawned strategies; the spawned task body in taskmem's
/// first-poll wrapper otherwise (a newtype), with its semaphore permit for `semaphore`). `None` for OS
/// threads, a bounded case without its bound, and an inline payload size not compiled in.
pub fn future_size(case: &Case) -> Option<usize> {
    future_size_with(case, &RunOptions::default())
}

/// [`future_size`] of the tasks a run with `opts` makes (with [`RunOptions::lateness`]: the
/// tasks that keep their deadline).
pub fn future_size_with(case: &Case, opts: &RunOptions) -> Option<usize> {
    let tasks = Tasks::new(case.runtime.tasks()?, case.strategy.tasks()?, case.n);
    with_body(&tasks, case, opts, SizeOf).ok()
}

/// A body's size without running it.
struct SizeOf;

impl Action for SizeOf {
    type Out = usize;
    fn act<R: On, F, M>(self, tasks: &Tasks, make: M) -> Result<usize, CaseError>
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(tasks.held_size(&make))
    }
}
