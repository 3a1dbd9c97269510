//! The spawn-time suite as a Criterion bench: the time side of every case of the matrix.
//!
//! [`main`] is the whole `spawn_time` bench binary. Per case (the memory suite's matrix, ids
//! and sizes: `tokio-mt/spawn/100000` is group `tokio-mt`, function `spawn`, parameter
//! 100000) Criterion measures with its ordinary wall-clock measurement the time from just
//! before the first task is created to every task alive and pending, with
//! `Throughput::Elements(N)` so its `thrpt` line reads tasks per second; the tasks are then
//! released as the memory suite releases them, untimed ([`crate::timing`]). After each
//! runtime's cases, one wake-up lateness run per runtime x strategy pair: N tasks
//! (`TASKMEM_LATENESS_TASKS`, default 1,000) each sleeping `TASKMEM_LATENESS_SLEEP` (default
//! 10 ms) and really completing.
//!
//! Criterion writes under `<criterion home>/spawn_time/` (`target/criterion/spawn_time/`),
//! so the memory suite's history under the same ids is not mixed with times; taskmem writes
//! `target/taskmem/time.json` and prints ns per task, tasks per second and lateness. It reads
//! the cores' round trip ([`crate::cores`]) before and after each case, and after each of
//! Criterion's calls of 50 ms or more (the 1M cases' samples), and keeps the readings with
//! the case's times: the state of the machine they were taken in.
//!
//! Settings: 10 samples, flat sampling, 100 ms warm-up and 300 ms measurement per case (a
//! 1M case makes one run per sample regardless, and Criterion warns that it could not finish
//! in 300 ms: expected). `TASKMEM_SIZES` and Criterion's filter select cases as for the
//! memory suite.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use crate::config::{Config, parse_duration, parse_size};
use crate::fail::exit_with;
use crate::matrix::{self, Case, Runtime};
use crate::report::{format_count, format_seconds};
use crate::timing::{self, LATENESS_SLEEP, LATENESS_TASKS, LatenessSummary, SpawnTime};
use crate::workload::{CaseError, Driver, RunOptions};
use taskmem::summary::Skip;

/// Settings of the lateness runs, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatenessConfig {
    /// Tasks per lateness run (`TASKMEM_LATENESS_TASKS`); 0 turns the runs off.
    pub tasks: usize,
    /// Each task's sleep (`TASKMEM_LATENESS_SLEEP`).
    pub sleep: Duration,
}

impl LatenessConfig {
    /// From `TASKMEM_LATENESS_TASKS` (a task count, or `0`/`off`) and
    /// `TASKMEM_LATENESS_SLEEP` (e.g. `10ms`); one-line errors naming the variable.
    pub fn from_env() -> Result<LatenessConfig, String> {
        Self::from_values(
            std::env::var("TASKMEM_LATENESS_TASKS").ok().as_deref(),
            std::env::var("TASKMEM_LATENESS_SLEEP").ok().as_deref(),
        )
    }

    /// From the two variables' values.
    pub fn from_values(tasks: Option<&str>, sleep: Option<&str>) -> Result<LatenessConfig, String> {
        let tasks = match tasks.map(str::trim) {
            None | Some("") => LATENESS_TASKS,
            Some("0" | "off") => 0,
            Some(t) => parse_size(t).map_err(|e| format!("TASKMEM_LATENESS_TASKS: {e}"))?,
        };
        let sleep = match sleep.map(str::trim) {
            None | Some("") => LATENESS_SLEEP,
            Some(s) => parse_duration(s).map_err(|e| format!("TASKMEM_LATENESS_SLEEP: {e}"))?,
        };
        Ok(LatenessConfig { tasks, sleep })
    }
}

/// A Criterion configured for the spawn-time bench, before the command line.
pub fn criterion() -> Criterion<WallTime> {
    Criterion::default()
        .sample_size(taskmem::SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(300))
        .nresamples(taskmem::NRESAMPLES)
        .output_directory(&crate::baseline::criterion_home().join("spawn_time"))
}

