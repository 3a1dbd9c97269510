//! The memory suite as a Criterion bench: every case of the matrix measured in bytes, through
//! the public API ([`taskmem::Tasks`], by way of [`crate::workload`]).
//!
//! `benches/memory.rs` is an ordinary Criterion bench over a [`Suite`]: [`Suite::from_env`]
//! reads the configuration ([`crate::config`]: `TASKMEM_*` and the command line; bad input,
//! and a Criterion filter that matches no case, end with one line on stderr and exit code 2
//! before any file is touched) and checks the probes; the bench opens one
//! Criterion group per runtime (`tokio-mt/spawn/100000` is group `tokio-mt`, function
//! `spawn`, parameter 100000) and calls [`Suite::bench`] per case, which prints bytes per
//! task after it and records the case in the summary ([`taskmem::summary`]) at once, through
//! a [`Journal`]: a run killed at case 140 keeps 139, Ctrl-C ends the run between two runs
//! of a case with the finished ones saved ([`crate::interrupt`]), and two runs at once keep
//! each other's cases. [`Suite::finish`] prints the end tables, writes the report next to
//! Criterion's (`target/criterion/taskmem/index.html`, [`crate::report`]) and runs the gate
//! when `TASKMEM_COMPARE` names a baseline.
//!
//! Criterion settings ([`taskmem::criterion`]): 10 samples, 10,000 bootstrap resamples, flat
//! sampling, warm-up and measurement times of 1 ns, so that a case makes one warm-up run and
//! exactly one run per sample: 11 runs. Criterion's warning about it ("Unable to complete 10
//! samples in 1.0ns", by design here) is kept off stderr ([`taskmem::quiet_stderr`]); on a
//! terminal a line before each case says where the run is ([`crate::progress::CaseClock`]).

use std::collections::BTreeMap;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use crate::config::Config;
use crate::matrix::{Case, Runtime};
use crate::workload::{CaseError, Driver, RunOptions};
use taskmem::sample::Sample;
use taskmem::summary::{self, CaseSummary, Skip};
use taskmem::summary::{Entry, Journal};
use taskmem::{Memory, format_bytes};

pub use crate::fail::exit_with;

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// While on, a panic on this thread prints nothing; its message is kept for
/// [`last_panic`], and the suite explains it in one line. Used around Criterion's analysis
/// and report, which panic on some byte-exact samples (see `group::explain_report_panic`).
fn quiet_panics(on: bool) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.with(|q| q.get()) {
                let message = crate::fail::panic_message(info.payload()).unwrap_or_default();
                LAST_PANIC.with(|l| *l.borrow_mut() = message);
            } else {
                default(info);
            }
        }));
    });
    QUIET_PANICS.with(|q| q.set(on));
}

fn last_panic() -> String {
    LAST_PANIC.with(|l| l.borrow().clone())
}

/// The suite's state over one bench run: its configuration, a driver per runtime, and
/// what has been measured, skipped or failed so far.
pub struct Suite {
    config: Config,
    drivers: BTreeMap<Runtime, Result<Driver, CaseError>>,
    outcome: Outcome,
    clock: crate::progress::CaseClock,
    /// Where each case goes as soon as it is measured (none when only listing).
    journal: Option<Journal>,
    /// How many processes run the cases ([`crate::jobs`]): 1 runs them in this one.
    jobs: usize,
    /// In a job's process: which cases it takes.
    claims: Option<crate::jobs::Claims>,
    /// The configured cases in the order they run, grouped by runtime: report order, except
    /// that with several jobs the OS threads go first (`os/threads/10000` is the longest
    /// case, and a long case last would leave the other jobs idle).
    order: Vec<Case>,
}

