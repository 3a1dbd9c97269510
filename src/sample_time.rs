//! How long the memory suite takes per sample, as a Criterion bench of the suite itself.
//!
//! [`main`] is the whole `sample_time` bench binary (`cargo bench --bench sample_time`). Per
//! case of the memory suite's configuration (`TASKMEM_SIZES`, `TASKMEM_PAYLOAD`, Criterion's
//! filter, the same ids) Criterion times, with its ordinary wall-clock measurement, exactly
//! what one sample of the memory suite does: a whole measured run (read, create the N tasks,
//! reach the peak, read, release; from fresh pages or on the pages the run before freed, as
//! the suite runs the case). Settings as the memory suite's: 10 samples of one run each.
//! Criterion writes under `<criterion home>/sample_time/`.
//!
//! At the end a markdown table sets each case's median time per sample beside its time to
//! all-pending from the last `cargo bench --bench spawn_time` (`target/taskmem/time.json`):
//! the floor of a sample is creating the tasks, then freeing them. That bench runs on
//! jemalloc's default options, which keep freed pages for 10 s, so its runs reuse the last
//! run's pages, as the memory suite's runs do after the first of each case (a case with a
//! payload, and OS threads, start every run from fresh pages: see `Tasks::reuse_pages`).
//! The table also has the time to all-pending in this binary, on the memory suite's
//! allocator, from pages returned to the OS first: what every page fault of a run from fresh
//! pages costs.
//!
//! Its last column is the cores' round trip ([`crate::cores`]) each of the three times was
//! taken at: `spawn_time`'s readings, and this bench's, read before each case, after each
//! of Criterion's calls (its warm-up's too) and after each run from fresh pages, outside the
//! times. On a virtual machine the host can place the vCPUs differently between the two
//! benches or during either, and cases whose threads pass cache lines per task (tokio-mt's)
//! then run slower. A ratio of two times taken at median round trips more than 2x apart is
//! marked `*`, and a line under the table says what the mark means.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkId, Criterion, SamplingMode};

use crate::config::Config;
use crate::fail::exit_with;
use crate::matrix::{Case, Runtime};
use crate::workload::{Driver, RunOptions};
use taskmem::summary::Stats;

/// A Criterion for the sample-time bench, before the command line: the memory suite's sample
/// count and one run per sample.
pub fn criterion() -> Criterion<WallTime> {
    taskmem::quiet_stderr::Silence::during(Criterion::default)
        .sample_size(taskmem::SAMPLE_SIZE)
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_nanos(1))
        .nresamples(taskmem::NRESAMPLES)
        .output_directory(&crate::baseline::criterion_home().join("sample_time"))
}

/// The bench binary's `main`.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env_and_args(&args).unwrap_or_else(|e| exit_with(&e, 2));
    // A filter that matches no case: one line and exit code 2, before anything runs.
    let cases = config
        .select(
            "cargo bench --bench sample_time",
            &config.unfiltered_cases(),
        )
        .unwrap_or_else(|no| no.exit());
    if let Err(e) = taskmem::probe::check() {
        exit_with(&e.to_string(), 1);
    }
    let mut criterion = criterion().configure_from_args();
    let mut timed: Vec<(String, Timed)> = Vec::new();
    for runtime in Runtime::ALL {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.runtime == runtime).collect();
        if mine.is_empty() {
            continue;
        }
        let mut group = criterion.benchmark_group(runtime.id());
        group.sampling_mode(SamplingMode::Flat);
        if config.list_only() {
            // The ids the cases are measured under (group/function/N), as Criterion filters;
            // no runtime is built to list them.
            for case in mine {
                let id = BenchmarkId::new(case.pair().function_id(), case.n);
                group.bench_with_input(id, case, |b, _| b.iter_custom(|_| Duration::from_nanos(1)));
            }
            group.finish();
            continue;
        }
        let driver = Driver::new(runtime).unwrap_or_else(|e| exit_with(&e.to_string(), 1));
        for case in mine {
            if let Some(stats) = time_case(&mut group, &driver, case, config.sample_size) {
                timed.push((case.id(), stats));
            }
        }
        group.finish();
    }
    criterion.final_summary();
    if !timed.is_empty() {
        let floors = crate::timing::load(&crate::timing::default_path()).ok();
        print!("{}", table(&timed, floors.as_ref()));
    }
}

