//! The payload dimension and bounded concurrency, measured.
//!
//! - `size_of_val` of every payload future, on every runtime: exact expectations, so that a
//!   compiler or dependency change that moves a state machine's layout fails here first.
//! - An inline 1 KiB payload adds 1 KiB per task, as every metric measures it (paired runs
//!   against the 0-byte inline payload, as in `tests/measure/accuracy.rs`); a dropped payload adds
//!   nothing at the peak.
//! - Bounded strategies: bytes at the peak do not grow with N, and tasks passing through K at
//!   a time never raise the heap above the first K's peak.
//!
//! Run with: `cargo test --test measure payload::`

use std::time::Duration;

use taskmem::sample::{self, Metric};
use taskmem_suite::matrix::{Case, INLINE_SIZES, Payload, Place, Runtime, Strategy};
use taskmem_suite::workload::{self, Driver, Release, RunOptions, future_size};

use crate::serial;

fn size(runtime: Runtime, strategy: Strategy, payload: Option<&str>) -> usize {
    let mut case = Case::new(runtime, strategy, 1);
    if let Some(p) = payload {
        case = case.with_payload(p.parse().unwrap());
    }
    future_size(&case).unwrap_or_else(|| panic!("{} has no future size", case.id()))
}

/// Expected `size_of_val` per payload: (plain, p0-inline, p64-inline, p1024-inline,
/// p16385-inline, heap, dropped), measured with rustc 1.95, tokio 1.54, async-std 1.13.2,
/// smol 2.0.2 on x86_64.
type Expected = [usize; 7];

fn check_sizes(runtime: Runtime, strategy: Strategy, expected: Expected) {
    let ids = [
        None,
        Some("p0-inline"),
        Some("p64-inline"),
        Some("p1024-inline"),
        Some("p16385-inline"),
        Some("p1024-heap"),
        Some("p1024-dropped"),
    ];
    let found: Vec<usize> = ids.iter().map(|p| size(runtime, strategy, *p)).collect();
    assert_eq!(
        found, expected,
        "{runtime}/{strategy}: size_of_val of (plain, inline 0/64/1024/16385, heap, dropped)"
    );
}

#[test]
fn spawned_task_bodies_have_the_expected_sizes() {
    check_sizes(
        Runtime::TOKIO_MT,
        Strategy::SPAWN,
        [120, 120, 184, 1144, 16504, 152, 136],
    );
    check_sizes(
        Runtime::TOKIO_CT,
        Strategy::JOINSET,
        [120, 120, 184, 1144, 16504, 152, 136],
    );
    check_sizes(
        Runtime::ASYNC_STD,
        Strategy::SPAWN,
        [120, 120, 184, 1144, 16504, 152, 136],
    );
    check_sizes(
        Runtime::SMOL,
        Strategy::SPAWN,
        [64, 64, 128, 1088, 16448, 96, 80],
    );
}

#[test]
fn unspawned_payload_futures_have_the_expected_sizes() {
    for strategy in [
        Strategy::JOIN_ALL,
        Strategy::SEQUENTIAL,
        Strategy::FUTURES_UNORDERED,
        Strategy::BUFFER_UNORDERED,
    ] {
        for runtime in [Runtime::TOKIO_CT, Runtime::ASYNC_STD] {
            check_sizes(runtime, strategy, [112, 136, 200, 1160, 16520, 168, 152]);
        }
        check_sizes(Runtime::SMOL, strategy, [56, 80, 144, 1104, 16464, 112, 96]);
    }
}

/// The semaphore strategy's task is the body and its permit: the permit's bytes and
/// nothing more (the body is stored once).
#[test]
fn bounded_tasks_hold_their_permit_beside_the_body() {
    for (runtime, permit) in [
        (
            Runtime::TOKIO_MT,
            size_of::<tokio::sync::OwnedSemaphorePermit>(),
        ),
        (Runtime::SMOL, size_of::<smol::lock::SemaphoreGuardArc>()),
        (
            Runtime::ASYNC_STD,
            size_of::<smol::lock::SemaphoreGuardArc>(),
        ),
    ] {
        for payload in [None, Some("p1024-inline"), Some("p1024-heap")] {
            let body = size(runtime, Strategy::SPAWN, payload);
            let task = size(runtime, Strategy::SEMAPHORE, payload);
            assert!(
                task >= body + permit && task <= body + permit + 16,
                "{runtime}/semaphore {payload:?}: {task} B for a {body} B body and a {permit} B permit"
            );
        }
    }
}

