//! Releasing after the peak does not change the peak: for one strategy of each runtime, the
//! figure a cancelled run reports equals the highest level of a run whose tasks really sleep
//! and complete, within 2 %.
//!
//! The completed run's highest level is found exactly for the allocated bytes (the counting
//! allocator tracks its maximum over the whole run) and by sampling every millisecond for
//! jemalloc's resident bytes.
//!
//! OS threads are the one exception for allocated bytes: while threads are still being
//! spawned, the closures of threads not yet started are boxed beside the per-thread data of
//! those already running, so a completing run's highest allocated level sits above the level
//! with every thread alive (the level the suite reports; for threads it reports RSS by
//! default). For threads the allocated check is one-sided: the lowest cancelled figure must
//! not exceed the highest completed level (a threads run's allocated bytes also move between
//! levels ~16 KB apart from run to run).

use crate::serial;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use taskmem::sample;
use taskmem::{alloc, probe};
use taskmem_suite::matrix::Case;
use taskmem_suite::workload::{self, Driver, Release, RunOptions, exclusive};

const N: usize = 50_000;
const SLEEP: Duration = Duration::from_millis(400);
/// Runs on each side; their medians are compared. Five, not three: async-std spawn's resident
/// bytes move by ~2 % run to run (timers land in async-io's B-tree in whatever order the
/// executor threads polled them), and medians of three still crossed the bound 1 run in 10.
const RUNS: usize = 5;

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (resident, allocated, rss) growth: the highest seen during a run whose tasks complete.
fn completed_peak(driver: &Driver, case: &Case) -> (f64, f64, f64) {
    let _guard = exclusive();
    sample::quiesce();
    probe::settle().unwrap();
    let before = probe::snapshot().unwrap();
    let stop = AtomicBool::new(false);
    let max_resident = AtomicU64::new(0);
    let max_rss = AtomicU64::new(0);
    alloc::track_peak();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let now = probe::snapshot().unwrap();
                max_resident.fetch_max(now.resident, Ordering::Relaxed);
                max_rss.fetch_max(now.rss, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let opts = RunOptions {
            sleep: SLEEP,
            release: Release::Complete,
            ..RunOptions::default()
        };
        let mut reached = false;
        driver
            .run(case, &opts, &mut || {
                sample::quiesce();
                reached = true;
            })
            .unwrap();
        assert!(
            reached,
            "{}: the completed run never reached its peak",
            case.id()
        );
        stop.store(true, Ordering::Relaxed);
    });
    let peak_allocated = alloc::take_peak() - before.requested;
    let peak_resident = max_resident.load(Ordering::Relaxed) as i64 - before.resident as i64;
    let peak_rss = max_rss.load(Ordering::Relaxed) as i64 - before.rss as i64;
    (peak_resident as f64, peak_allocated as f64, peak_rss as f64)
}

fn check(case: &str) {
    let _serial = serial();
    let case: Case = case.parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    // The first run of a process also starts global executors and their threads: warm up.
    workload::measure(&driver, &case, &RunOptions::default()).unwrap();
    // Medians of RUNS runs on each side: a single run moves by up to 2-3 % in its own bytes
    // (async-std's timer tree, 2000 threads' start-up), which is not what this test is about.
    let cancelled: Vec<_> = (0..RUNS)
        .map(|_| workload::measure(&driver, &case, &RunOptions::default()).unwrap())
        .collect();
    let completed: Vec<_> = (0..RUNS).map(|_| completed_peak(&driver, &case)).collect();
    let allocated = (
        median(cancelled.iter().map(|s| s.requested as f64)),
        median(completed.iter().map(|c| c.1)),
    );
    let mut compared = vec![(
        "resident",
        median(cancelled.iter().map(|s| s.resident as f64)),
        median(completed.iter().map(|c| c.0)),
    )];
    if case.runtime == taskmem_suite::matrix::Runtime::Os {
        // Spawn-time transients raise a completing run's allocated maximum (module doc), and
        // a threads run's own allocated bytes move between levels ~16 KB apart (2.5 % at
        // 2000 threads; a clean-clone CI run read 548 KB cancelled against 535 KB completed
        // medians): the lowest cancelled run must not be above the highest completed level.
        let lowest_cancelled = cancelled
            .iter()
            .map(|s| s.requested as f64)
            .fold(f64::INFINITY, f64::min);
        let highest_completed = completed.iter().map(|c| c.1).fold(0.0, f64::max);
        assert!(
            lowest_cancelled <= highest_completed * 1.02,
            "{}: allocated cancelled {lowest_cancelled} B (lowest of {RUNS}) is above the \
             completed peak {highest_completed} B (highest of {RUNS}); medians {} B and {} B",
            case.id(),
            allocated.0,
            allocated.1
        );
        // Threads report RSS by default: their stacks are not jemalloc's.
        compared.push((
            "rss",
            median(cancelled.iter().map(|s| s.rss as f64)),
            median(completed.iter().map(|c| c.2)),
        ));
    } else {
        compared.push(("allocated", allocated.0, allocated.1));
    }
    for (name, cancelled, completed) in compared {
        let diff = (cancelled - completed).abs() / completed;
        assert!(
            diff <= 0.02,
            "{}: {name} cancelled {cancelled} B vs completed peak {completed} B ({:.2} %)",
            case.id(),
            diff * 100.0
        );
    }
}

#[test]
fn tokio_current_thread_join_all_peak_is_the_same_cancelled_or_completed() {
    check(&format!("tokio-ct/join_all/{N}"));
}

#[test]
fn tokio_multi_thread_spawn_peak_is_the_same_cancelled_or_completed() {
    check(&format!("tokio-mt/spawn/{N}"));
}

#[test]
fn async_std_spawn_peak_is_the_same_cancelled_or_completed() {
    check(&format!("async-std/spawn/{N}"));
}

#[test]
fn smol_spawn_peak_is_the_same_cancelled_or_completed() {
    check(&format!("smol/spawn/{N}"));
}

#[test]
fn os_threads_peak_is_the_same_cancelled_or_completed() {
    check("os/threads/2000");
}