/// One case: Criterion's warm-up and samples, each one measured run; the median over the
/// last `sample_size` runs, in seconds. `None` when Criterion's filter left it out.
fn time_case(
    group: &mut criterion::BenchmarkGroup<'_, WallTime>,
    driver: &Driver,
    case: &Case,
    sample_size: usize,
) -> Option<Timed> {
    let opts = RunOptions::default();
    if let Err(e) = crate::limits::check_case(case, None) {
        println!("{}: skipped: {e}", case.id());
        return None;
    }
    // As the memory suite does at the start of each case.
    if let Err(e) = taskmem::sample::return_held_pages() {
        crate::fail::exit_with(&e.to_string(), 1);
    }
    // The cores' round trip before the case and after each of Criterion's calls (its
    // warm-up's too), outside the time each call returns.
    let mut trips = vec![crate::cores::round_trip()];
    let mut runs: Vec<f64> = Vec::new();
    let mut silence = taskmem::quiet_stderr::Silence::default();
    let id = BenchmarkId::new(case.pair().function_id(), case.n);
    group.bench_with_input(id, case, |b, case| {
        silence.stop();
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                if let Err(e) = driver.measure(case, &opts) {
                    exit_with(&format!("{}: {e}", case.id()), 1);
                }
            }
            let elapsed = start.elapsed();
            runs.push(elapsed.as_secs_f64() / iters.max(1) as f64);
            trips.push(crate::cores::round_trip());
            elapsed
        });
        // Criterion's "Unable to complete 10 samples" (one run per sample, as designed).
        if runs.len() == 1 {
            silence.silence();
        }
    });
    silence.stop();
    if runs.is_empty() {
        return None;
    }
    let mut fresh_trips = Vec::new();
    let fresh: Vec<f64> = (0..sample_size)
        .map(|_| {
            let _guard = crate::workload::exclusive();
            if let Err(e) = taskmem::sample::return_held_pages() {
                crate::fail::exit_with(&e.to_string(), 1);
            }
            let time = match driver.time_to_peak(case, &opts, &mut || {}) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => exit_with(&format!("{}: {e}", case.id()), 1),
            };
            fresh_trips.push(crate::cores::round_trip());
            time
        })
        .collect();
    Some(Timed {
        per_sample: Stats::of(&runs[runs.len().saturating_sub(sample_size)..]),
        fresh_pages: Stats::of(&fresh),
        round_trip_ns: crate::cores::readings(trips),
        fresh_round_trip_ns: crate::cores::readings(fresh_trips),
    })
}

/// One case's times.
#[derive(Debug, Clone)]
pub struct Timed {
    /// Wall time of one sample of the memory suite (one measured run).
    pub per_sample: Stats,
    /// Time to all-pending on the memory suite's allocator, from pages returned to the OS
    /// first: creation with fresh pages, as in a measured run that does not reuse pages.
    pub fresh_pages: Stats,
    /// One cache line's round trip between two CPUs (ns), read before the case's runs and
    /// after each of Criterion's calls, its warm-up's too ([`crate::cores`]).
    pub round_trip_ns: Vec<f64>,
    /// The same, read after each run from fresh pages.
    pub fresh_round_trip_ns: Vec<f64>,
}