/// The bench binary's `main`.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env_and_args(&args).unwrap_or_else(|e| exit_with(&e, 2));
    let lateness = LatenessConfig::from_env().unwrap_or_else(|e| exit_with(&e, 2));
    // A filter that matches no case: one line and exit code 2, before anything runs and
    // before time.json is read or written.
    if let Err(no) = config.select(
        "cargo bench --bench spawn_time",
        &timed_cases(&config.sizes),
    ) {
        no.exit();
    }
    let mut criterion = criterion().configure_from_args();
    let outcome = run(&mut criterion, &config, &lateness);
    criterion.final_summary();
    if config.list_only() {
        return;
    }
    let path = timing::default_path();
    let merged = timing::merge(
        timing::load(&path).ok(),
        outcome.cases,
        outcome.lateness,
        outcome.skipped,
    );
    match serde_json::to_vec_pretty(&merged) {
        Ok(json) => match taskmem::summary::write_atomic(&path, &json) {
            Ok(()) => println!("taskmem: times written to {}", path.display()),
            Err(e) => exit_with(&e, 1),
        },
        Err(e) => exit_with(&format!("cannot encode the times: {e}"), 1),
    }
    print!("{}", table(&merged));
    if outcome.failed > 0 {
        exit_with(&format!("{} case(s) failed", outcome.failed), 1);
    }
}

/// What a spawn-time run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Cases timed.
    pub cases: Vec<SpawnTime>,
    /// Lateness runs.
    pub lateness: Vec<LatenessSummary>,
    /// Cases or pairs skipped, with reasons.
    pub skipped: Vec<Skip>,
    /// Cases or lateness runs that failed.
    pub failed: usize,
}

/// The cases this bench times at `sizes`, before the filter. Not the bounded strategies: they
/// create only K of their N tasks before the peak, so their time to all-pending is not N
/// tasks' (their bytes are the memory suite's).
fn timed_cases(sizes: &[usize]) -> Vec<Case> {
    matrix::cases(sizes)
        .into_iter()
        .filter(|c| !c.strategy.bounded())
        .collect()
}

/// Times every case of the configuration through `criterion`, then the lateness runs.
pub fn run(
    criterion: &mut Criterion<WallTime>,
    config: &Config,
    lateness: &LatenessConfig,
) -> Outcome {
    let mut outcome = Outcome::default();
    let cases: Vec<Case> = timed_cases(&config.sizes)
        .into_iter()
        .filter(|c| config.filter.matches(&c.id()))
        .collect();
    for runtime in Runtime::ALL {
        let mine: Vec<Case> = cases
            .iter()
            .copied()
            .filter(|c| c.runtime == runtime)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut group = criterion.benchmark_group(runtime.id());
        if config.list_only() {
            for case in &mine {
                group.bench_with_input(
                    BenchmarkId::new(case.strategy.id(), case.n),
                    case,
                    |b, _| b.iter_custom(|_| Duration::from_nanos(1)),
                );
            }
            group.finish();
            continue;
        }
        let driver = match Driver::new(runtime) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("taskmem: {runtime}: {e}");
                outcome.failed += mine.len();
                continue;
            }
        };
        group.sampling_mode(SamplingMode::Flat);
        for case in &mine {
            match time_case(&mut group, &driver, case, config.sample_size) {
                Ok(t) => {
                    println!(
                        "{:<40} {} per task, {} tasks/s (time to all-pending, median of {} samples; cv {:.1}%; cores' round trip {})",
                        "",
                        format_ns(t.ns_per_task),
                        format_rate(t.tasks_per_second),
                        config.sample_size,
                        t.seconds.cv_percent,
                        crate::cores::span(&t.round_trip_ns)
                    );
                    outcome.cases.push(t);
                }
                Err(CaseError::Skipped(why)) => {
                    println!("{}: skipped: {why}", case.id());
                    outcome.skipped.push(Skip {
                        id: case.id(),
                        reason: why,
                    });
                }
                Err(CaseError::Failed(why)) => {
                    eprintln!("taskmem: {}: failed: {why}", case.id());
                    outcome.failed += 1;
                }
            }
        }
        group.finish();
        if lateness.tasks == 0 {
            continue;
        }
        let mut pairs: Vec<_> = mine.iter().map(Case::pair).collect();
        pairs.dedup();
        for pair in pairs {
            let case = Case::new(pair.runtime, pair.strategy, lateness.tasks);
            let id = format!("lateness:{}", pair.id());
            match timing::lateness_run(&driver, &case, lateness.sleep) {
                Ok(l) => {
                    println!(
                        "{:<40} lateness of {} tasks sleeping {}: p50 {} p99 {} max {}; total {:.1} ms",
                        pair.id(),
                        l.lateness.tasks,
                        humantime::format_duration(lateness.sleep),
                        format_us(l.lateness.p50_us),
                        format_us(l.lateness.p99_us),
                        format_us(l.lateness.max_us),
                        l.total_ms
                    );
                    outcome.lateness.push(l);
                }
                Err(CaseError::Skipped(why)) => {
                    println!("{id}: skipped: {why}");
                    outcome.skipped.push(Skip { id, reason: why });
                }
                Err(CaseError::Failed(why)) => {
                    eprintln!("taskmem: {id}: failed: {why}");
                    outcome.failed += 1;
                }
            }
        }
    }
    outcome
}

