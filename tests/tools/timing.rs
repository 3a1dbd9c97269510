//! The time side: lateness statistics on known values and on controlled sleeps, the
//! spawn-time bench's ids, and time to all-pending.
//!
//! Run with: `cargo test --test tools timing::`.

use std::time::Duration;

use taskmem_suite::matrix::Case;
use taskmem_suite::timing::{LatenessStats, lateness_run, percentile};
use taskmem_suite::workload::{Driver, RunOptions, exclusive};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn percentiles_are_nearest_rank() {
    // 1..=100 ms, shuffled: p50 is the 50th value, p99 the 99th.
    let mut values: Vec<Duration> = (1..=100).map(ms).collect();
    values.reverse();
    values.swap(3, 77);
    let s = LatenessStats::of(&values);
    assert_eq!(s.tasks, 100);
    assert_eq!(s.p50_us, 50_000.0);
    assert_eq!(s.p99_us, 99_000.0);
    assert_eq!(s.max_us, 100_000.0);
    assert_eq!(s.mean_us, 50_500.0);
    // Small samples: p99 of 10 values is the largest; p50 of 3 is the middle one.
    let ten: Vec<Duration> = (1..=10).map(ms).collect();
    assert_eq!(percentile(&ten, 99.0), ms(10));
    assert_eq!(percentile(&ten, 50.0), ms(5));
    assert_eq!(percentile(&[ms(7), ms(8), ms(9)], 50.0), ms(8));
    assert_eq!(percentile(&[ms(7)], 0.0), ms(7));
}

#[test]
fn every_task_reports_a_small_lateness_when_nothing_delays_it() {
    let _s = serial();
    let case: Case = "tokio-ct/join_all/500".parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    let l = lateness_run(&driver, &case, ms(20)).unwrap();
    assert_eq!(l.id, "tokio-ct/join_all");
    assert_eq!(l.lateness.tasks, 500);
    assert!(
        l.total_ms >= 20.0,
        "total {} ms for 20 ms sleeps",
        l.total_ms
    );
    // tokio's timer wheel has 1 ms slots: a task wakes up to a few ms late, not 20.
    assert!(
        l.lateness.p99_us < 15_000.0,
        "p99 lateness {} µs on an idle runtime",
        l.lateness.p99_us
    );
    assert!(l.lateness.p50_us <= l.lateness.p99_us && l.lateness.p99_us <= l.lateness.max_us);
}

#[test]
fn lateness_grows_when_a_strategy_delays_the_sleeps() {
    // async-std's sleep starts its timer when first polled; the sequential strategy polls
    // the k-th future only after the (k-1)-th finished, so task k wakes about k x 10 ms
    // after the deadline noted when its sleep was created.
    let _s = serial();
    let case: Case = "async-std/sequential/20".parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    let l = lateness_run(&driver, &case, ms(10)).unwrap();
    assert_eq!(l.lateness.tasks, 20);
    // Nearest rank: p50 is the 10th smallest, at least 9 sleeps late; p99 the 20th, 19.
    assert!(
        l.lateness.p50_us >= 90_000.0,
        "p50 {} µs",
        l.lateness.p50_us
    );
    assert!(
        l.lateness.p99_us >= 190_000.0,
        "p99 {} µs",
        l.lateness.p99_us
    );
    assert!(l.total_ms >= 200.0, "total {} ms", l.total_ms);
}

#[test]
fn time_to_peak_is_measured_for_every_runtime() {
    let _s = serial();
    for id in [
        "tokio-ct/join_all/1000",
        "tokio-mt/spawn/1000",
        "async-std/spawn/1000",
        "smol/futures_unordered/1000",
        "os/threads/50",
    ] {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let _g = exclusive();
        let mut reached = false;
        let t = driver
            .time_to_peak(&case, &RunOptions::default(), &mut || reached = true)
            .unwrap();
        assert!(reached, "{id}: never reached all-pending");
        assert!(
            t > Duration::ZERO && t < Duration::from_secs(10),
            "{id}: {t:?}"
        );
    }
}

#[test]
fn spawn_time_ids_are_the_memory_suite_ids() {
    let _s = serial();
    let dir = std::env::temp_dir().join(format!("taskmem-spawn-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = taskmem_suite::config::Config::from_parts(
        Some("1"),
        None,
        &["tokio-ct/(join_all|spawn)".to_string()],
    )
    .unwrap();
    let mut criterion = taskmem_suite::spawn_time::criterion()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(5))
        .measurement_time(Duration::from_millis(20));
    let lateness = taskmem_suite::spawn_time::LatenessConfig {
        tasks: 0,
        sleep: ms(1),
    };
    let outcome = taskmem_suite::spawn_time::run(&mut criterion, &config, &lateness);
    let ids: Vec<&str> = outcome.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["tokio-ct/join_all/1", "tokio-ct/spawn/1"]);
    for id in ids {
        // Criterion's directory for the case is the memory suite's id.
        assert!(
            dir.join(id).join("new").join("estimates.json").is_file(),
            "no Criterion estimates under {}",
            dir.join(id).display()
        );
        let memory_case: Case = id.parse().unwrap();
        assert_eq!(memory_case.id(), id);
    }
    for c in &outcome.cases {
        assert!(c.tasks_per_second > 0.0 && c.ns_per_task > 0.0, "{c:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lateness_settings_reject_bad_values_in_one_line() {
    use taskmem_suite::spawn_time::LatenessConfig;
    let d = LatenessConfig::from_values(None, None).unwrap();
    assert_eq!((d.tasks, d.sleep), (1000, ms(10)));
    let c = LatenessConfig::from_values(Some("10k"), Some("5ms")).unwrap();
    assert_eq!((c.tasks, c.sleep), (10_000, ms(5)));
    assert_eq!(
        LatenessConfig::from_values(Some("off"), None)
            .unwrap()
            .tasks,
        0
    );
    let e = LatenessConfig::from_values(Some("many"), None).unwrap_err();
    assert!(
        e.starts_with("TASKMEM_LATENESS_TASKS: 'many' is not a task count"),
        "{e}"
    );
    let e = LatenessConfig::from_values(None, Some("soon")).unwrap_err();
    assert!(
        e.starts_with("TASKMEM_LATENESS_SLEEP: 'soon' is not a duration"),
        "{e}"
    );
    assert!(!e.contains('\n'));
}

/// The all-pending callback of a run whose tasks complete (`taskmem run`'s) comes while every
/// task is still sleeping, not after they finished: it was called after the run, so the RSS
/// that `taskmem run` printed as "all pending" was read once the tasks had been freed.
#[test]
fn the_all_pending_callback_comes_before_any_task_wakes() {
    let _s = serial();
    let sleep = Duration::from_millis(1500);
    for id in [
        "tokio-mt/spawn/1000",
        "tokio-ct/join_all/1000",
        "smol/spawn/1000",
        "os/threads/50",
    ] {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let _g = exclusive();
        let opts = RunOptions {
            sleep,
            release: taskmem_suite::workload::Release::Complete,
            bare: true,
            ..RunOptions::default()
        };
        let start = std::time::Instant::now();
        let mut at = None;
        driver
            .time_to_peak(&case, &opts, &mut || at = Some(start.elapsed()))
            .unwrap();
        let whole = start.elapsed();
        let at = at.expect("the callback ran");
        assert!(whole >= sleep, "{id}: the tasks did not sleep ({whole:?})");
        assert!(
            at < sleep,
            "{id}: all-pending read after {at:?}, past the {sleep:?} sleep (run took {whole:?})"
        );
    }
}