impl Suite {
    /// The configuration from `TASKMEM_*` and the command line, with the probes checked; bad
    /// input ends the process with one line and exit code 2, an unreadable probe with 1.
    pub fn from_env() -> Suite {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let config = Config::from_env_and_args(&args).unwrap_or_else(|e| exit_with(&e, 2));
        // Before anything is read or opened: a filter that matches no case ends the run in
        // one line, and the summary and report of the last run stay as they are, unprinted.
        let mut order = config
            .select("cargo bench --bench memory", &config.unfiltered_cases())
            .unwrap_or_else(|no| no.exit());
        if let Err(e) = taskmem::probe::check() {
            exit_with(&e.to_string(), 1);
        }
        let claims = crate::jobs::Claims::of_this_process();
        // One process when it is a job itself, only lists, or reports to cargo-criterion
        // (which takes one connection).
        let alone = claims.is_some()
            || config.list_only()
            || std::env::var_os("CARGO_CRITERION_PORT").is_some();
        let jobs = if alone {
            1
        } else {
            crate::jobs::count(config.jobs, &order)
        };
        let mut runtimes = Runtime::ALL.to_vec();
        if jobs > 1 || claims.is_some() {
            runtimes.sort_by_key(|&rt| rt != Runtime::Os);
        }
        // Stable: within a runtime the cases keep their report order.
        order.sort_by_key(|c| runtimes.iter().position(|&rt| rt == c.runtime));
        let journal = (!config.list_only()).then(|| {
            crate::interrupt::install();
            Journal::open(&summary::default_path(), Some(crate::pairs::pairing))
        });
        Suite {
            config,
            drivers: BTreeMap::new(),
            outcome: Outcome::default(),
            clock: crate::progress::CaseClock::new(order.iter().map(|c| c.n)),
            journal,
            jobs,
            claims,
            order,
        }
    }

    /// The configured cases grouped by runtime, in the order they run: report order, except
    /// that with several jobs the OS threads go first.
    pub fn groups(&self) -> Vec<(Runtime, Vec<Case>)> {
        let mut groups: Vec<(Runtime, Vec<Case>)> = Vec::new();
        for &case in &self.order {
            match groups.last_mut() {
                Some((rt, cases)) if *rt == case.runtime => cases.push(case),
                _ => groups.push((case.runtime, vec![case])),
            }
        }
        groups
    }

    /// Benchmarks one case in `group` (its runtime's): Criterion id
    /// `<strategy>[/kK][/pP-place]/<N>`, bytes per task on the throughput line, every counter
    /// on the next. A case this machine cannot run is skipped with its reason.
    pub fn bench(&mut self, group: &mut BenchmarkGroup<'_, Memory>, case: &Case) {
        let id = BenchmarkId::new(case.pair().function_id(), case.n);
        group.throughput(Throughput::Elements(case.n as u64));
        if self.config.list_only() {
            group.bench_with_input(id, case, |b, _| b.iter_custom(|_| 1));
            return;
        }
        // In a job: only the pairs no other job has taken, each case announced to the run.
        match self.claims.as_ref().map(|c| c.take(case)) {
            None => self.measure(group, id, case),
            Some(Ok(true)) => {
                crate::jobs::started(&case.id());
                self.measure(group, id, case);
                crate::jobs::ended(&case.id());
            }
            Some(Ok(false)) => {}
            Some(Err(e)) => exit_with(&e, 1),
        }
    }

    /// Runs the cases as [`crate::jobs`] when this run has more than one job, and returns
    /// whether it did; otherwise Criterion runs them in this process through
    /// [`Suite::bench`].
    pub fn run_jobs(&mut self) -> bool {
        if self.jobs < 2 {
            return false;
        }
        let summary = summary::default_path();
        match crate::jobs::run(self.jobs, &self.order, &summary) {
            Ok(ended) => {
                self.outcome.same_bytes += ended.same_bytes;
                self.outcome.failed += ended.failed;
                if let Some(code) = ended.exit_code {
                    if let Some(journal) = &self.journal {
                        journal.close();
                    }
                    std::process::exit(code);
                }
            }
            Err(e) => exit_with(&e, 1),
        }
        true
    }

