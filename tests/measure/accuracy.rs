//! Accuracy: tasks that each hold a known heap size are found by every metric.
//!
//! Each case runs in pairs at the same N, with tasks of the same shape: in one run each task
//! allocates, fills and holds `PAYLOAD` bytes across its sleep, in the other it holds an empty
//! `Vec`. The median difference divided by N must be `PAYLOAD` within 2 % for the resident,
//! allocated and RSS metrics.

use crate::serial;

use std::time::Duration;

use taskmem::sample::Metric;
use taskmem::{Runtime, Sample, Strategy, Tasks};
use taskmem_suite::matrix::Case;
use taskmem_suite::workload::{self, Driver, RunOptions};

const PAYLOAD: usize = 1024;

/// Pairs of runs (without payload, with payload), after one warm-up pair.
const PAIRS: usize = 7;

/// The median over interleaved pairs of the payload run's growth minus the plain run's, for
/// each metric of [`Metric::ALL`] (in that order): pairing cancels slow drift in the
/// allocator's state between runs. Every run reads all three metrics, so one set of pairs
/// serves them all.
fn median_differences(
    driver: &Driver,
    case: &Case,
    plain: &RunOptions,
    loaded: &RunOptions,
) -> [f64; Metric::ALL.len()] {
    let run = |opts: &RunOptions| workload::measure(driver, case, opts).expect("case runs");
    run(plain);
    run(loaded);
    let pairs: Vec<_> = (0..PAIRS).map(|_| (run(plain), run(loaded))).collect();
    Metric::ALL.map(|metric| {
        let mut diffs: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| {
                let bytes = |s: &Sample| s.value(metric).unwrap().bytes as f64;
                bytes(b) - bytes(a)
            })
            .collect();
        diffs.sort_by(f64::total_cmp);
        diffs[PAIRS / 2]
    })
}

fn check(case: &str) {
    check_with(case, PAYLOAD, &[])
}

/// Checks every metric within 2 %, except those in `loose`, checked within the given bound.
fn check_with(case: &str, payload: usize, loose: &[(Metric, f64)]) {
    let _serial = serial();
    let case: Case = case.parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    let plain = RunOptions {
        payload: Some(0),
        ..RunOptions::default()
    };
    let loaded = RunOptions {
        payload: Some(payload),
        ..RunOptions::default()
    };
    let differences = median_differences(&driver, &case, &plain, &loaded);
    for (metric, difference) in Metric::ALL.into_iter().zip(differences) {
        let per_task = difference / case.n as f64;
        let error = (per_task - payload as f64).abs() / payload as f64;
        let bound = loose
            .iter()
            .find(|(m, _)| *m == metric)
            .map_or(0.02, |(_, b)| *b);
        assert!(
            error <= bound,
            "{}: {metric} found {per_task:.1} B per task of a {payload} B payload ({:.2} % off)",
            case.id(),
            error * 100.0
        );
    }
}

#[test]
fn tokio_current_thread_join_all_finds_the_payload() {
    check("tokio-ct/join_all/20000");
}

#[test]
fn tokio_multi_thread_spawn_finds_the_payload() {
    check("tokio-mt/spawn/20000");
}

#[test]
fn tokio_joinset_finds_the_payload() {
    check("tokio-mt/joinset/20000");
}

#[test]
fn async_std_spawn_finds_the_payload() {
    check("async-std/spawn/20000");
}

#[test]
fn smol_futures_unordered_finds_the_payload() {
    check("smol/futures_unordered/20000");
}

#[test]
fn smol_spawn_finds_the_payload() {
    check("smol/spawn/20000");
}

/// Threads cost tens of KiB each (stack, jemalloc's per-thread cache), which vary by a few
/// pages from run to run: an 8 KiB payload (still a slab size class) keeps the signal above
/// that noise. jemalloc's resident bytes find it 2-3 % low with thread caches on (each
/// thread's cache holds a little less in the payload runs; with `tcache:false` the gap
/// closes, see the next test), so resident is held to 5 % here.
#[test]
fn os_threads_find_the_payload() {
    check_with("os/threads/2000", 8 * 1024, &[(Metric::Resident, 0.05)]);
}

/// The resident metric finds a thread's payload within 2 % once jemalloc's thread caches are
/// off: the test re-runs this binary with `_RJEM_MALLOC_CONF=tcache:false`.
#[test]
fn os_threads_resident_finds_the_payload_without_thread_caches() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "accuracy::threads_without_thread_caches",
            "--test-threads=1",
        ])
        .env("_RJEM_MALLOC_CONF", "tcache:false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// Run by the test above, in a process whose jemalloc has no thread caches.
#[test]
#[ignore = "run by os_threads_resident_finds_the_payload_without_thread_caches"]
fn threads_without_thread_caches() {
    check_with("os/threads/2000", 8 * 1024, &[]);
}

#[test]
fn tokio_sequential_allocates_size_of_sleep_per_task() {
    let _serial = serial();
    let size = size_of::<tokio::time::Sleep>() as f64;
    let driver = Driver::new(taskmem_suite::matrix::Runtime::TOKIO_CT).unwrap();
    let at = |n: usize| {
        let case = Case::new(
            driver.runtime(),
            taskmem_suite::matrix::Strategy::SEQUENTIAL,
            n,
        );
        let mut v: Vec<i64> = (0..3)
            .map(|_| {
                workload::measure(&driver, &case, &RunOptions::default())
                    .unwrap()
                    .requested
            })
            .collect();
        v.sort_unstable();
        v[1] as f64
    };
    let per_task = (at(40_000) - at(10_000)) / 30_000.0;
    assert!(
        (per_task - size).abs() / size <= 0.01,
        "sequential await allocated {per_task:.1} B per task; size_of::<Sleep>() is {size}"
    );
}

/// A runtime's worker threads outlive a run. With jemalloc's thread caches on, each kept blocks
/// that the last run freed, pinning part-used slabs that the next run filled without growing
/// `stats.resident`: on one tokio-mt runtime, joinset at 10K with a 64-byte inline payload
/// read 13 % low by the 10th run and 35 % low by the 40th. taskmem turns the workers' caches
/// off (taskmem's `probe::runtime_thread`); every run must now find at least the bytes it
/// allocated in jemalloc's size classes.
fn check_no_drift(id: &str) {
    let _serial = serial();
    let case = id
        .parse::<Case>()
        .unwrap()
        .with_payload("p64-inline".parse().unwrap());
    let driver = Driver::new(case.runtime).unwrap();
    for i in 0..40 {
        let s = workload::measure(&driver, &case, &RunOptions::default()).expect("case runs");
        assert!(
            s.resident as f64 >= s.usable as f64 * 0.99,
            "{id}: run {i} found {} resident bytes for {} allocated in size classes",
            s.resident,
            s.usable
        );
    }
}

#[test]
fn repeated_tokio_mt_joinset_runs_do_not_drift() {
    check_no_drift("tokio-mt/joinset/10000");
}

#[test]
fn repeated_tokio_mt_spawn_runs_do_not_drift() {
    check_no_drift("tokio-mt/spawn/10000");
}

/// The process's minor page faults so far.
fn minor_faults() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_minflt
}