/// One case through Criterion: a first run decides whether the case can run here, then
/// Criterion's warm-up and samples; the last `sample_size` calls are the samples.
fn time_case(
    group: &mut criterion::BenchmarkGroup<'_, WallTime>,
    driver: &Driver,
    case: &Case,
    sample_size: usize,
) -> Result<SpawnTime, CaseError> {
    let opts = RunOptions::default();
    let once = || {
        let _guard = crate::workload::exclusive();
        driver.time_to_peak(case, &opts, &mut || {})
    };
    // The cores' round trip before and after the case, and after each of Criterion's calls
    // of 50 ms or more (the 1M cases' samples: a reading takes a few ms, which would shorten
    // the warm-up's estimate of a short call), outside the time each call returns.
    let mut trips = vec![crate::cores::round_trip()];
    once()?;
    let mut calls: Vec<(Duration, u64)> = Vec::new();
    group.throughput(Throughput::Elements(case.n as u64));
    group.bench_with_input(
        BenchmarkId::new(case.strategy.id(), case.n),
        case,
        |b, case| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    match once() {
                        Ok(t) => total += t,
                        Err(e) => exit_with(&format!("{}: {e}", case.id()), 1),
                    }
                }
                calls.push((total, iters));
                if total >= Duration::from_millis(50) {
                    trips.push(crate::cores::round_trip());
                }
                total
            })
        },
    );
    trips.push(crate::cores::round_trip());
    if calls.is_empty() {
        return Err(CaseError::Failed("Criterion ran no measurement".into()));
    }
    let samples = &calls[calls.len().saturating_sub(sample_size)..];
    let mut time = SpawnTime::of(case, samples);
    time.round_trip_ns = crate::cores::readings(trips);
    Ok(time)
}

/// Nanoseconds in the report's units (`97.4 ns`, `1.25 ms`).
fn format_ns(ns: f64) -> String {
    format_seconds(ns / 1e9)
}

/// Microseconds in the report's units.
fn format_us(us: f64) -> String {
    format_seconds(us / 1e6)
}

/// Tasks per second with the report's K/M suffixes.
fn format_rate(per_second: f64) -> String {
    format_count(per_second)
}

/// The end-of-run tables: time per task of every case, then lateness of every pair.
pub fn table(s: &timing::TimeSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<34} {:>12} {:>12} {:>14}",
        "time to all-pending", "median", "per task", "tasks/s"
    );
    for c in &s.cases {
        let _ = writeln!(
            out,
            "{:<34} {:>12} {:>12} {:>14}",
            c.id,
            format_ns(c.seconds.median * 1e9),
            format_ns(c.ns_per_task),
            format_rate(c.tasks_per_second)
        );
    }
    if !s.lateness.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<30} {:>7} {:>8} {:>10} {:>10} {:>10} {:>11}",
            "wake-up lateness", "tasks", "sleep", "p50", "p99", "max", "total"
        );
        for l in &s.lateness {
            let _ = writeln!(
                out,
                "{:<30} {:>7} {:>8} {:>10} {:>10} {:>10} {:>11}",
                l.id,
                l.lateness.tasks,
                format!("{} ms", l.sleep_ms),
                format_us(l.lateness.p50_us),
                format_us(l.lateness.p99_us),
                format_us(l.lateness.max_us),
                format!("{:.1} ms", l.total_ms)
            );
        }
    }
    for k in &s.skipped {
        let _ = writeln!(out, "{:<30} skipped: {}", k.id, k.reason);
    }
    out
}