    fn measure(&mut self, group: &mut BenchmarkGroup<'_, Memory>, id: BenchmarkId, case: &Case) {
        self.clock.start_case(&case.id());
        // The runs of one case reuse each other's freed pages (taskmem::probe::start_run); the
        // last case's go back to the OS first, so that a case holds no more than its own.
        if let Err(e) = taskmem::sample::return_held_pages() {
            crate::fail::exit_with(&e.to_string(), 1);
        }
        if crate::interrupt::requested() {
            stop(self.journal.as_ref(), self.claims.is_some());
        }
        let driver = match self
            .drivers
            .entry(case.runtime)
            .or_insert_with(|| Driver::new(case.runtime))
        {
            Ok(d) => &*d,
            Err(e) => {
                self.outcome
                    .record_error(case.id(), e.clone(), self.journal.as_mut());
                return;
            }
        };
        let opts = RunOptions::default();
        // A thread case's first run decides whether the OS lets it run here: only then
        // does Criterion take over. Other cases are checked against the limits up front.
        let check = if case.runtime == Runtime::Os {
            driver.measure(case, &opts).map(Some)
        } else {
            crate::limits::check_case(case, None).map(|()| None)
        };
        let first = match check {
            Ok(first) => first,
            Err(e) => {
                self.outcome
                    .record_error(case.id(), e, self.journal.as_mut());
                return;
            }
        };
        let metric = self.config.metric_for(case);
        // Every call Criterion makes, with its runs, told apart into warm-up calls and the
        // samples it analyses (taskmem::Calls); the first run, outside Criterion,
        // counts as warm-up.
        let mut calls = taskmem::Calls::default();
        if let Some(s) = first {
            calls.push(vec![s]);
        }
        // Criterion's "Unable to complete 10 samples" comes between the warm-up call and the
        // first sample, and only says that a sample is one run, as designed: stderr is quiet
        // from the end of the warm-up to the start of the next call (taskmem::quiet_stderr).
        let mut silence = taskmem::quiet_stderr::Silence::default();
        let mut warmed_up = false;
        let journal = self.journal.as_ref();
        let in_job = self.claims.is_some();
        let bench = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            quiet_panics(true);
            group.bench_with_input(id, case, |b, case| {
                silence.stop();
                b.iter_custom(|iters| {
                    let mut total = 0u64;
                    let mut runs = Vec::with_capacity(iters as usize);
                    for _ in 0..iters {
                        if crate::interrupt::requested() {
                            stop(journal, in_job);
                        }
                        let s = driver
                            .measure(case, &opts)
                            .and_then(|s| Ok((s, s.value(metric)?)));
                        match s {
                            Ok((s, v)) => {
                                total += v.bytes;
                                runs.push(s);
                            }
                            Err(e) => exit_with(&format!("{}: {e}", case.id()), 1),
                        }
                    }
                    calls.push(runs);
                    total
                });
                if !std::mem::replace(&mut warmed_up, true) {
                    silence.silence();
                }
            });
        }));
        silence.stop();
        quiet_panics(false);
        if bench.is_err() {
            let message = last_panic();
            if message.contains("Broken pipe") || message.contains("Connection reset") {
                exit_with(
                    "lost the connection to cargo-criterion (it stopped; see its message above)",
                    1,
                );
            }
            let why = taskmem::AnalysisPanic::of(&message);
            if why == taskmem::AnalysisPanic::EqualSamples {
                // Said once for the run, at its end.
                self.outcome.same_bytes += 1;
            } else {
                println!("{}: {why}", case.id());
            }
        }
        if calls.is_empty() {
            // Filtered out by Criterion's command line: nothing ran.
            return;
        }
        let runs = calls.records().map(Vec::len).sum();
        let measured: Vec<Sample> = calls.into_samples().into_iter().flatten().collect();
        let mut summary = summary::summarise(&case.id(), case.n, metric, &measured, runs);
        summary.future_size = crate::workload::future_size(case);
        println!("{summary}");
        if self.config.sites && case.runtime != Runtime::Os {
            match driver.sites(case, &opts) {
                Ok((sites, future_type)) => {
                    println!(
                        "{}: {} allocation sites recorded at the peak",
                        case.id(),
                        sites.len()
                    );
                    summary.sites = Some(sites);
                    summary.future_type = future_type.map(String::from);
                    summary.sites_from = std::env::current_exe()
                        .ok()
                        .map(|e| e.to_string_lossy().into_owned());
                }
                Err(e) => println!("{}: allocation sites not recorded: {e}", case.id()),
            }
        }
        if let Some(journal) = self.journal.as_mut() {
            if let Err(e) = journal.record(Entry::Case(summary.clone())) {
                eprintln!("taskmem: {}: {e}", case.id());
                self.outcome.failed += 1;
            }
        }
        self.outcome.measured.push(summary);
    }

    /// After Criterion's final summary: the summary file (every case is in it already;
    /// this merges once more, under the lock, for the other runs' latest cases), the end
    /// tables, the report and the gate. Exits non-zero when a case failed, the gate found a
    /// regression, or the report could not be written.
    pub fn finish(self, criterion: Criterion<Memory>) {
        let config = self.config;
        let outcome = self.outcome;
        let Some(journal) = self.journal else {
            return;
        };
        if self.claims.is_some() {
            // A job: the run that started it does the rest, once every job has ended.
            crate::jobs::outcome(outcome.same_bytes, outcome.failed);
            journal.close();
            return;
        }
        // Criterion's index of every benchmark (target/criterion/report/index.html).
        criterion.final_summary();
        if outcome.same_bytes > 0 {
            println!(
                "taskmem: {} case(s) measured the same bytes in every run as last time; \
                 Criterion 0.8.2 cannot draw the t-test of two equal zero-variance samples, so \
                 their HTML pages keep the previous plots (their figures and change estimates \
                 are saved)",
                outcome.same_bytes
            );
        }
        let path = journal.summary_path().to_path_buf();
        let merged = match summary::journal::update(
            &path,
            Vec::new(),
            Vec::new(),
            Some(crate::pairs::pairing),
        ) {
            Ok(merged) => {
                println!("taskmem: summary written to {}", path.display());
                merged
            }
            Err(e) => exit_with(&e, 1),
        };
        journal.close();
        print_table(&merged);
        // Before the gate, so that a regression still leaves its report.
        let report_written = write_report(&merged, &path, config.compare.as_deref());
        if outcome.failed > 0 {
            exit_with(&format!("{} case(s) failed", outcome.failed), 1);
        }
        if let Some(name) = &config.compare {
            println!("\ntaskmem: comparing with baseline '{name}'");
            let code = crate::gate::compare(&crate::gate::CompareOptions::named(name));
            if code != 0 {
                std::process::exit(code);
            }
        }
        if !report_written {
            std::process::exit(1);
        }
    }
}

