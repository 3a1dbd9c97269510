//! A Criterion group whose task benchmarks are recorded in taskmem's summary, so that
//! `taskmem baseline save`, `taskmem compare` and `taskmem report` work on a user's own
//! results exactly as on the suite's.
//!
//! [`group`] opens a Criterion benchmark group (it dereferences to
//! [`criterion::BenchmarkGroup`], so every Criterion setting is there); [`Group::tasks`]
//! benchmarks one [`Tasks`] in it with id `<group>/<runtime>/<strategy>/<N>`, bytes per task
//! on Criterion's throughput line, and one more line with every counter. Each case is merged
//! into `$CARGO_TARGET_DIR/taskmem/summary.json` (default `target/taskmem/summary.json`) as
//! soon as it is measured, through a [`Journal`] (atomically, under a lock: a bench killed
//! mid-run keeps its finished cases, two benches at once keep each other's).

use std::future::Future;
use std::ops::{Deref, DerefMut};

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};

use crate::error::Error;
use crate::measurement::{AnalysisPanic, Memory};
use crate::sample::Sample;
use crate::sites::Site;
use crate::summary::{self, Entry, Journal};
use crate::tasks::Tasks;

/// A Criterion group of task benchmarks, recorded in taskmem's summary when it ends.
pub struct Group<'a> {
    name: String,
    group: Option<BenchmarkGroup<'a, Memory>>,
    journal: Journal,
    /// Whether each case is followed by a run that records its allocation sites.
    sites: bool,
}

/// Set (to anything but `0`) in a bench's environment, every case of a [`group`] is followed
/// by one more run that records where its tasks' heap was allocated ([`Tasks::sites`]), kept
/// with the case in the summary. `taskmem bill` sets it.
pub const SITES_ENV: &str = "TASKMEM_SITES";

/// Opens the benchmark group `name` on `c` (flat sampling: each sample is one run).
///
/// ```no_run
/// use std::time::Duration;
/// use criterion::Criterion;
/// use taskmem::{Memory, Runtime, Strategy, Tasks};
///
/// fn bench(c: &mut Criterion<Memory>) {
///     let mut group = taskmem::group(c, "sleepers");
///     let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 10_000);
///     group.tasks(&tasks, || tokio::time::sleep(Duration::from_secs(10)));
/// }
/// # taskmem::use_tracked_jemalloc!();
/// # fn main() { bench(&mut taskmem::criterion()); }
/// ```
pub fn group<'a>(c: &'a mut Criterion<Memory>, name: impl Into<String>) -> Group<'a> {
    let name = name.into();
    let mut group = c.benchmark_group(name.clone());
    group.sampling_mode(SamplingMode::Flat);
    Group {
        name,
        group: Some(group),
        journal: Journal::open(&summary::default_path(), None),
        sites: std::env::var_os(SITES_ENV).is_some_and(|v| v != "0"),
    }
}

