//! Accuracy: tasks that each hold a known heap size are found by every metric.
//!
//! Each case runs twice at the same N, with tasks of the same shape: once each task allocates,
//! fills and holds `PAYLOAD` bytes across its sleep, once it holds an empty `Vec`. The
//! difference divided by N must be `PAYLOAD` within 2 % for the resident, allocated and RSS
//! metrics.

taskmem::use_tracked_jemalloc!();

/// The probes are process-wide: a test that builds or drops a runtime while another
/// measures would move its figures, so the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

use taskmem::matrix::Case;
use taskmem::sample::{self, Metric, Sample};
use taskmem::workload::{Driver, RunOptions};

const PAYLOAD: usize = 1024;

/// Runs kept per variant, after one warm-up run; each metric's median is compared.
const RUNS: usize = 5;

fn samples(driver: &Driver, case: &Case, opts: &RunOptions) -> Vec<Sample> {
    sample::measure(driver, case, opts).expect("warm-up run");
    (0..RUNS)
        .map(|_| sample::measure(driver, case, opts).expect("case runs"))
        .collect()
}

fn median(samples: &[Sample], metric: Metric) -> f64 {
    let mut v: Vec<u64> = samples
        .iter()
        .map(|s| s.value(metric).unwrap().bytes)
        .collect();
    v.sort_unstable();
    v[v.len() / 2] as f64
}

fn check(case: &str) {
    check_with(case, PAYLOAD)
}

fn check_with(case: &str, payload: usize) {
    let _serial = serial();
    let case: Case = case.parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    let plain = samples(
        &driver,
        &case,
        &RunOptions {
            payload: Some(0),
            ..RunOptions::default()
        },
    );
    let loaded = samples(
        &driver,
        &case,
        &RunOptions {
            payload: Some(payload),
            ..RunOptions::default()
        },
    );
    for metric in Metric::ALL {
        let with = median(&loaded, metric);
        let without = median(&plain, metric);
        let per_task = (with - without) / case.n as f64;
        let error = (per_task - payload as f64).abs() / payload as f64;
        assert!(
            error <= 0.02,
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
/// that noise.
#[test]
fn os_threads_find_the_payload() {
    check_with("os/threads/2000", 8 * 1024);
}

#[test]
fn tokio_sequential_allocates_size_of_sleep_per_task() {
    let _serial = serial();
    let size = size_of::<tokio::time::Sleep>() as f64;
    let driver = Driver::new(taskmem::matrix::Runtime::TokioCt).unwrap();
    let at = |n: usize| {
        let case = Case::new(driver.runtime(), taskmem::matrix::Strategy::Sequential, n);
        median(
            &samples(&driver, &case, &RunOptions::default()),
            Metric::Allocated,
        )
    };
    let per_task = (at(40_000) - at(10_000)) / 30_000.0;
    assert!(
        (per_task - size).abs() / size <= 0.01,
        "sequential await allocated {per_task:.1} B per task; size_of::<Sleep>() is {size}"
    );
}