/// A run on the pages the run before it freed (`Tasks::reuse_pages(true)`) must read the same
/// resident and RSS bytes as a run from fresh pages (the default), with far fewer page faults.
/// Without leaving the held pages out of the readings, a reusing run reads almost nothing.
fn check_reuse<F, M>(runtime: Runtime, make: M)
where
    M: Fn() -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _serial = serial();
    let fresh = Tasks::new(runtime, Strategy::Spawn, 100_000);
    let reusing = fresh.with_n(100_000).reuse_pages(true);
    let run = |tasks: &Tasks| {
        let faults = minor_faults();
        let s = tasks.measure(&make).expect("the tasks run");
        (s, minor_faults() - faults)
    };
    // The first run also grows what the runtime keeps (its queues, jemalloc's metadata).
    run(&fresh);
    let (mut from_fresh, mut reused) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        from_fresh.push(run(&fresh));
        // The first reusing run after a fresh one starts from fresh pages; the next reuses.
        run(&reusing);
        reused.push(run(&reusing));
    }
    type Run = (Sample, i64);
    let median = |runs: &[Run], f: fn(&Run) -> i64| {
        let mut v: Vec<i64> = runs.iter().map(f).collect();
        v.sort();
        v[v.len() / 2] as f64
    };
    let resident: fn(&Run) -> i64 = |r| r.0.resident;
    let rss: fn(&Run) -> i64 = |r| r.0.rss;
    let metrics = [("resident", resident), ("rss", rss)];
    for (name, f) in metrics {
        let (a, b) = (median(&from_fresh, f), median(&reused, f));
        assert!(
            (b - a).abs() <= a * 0.01,
            "{runtime}: {name} read {a} B from fresh pages and {b} B reusing them"
        );
    }
    let (a, b) = (median(&from_fresh, |r| r.1), median(&reused, |r| r.1));
    assert!(
        b * 2.0 < a,
        "{runtime}: {b} page faults reusing pages against {a} from fresh ones"
    );
}

#[test]
fn runs_that_reuse_freed_pages_read_the_same_bytes_on_tokio_mt() {
    check_reuse(Runtime::TokioMultiThread, || async {
        tokio::time::sleep(Duration::from_secs(10)).await
    });
}

#[test]
fn runs_that_reuse_freed_pages_read_the_same_bytes_on_smol() {
    check_reuse(Runtime::Smol, || async {
        smol::Timer::after(Duration::from_secs(10)).await;
    });
}

/// A bare run (what `taskmem run` and `taskmem sweep` make: `RunOptions::bare`) holds nothing
/// per task beyond the tasks and what their strategy needs: the heap it grows by from just
/// before its tasks are created to its peak equals the measured `allocated` figure of the same
/// case (which leaves taskmem's own first-poll table out: it is allocated before the first
/// reading), within 0.5 %. A run that kept the table grew by (2N).next_power_of_two() x 8 B
/// more (21 B per task at 100K, 16 MiB at 1M) wherever the table had not been grown before.
#[test]
fn a_bare_run_holds_what_the_measurement_counts() {
    let _serial = serial();
    for id in [
        "tokio-mt/spawn/100000",
        "tokio-ct/join_all/100000",
        "smol/spawn/100000",
    ] {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let measured = |_: usize| {
            workload::measure(&driver, &case, &RunOptions::default())
                .expect("case runs")
                .requested as f64
        };
        // The first measurement of a process reads high (its runtime's first use): not kept.
        measured(0);
        let mut m: Vec<f64> = (0..3).map(measured).collect();
        m.sort_by(f64::total_cmp);
        let bare = RunOptions {
            bare: true,
            ..RunOptions::default()
        };
        let _g = workload::exclusive();
        let before = taskmem::alloc::counters().requested;
        let mut at_peak = None;
        driver
            .run(&case, &bare, &mut || {
                at_peak = Some(taskmem::alloc::counters().requested)
            })
            .expect("bare run");
        let grown = (at_peak.expect("reached the peak") - before) as f64;
        let per_task = |b: f64| b / case.n as f64;
        assert!(
            (grown - m[1]).abs() <= 0.005 * m[1],
            "{id}: a bare run grew {:.1} B per task, the measurement counts {:.1}",
            per_task(grown),
            per_task(m[1])
        );
    }
}