impl Group<'_> {
    /// Benchmarks `tasks` with futures from `make`: Criterion id `<runtime>/<strategy>/<N>`
    /// in this group, `Throughput::Elements(N)` so Criterion prints bytes per task, then one
    /// line with every counter. A filtered-out benchmark records nothing.
    pub fn tasks<F, M>(&mut self, tasks: &Tasks, make: M) -> &mut Self
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks_named(&tasks.label(), tasks, make)
    }

    /// [`Group::tasks`] under a name of the caller's instead of `<runtime>/<strategy>`: id
    /// `<group>/<name>/<N>` (e.g. group `tokio-mt`, name `tcp`: `tokio-mt/tcp/10000`).
    pub fn tasks_named<F, M>(&mut self, name: &str, tasks: &Tasks, make: M) -> &mut Self
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.bench_tasks(
            name,
            tasks,
            |b| tasks.bench(b, &make),
            || tasks.sites(&make),
        )
    }

    /// [`Group::tasks`] with per-run state kept outside the tasks ([`Tasks::measure_with`]):
    /// `state()` before each run, unmeasured; each task made with `make(&mut state)`; the
    /// state dropped after the run.
    pub fn tasks_with<S, Z, F, M>(&mut self, tasks: &Tasks, state: Z, make: M) -> &mut Self
    where
        Z: Fn() -> S,
        M: Fn(&mut S) -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.bench_tasks(
            &tasks.label(),
            tasks,
            |b| tasks.bench_with(b, &state, &make),
            || tasks.sites_with(&state, &make),
        )
    }

    /// One benchmark of `tasks` under `name`, run by `bench`, then recorded (with the
    /// allocation sites of one more run, by `sites`, when the group records them).
    fn bench_tasks(
        &mut self,
        name: &str,
        tasks: &Tasks,
        mut bench: impl FnMut(&mut criterion::Bencher<'_, Memory>),
        sites: impl FnOnce() -> Result<Vec<Site>, Error>,
    ) -> &mut Self {
        let Some(group) = self.group.as_mut() else {
            return self;
        };
        group.throughput(Throughput::Elements(tasks.n() as u64));
        let id = BenchmarkId::new(name, tasks.n());
        // Criterion's analysis can panic on figures taskmem makes possible (ten equal samples,
        // compared with an earlier run of equal ones): one line, and the case is still kept.
        // Criterion's "Unable to complete 10 samples in 1.0ns", printed between the warm-up
        // call and the first sample, says only that a sample is one run, as `criterion()`
        // sets: stderr is quiet from the end of the first call to the start of the next
        // (crate::quiet_stderr).
        let mut silence = crate::quiet_stderr::Silence::default();
        let mut warmed_up = false;
        let bench = crate::tasks::guarded(|| {
            group.bench_function(id, |b| {
                silence.stop();
                bench(b);
                if !std::mem::replace(&mut warmed_up, true) {
                    silence.silence();
                }
            });
        });
        silence.stop();
        if let Err(payload) = bench {
            let message = crate::tasks::panic_message(&*payload).unwrap_or_default();
            let n = tasks.n();
            println!("{}/{name}/{n}: {}", self.name, AnalysisPanic::of(&message));
        }
        let calls = tasks.take_calls();
        if calls.is_empty() {
            return self;
        }
        let runs = calls.records().map(Vec::len).sum();
        // The samples Criterion analysed, however its sample size was set.
        let sampled: Vec<Sample> = calls.into_samples().into_iter().flatten().collect();
        let id = format!("{}/{}/{}", self.name, name, tasks.n());
        let mut case = summary::summarise(&id, tasks.n(), tasks.reported_metric(), &sampled, runs);
        case.runtime = Some(tasks.runtime_kind().id().to_string());
        case.future_size = tasks.future_size();
        case.future_type = tasks.future_type().map(String::from);
        println!("{case}");
        if self.sites {
            match sites() {
                Ok(found) => {
                    println!(
                        "{id}: {} allocation sites recorded at the peak",
                        found.len()
                    );
                    case.sites = Some(found);
                    case.sites_from = std::env::current_exe()
                        .ok()
                        .map(|e| e.to_string_lossy().into_owned());
                }
                Err(e) => println!("{id}: allocation sites not recorded: {e}"),
            }
        }
        if let Err(e) = self.journal.record(Entry::Case(case)) {
            eprintln!("taskmem: {e}");
        }
        self
    }

    /// Ends the group (its cases are in the summary file already).
    pub fn finish(mut self) {
        self.record();
    }

    fn record(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        group.finish();
        if self.journal.recorded() == 0 {
            return;
        }
        self.journal.close();
        println!(
            "taskmem: summary written to {}",
            self.journal.summary_path().display()
        );
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        self.record();
    }
}

impl<'a> Deref for Group<'a> {
    type Target = BenchmarkGroup<'a, Memory>;
    fn deref(&self) -> &Self::Target {
        self.group
            .as_ref()
            .expect("the group is open until it is dropped")
    }
}

impl DerefMut for Group<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.group
            .as_mut()
            .expect("the group is open until it is dropped")
    }
}