/// The relations the payload places promise, on every runtime and strategy: inline P grows
/// the future by P (within its 8-byte alignment), a dropped payload leaves the same future
/// whatever its size, and a heap payload holds a `Vec` where a dropped one holds its sum.
#[test]
fn payload_places_change_the_future_as_promised() {
    for case in taskmem_suite::matrix::payload_pairs() {
        let (rt, s) = (case.runtime, case.strategy);
        let inline0 = size(rt, s, Some("p0-inline"));
        for p in INLINE_SIZES {
            let grown = size(rt, s, Some(&format!("p{p}-inline"))) as i64 - inline0 as i64;
            assert!(
                (grown - p as i64).abs() < 8,
                "{rt}/{s}: a {p}-byte inline payload grew the future by {grown} B"
            );
        }
        let dropped = size(rt, s, Some("p0-dropped"));
        for p in [64, 1024, 16385, 1 << 20] {
            assert_eq!(size(rt, s, Some(&format!("p{p}-dropped"))), dropped);
            assert_eq!(
                size(rt, s, Some(&format!("p{p}-heap"))),
                dropped + size_of::<Vec<u8>>() - size_of::<u64>(),
                "{rt}/{s}: the heap payload's future should hold the Vec instead of the sum"
            );
        }
    }
}

/// Per task, the median over pairs of runs (a, b), after one warm-up pair, of b - a: for
/// each metric, and for `usable` (the allocated bytes in jemalloc's size classes).
fn per_task_differences(a: &Case, b: &Case) -> Vec<(String, f64)> {
    const PAIRS: usize = 5;
    let driver = Driver::new(a.runtime).unwrap();
    let opts = RunOptions::default();
    let run = |c: &Case| workload::measure(&driver, c, &opts).expect("case runs");
    run(a);
    run(b);
    let runs: Vec<_> = (0..PAIRS).map(|_| (run(a), run(b))).collect();
    let mut out = Vec::new();
    for metric in Metric::ALL {
        let value = |s: &sample::Sample| s.value(metric).unwrap().bytes as f64;
        out.push((
            metric.to_string(),
            median(runs.iter().map(|(x, y)| value(y) - value(x))) / a.n as f64,
        ));
    }
    out.push((
        "usable".into(),
        median(runs.iter().map(|(x, y)| (y.usable - x.usable) as f64)) / a.n as f64,
    ));
    out
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn get(diffs: &[(String, f64)], key: &str) -> f64 {
    diffs.iter().find(|(k, _)| k == key).unwrap().1
}

fn with(id: &str, payload: &str) -> (Case, Case) {
    let case: Case = id.parse().unwrap();
    let base = case.with_payload(format!("p0-{payload}").parse().unwrap());
    let loaded = case.with_payload(format!("p1024-{payload}").parse().unwrap());
    (base, loaded)
}

/// A 1024-byte inline payload grows each task's exact allocation by 1024 B (its future by
/// 1024 B, within 2 %); the page-level metrics (resident, RSS) find the same growth in
/// jemalloc's size classes, `usable`, within 2 %: the task's allocation moves to a larger
/// class, so the resident growth is 1024 B plus that class's rounding (at most a quarter of
/// the size: jemalloc has four classes per doubling).
fn check_inline_1024(id: &str) {
    let _serial = serial();
    let (base, loaded) = with(id, "inline");
    let grown = (future_size(&loaded).unwrap() - future_size(&base).unwrap()) as f64;
    assert_eq!(grown, 1024.0, "{id}: the future grew by {grown} B");
    let diffs = per_task_differences(&base, &loaded);
    let allocated = get(&diffs, "allocated");
    let usable = get(&diffs, "usable");
    assert!(
        (allocated - 1024.0).abs() <= 1024.0 * 0.02,
        "{id}: allocated found {allocated:.1} B per task for a 1024-byte inline payload"
    );
    assert!(
        (1024.0 * 0.98..=1024.0 * 1.25).contains(&usable),
        "{id}: usable grew by {usable:.1} B per task"
    );
    for metric in ["resident", "rss"] {
        let found = get(&diffs, metric);
        assert!(
            (found - usable).abs() <= usable * 0.02,
            "{id}: {metric} found {found:.1} B per task, the size classes {usable:.1} B ({diffs:?})"
        );
    }
}

#[test]
fn inline_1024_adds_1024_bytes_per_spawned_tokio_task() {
    check_inline_1024("tokio-mt/spawn/20000");
}

#[test]
fn inline_1024_adds_1024_bytes_per_joined_future() {
    check_inline_1024("tokio-ct/join_all/20000");
}

#[test]
fn inline_1024_adds_1024_bytes_per_smol_task() {
    check_inline_1024("smol/spawn/20000");
}

#[test]
fn a_dropped_payload_costs_nothing_at_the_peak() {
    let _serial = serial();
    let (base, loaded) = with("tokio-mt/spawn/20000", "dropped");
    let per_task = get(&per_task_differences(&base, &loaded), "allocated");
    assert!(
        per_task.abs() < 1.0,
        "a dropped 1 KiB payload left {per_task:.1} B per task"
    );
}

/// Bytes at the peak of a bounded case at 10K and at 100K tasks: the same (within 2 % or
/// 16 KiB, whichever is larger), since only K are ever alive.
#[test]
fn bounded_strategies_are_flat_in_n() {
    let _serial = serial();
    for pair in [
        "tokio-mt/buffer_unordered/k1000",
        "tokio-mt/semaphore/k1000",
        "smol/semaphore/k1000",
        "async-std/buffer_unordered/k1000",
    ] {
        let at = |n: &str| -> f64 {
            let case: Case = format!("{pair}/{n}").parse().unwrap();
            let driver = Driver::new(case.runtime).unwrap();
            let mut v: Vec<f64> = (0..3)
                .map(|_| {
                    workload::measure(&driver, &case, &RunOptions::default())
                        .unwrap()
                        .requested as f64
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v[1]
        };
        let (small, large) = (at("10k"), at("100k"));
        assert!(
            (large - small).abs() <= (0.02 * small).max(16384.0),
            "{pair}: {small} B at 10K, {large} B at 100K"
        );
        assert!(
            small > 1000.0 * 100.0,
            "{pair}: {small} B for 1000 live tasks"
        );
    }
}

/// N = 5000 tasks of 1 ms through K = 100: the highest heap over the whole run (taskmem's
/// allocator tracks it) stays at the peak of the first K, plus a little for the tasks being
/// replaced.
#[test]
fn bounded_tasks_pass_through_k_at_a_time() {
    let _serial = serial();
    let opts = RunOptions {
        sleep: Duration::from_millis(1),
        release: Release::Complete,
        ..RunOptions::default()
    };
    for id in [
        "tokio-mt/semaphore/k100/5000",
        "tokio-ct/buffer_unordered/k100/5000",
        "smol/semaphore/k100/5000",
    ] {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let _guard = taskmem_suite::workload::exclusive();
        let before = taskmem::alloc::counters().requested;
        let mut at_peak = 0;
        taskmem::alloc::track_peak();
        driver
            .run(&case, &opts, &mut || {
                at_peak = taskmem::alloc::counters().requested - before;
            })
            .unwrap();
        let highest = taskmem::alloc::take_peak() - before;
        assert!(at_peak > 0, "{id}: nothing allocated at the peak");
        assert!(
            (highest as f64) <= at_peak as f64 * 1.5 + 16384.0,
            "{id}: {highest} B at the highest, {at_peak} B with the first K alive"
        );
    }
}

#[test]
fn payload_ids_name_their_place() {
    let p: Payload = "p16385-heap".parse().unwrap();
    assert_eq!((p.bytes, p.place), (16385, Place::Heap));
    assert_eq!(p.heap_bytes(), 16385);
    assert_eq!(Payload::new(1024, Place::Dropped).unwrap().heap_bytes(), 0);
}