/// The markdown table: median time per sample beside the time to all-pending from
/// `floors` (`target/taskmem/time.json`, when it has the case), and beside the time to
/// all-pending with fresh pages; then the cores' round trip each of the three was taken at.
/// A ratio of two times taken at median round trips more than 2x apart is marked `*`, and
/// a line under the table says what that means.
pub fn table(timed: &[(String, Timed)], floors: Option<&crate::timing::TimeSummary>) -> String {
    use crate::cores::{apart, span};
    let mut out = String::from(
        "\n| case | per sample, memory suite | time to all-pending (spawn_time) | ratio | all-pending, fresh pages | ratio | cores' round trip: spawn_time / samples / fresh pages |\n|---|---|---|---|---|---|---|\n",
    );
    let mut marked = false;
    let mut mark = |ratio: String, one: &[f64], other: &[f64]| {
        if !ratio.is_empty() && apart(one, other) {
            marked = true;
            format!("{ratio}*")
        } else {
            ratio
        }
    };
    for (id, t) in timed {
        let stats = &t.per_sample;
        let floor = floors.and_then(|f| f.cases.iter().find(|c| &c.id == id));
        let (floor_text, ratio, floor_trips) = match floor {
            Some(f) if f.seconds.median > 0.0 => (
                seconds(f.seconds.median),
                format!("{:.1}", stats.median / f.seconds.median),
                f.round_trip_ns.as_slice(),
            ),
            _ => (
                "(run `cargo bench --bench spawn_time`)".to_string(),
                String::new(),
                &[][..],
            ),
        };
        let ratio = mark(ratio, floor_trips, &t.round_trip_ns);
        let fresh = t.fresh_pages.median;
        let fresh_ratio = if fresh > 0.0 {
            format!("{:.1}", stats.median / fresh)
        } else {
            String::new()
        };
        let fresh_ratio = mark(fresh_ratio, &t.round_trip_ns, &t.fresh_round_trip_ns);
        out.push_str(&format!(
            "| {id} | {} | {floor_text} | {ratio} | {} | {fresh_ratio} | {} / {} / {} |\n",
            seconds(stats.median),
            seconds(fresh),
            span(floor_trips),
            span(&t.round_trip_ns),
            span(&t.fresh_round_trip_ns),
        ));
    }
    if marked {
        out.push_str(
            "\n*: the two times were taken at median round trips more than 2x apart, in two \
             states of the machine (on a virtual machine, for one, where the host put the \
             vCPUs); cases whose threads pass cache lines per task, tokio-mt's above all, run \
             slower at a higher round trip.\n",
        );
    }
    out
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Strategy;

    fn timed(per_sample: f64, round_trip_ns: Vec<f64>) -> Timed {
        Timed {
            per_sample: Stats::of(&[per_sample]),
            fresh_pages: Stats::of(&[per_sample]),
            fresh_round_trip_ns: round_trip_ns.clone(),
            round_trip_ns,
        }
    }

    #[test]
    fn a_ratio_across_two_states_of_the_cores_is_marked_and_explained() {
        let case = Case::new(Runtime::TOKIO_MT, Strategy::SPAWN, 1_000_000);
        let mut floor = crate::timing::SpawnTime::of(&case, &[(Duration::from_millis(200), 1)]);
        floor.round_trip_ns = vec![61.0, 63.0];
        let floors = crate::timing::merge(None, vec![floor], Vec::new(), Vec::new());
        let id = case.id();

        // One slow reading among the samples' is not another state.
        let same = table(
            &[(id.clone(), timed(0.36, vec![60.0, 64.0, 330.0]))],
            Some(&floors),
        );
        assert!(same.contains("| 1.8 |"), "{same}");
        assert!(
            same.contains("| 61-63 ns / 60-330 ns / 60-330 ns |"),
            "{same}"
        );
        assert!(!same.contains('*'), "{same}");

        let apart = table(
            &[(id, timed(0.72, vec![61.0, 334.0, 330.0]))],
            Some(&floors),
        );
        assert!(apart.contains("| 3.6* |"), "{apart}");
        assert!(
            apart.contains("| 1.0 |"),
            "fresh runs at the samples' state: {apart}"
        );
        assert!(
            apart.contains("\n*: the two times were taken at median round trips more than 2x"),
            "{apart}"
        );
    }

    #[test]
    fn a_case_without_a_floor_says_how_to_get_one() {
        let t = table(
            &[("smol/spawn/10000".into(), timed(0.01, Vec::new()))],
            None,
        );
        assert!(t.contains("(run `cargo bench --bench spawn_time`)"), "{t}");
        assert!(t.contains("| - / - / - |"), "{t}");
    }
}