/// Ends the run after Ctrl-C: the finished cases are in the summary already. A job ends
/// without a word: the run that started it says it once, for every job.
fn stop(journal: Option<&Journal>, in_job: bool) -> ! {
    let Some(journal) = journal else {
        exit_with("interrupted (Ctrl-C)", 130)
    };
    journal.close();
    if in_job {
        std::process::exit(130);
    }
    exit_with(
        &format!(
            "interrupted (Ctrl-C): the {} case(s) this run finished are in {}",
            journal.recorded(),
            journal.summary_path().display()
        ),
        130,
    )
}

/// The memory bench's `main`, as `benches/memory.rs` writes it out (that file shows the loop
/// to a reader; this is the same for the test binaries that run as the memory bench:
/// tests/resilience.rs, tests/bench_filters.rs): the configuration, one Criterion group per
/// runtime with its cases (or the cases spread over jobs), then the end tables and the gate.
pub fn main() {
    let mut suite = Suite::from_env();
    let mut criterion = criterion();
    if !suite.run_jobs() {
        for (runtime, cases) in suite.groups() {
            let mut group = criterion.benchmark_group(runtime.id());
            group.sampling_mode(criterion::SamplingMode::Flat);
            for case in &cases {
                suite.bench(&mut group, case);
            }
            group.finish();
        }
    }
    suite.finish(criterion);
}

/// A Criterion for the suite: [`taskmem::criterion`], then the command line.
pub fn criterion() -> Criterion<Memory> {
    // Criterion looks for gnuplot when it is made and says "Gnuplot not found" on stderr;
    // the suite draws with plotters either way (taskmem::quiet_stderr).
    taskmem::quiet_stderr::Silence::during(taskmem::criterion).configure_from_args()
}

/// Writes the report page next to Criterion's and says where in one line; with a baseline
/// chosen (`TASKMEM_COMPARE`), the tables show each case's change against it. Returns
/// whether the page was written (a failure is one line on stderr).
fn write_report(
    s: &summary::Summary,
    summary_path: &std::path::Path,
    baseline: Option<&str>,
) -> bool {
    use crate::report::{self, memory};
    // The gate reports a bad baseline itself; the report then goes without the comparison.
    let comparison = baseline.and_then(|name| {
        memory::compare(s, std::path::Path::new(crate::baseline::DEFAULT_DIR), name).ok()
    });
    let file = report::page_path(&crate::baseline::criterion_home());
    let sources =
        report::sources::Sources::load(summary_path.parent().unwrap_or(std::path::Path::new(".")));
    let mut r = memory::report(
        s,
        summary_path,
        comparison.as_ref(),
        report::criterion_link(&file),
        sources.sweep(),
    );
    r.sections.extend(report::sources::breakdown_section(s));
    report::sources::add(&mut r, &sources);
    match report::write_page(&r, &file) {
        Ok(()) => {
            println!("taskmem: report written to {}", file.display());
            true
        }
        Err(e) => {
            eprintln!("taskmem: report: {e}");
            false
        }
    }
}

/// What a suite run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Cases measured.
    pub measured: Vec<CaseSummary>,
    /// Cases skipped, with reasons.
    pub skipped: Vec<Skip>,
    /// Cases that failed.
    pub failed: usize,
    /// Cases whose every run measured the same bytes as the last time, where Criterion's
    /// analysis cannot draw its t-test (see `group::is_equal_samples_panic`).
    pub same_bytes: usize,
}

impl Outcome {
    /// A case that did not run: a skip (printed, recorded in the journal with its reason)
    /// or a failure.
    fn record_error(&mut self, id: String, e: CaseError, journal: Option<&mut Journal>) {
        match e {
            CaseError::Skipped(why) => {
                println!("{id}: skipped: {why}");
                let skip = Skip { id, reason: why };
                if let Some(journal) = journal {
                    if let Err(e) = journal.record(Entry::Skip(skip.clone())) {
                        eprintln!("taskmem: {}: {e}", skip.id);
                        self.failed += 1;
                    }
                }
                self.skipped.push(skip);
            }
            CaseError::Failed(why) => {
                eprintln!("taskmem: {id}: failed: {why}");
                self.failed += 1;
            }
        }
    }
}

/// The end-of-run table: bytes per task of every pair in the summary.
fn print_table(s: &summary::Summary) {
    println!(
        "\n{:<30} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "bytes per task (slope)", "resident", "allocated", "usable", "rss", "future"
    );
    for p in &s.pairs {
        let g = |k: &str| {
            p.bytes_per_task
                .get(k)
                .map_or("-".into(), |v| format!("{v:.0}"))
        };
        println!(
            "{:<30} {:>10} {:>10} {:>10} {:>10} {:>8}",
            p.id,
            g("resident"),
            g("allocated"),
            g("usable"),
            g("rss"),
            p.future_size.map_or("-".into(), |f| f.to_string())
        );
    }
    for skip in &s.skipped {
        println!("{:<30} skipped: {}", skip.id, skip.reason);
    }
    print_breakdown(s);
    print_bounded(s);
}

/// The breakdown table: where each task's bytes go, per async pair that is not bounded.
fn print_breakdown(s: &summary::Summary) {
    let rows: Vec<(&str, summary::Breakdown)> = s
        .pairs
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.breakdown?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    println!(
        "\n{:<38} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12}",
        "where each task's bytes go (B/task)",
        "measured",
        "future",
        "heap",
        "header",
        "(plain)",
        "rounding",
        "lg pad",
        "unexplained"
    );
    for (id, b) in rows {
        println!(
            "{:<38} {:>9.0} {:>8.0} {:>8.0} {:>8.0} {:>8} {:>8.0} {:>8.0} {:>6.0} {:>4.1}%",
            id,
            b.measured,
            b.future,
            b.heap_payload.unwrap_or(0.0),
            b.header.unwrap_or(b.beyond_future),
            b.header_plain.map_or("-".into(), |h| format!("{h:.0}")),
            b.size_class_rounding,
            b.large_pad,
            b.unexplained,
            b.unexplained_percent,
        );
    }
}

/// The bounded pairs: bytes at the peak at every N (flat when the bound holds), and per live
/// task.
fn print_bounded(s: &summary::Summary) {
    let bounded: Vec<&summary::PairSummary> =
        s.pairs.iter().filter(|p| p.bound.is_some()).collect();
    if bounded.is_empty() {
        return;
    }
    println!(
        "\n{:<38} bytes at the peak by N (reported metric)",
        "bounded concurrency"
    );
    for p in bounded {
        let by_n: Vec<String> = p
            .cases
            .iter()
            .map(|c| format!("N={}: {}", c.n, format_bytes(c.value.median)))
            .collect();
        println!(
            "{:<38} {} | {} per live task",
            p.id,
            by_n.join("  "),
            p.bytes_per_live_task.map_or("-".into(), format_bytes)
        );
    }
}
