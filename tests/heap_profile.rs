//! The dhat heap profile: a known allocation planted in every task is found exactly, the
//! cross-check flags what it should, and bad input gets the one-line error.
//!
//! Each case runs twice at the same N with tasks of the same shape: each task allocates,
//! fills and holds `PAYLOAD` bytes across its sleep in one run, holds an empty `Vec` (no
//! allocation) in the other. dhat counts requested bytes exactly, so the difference must be
//! exactly N blocks and N x `PAYLOAD` bytes.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

use std::sync::{Mutex, MutexGuard};

use taskmem_suite::heap_profile::{
    CrossCheck, DEFAULT_SIZES, Jemalloc, Output, Profile, Settings, cross_check, error_line,
    profile_case,
};
use taskmem_suite::matrix::Case;
use taskmem_suite::workload::{Driver, RunOptions};

/// One dhat profiler per process, and every allocation of every thread lands in it: the tests
/// of this file run one at a time, including those that only parse.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const PAYLOAD: usize = 1024;
const N: usize = 1000;

/// Pairs of runs (plain, payload) per case.
const PAIRS: usize = 3;

/// The blocks and bytes the payload run adds over the plain run: the median over [`PAIRS`]
/// pairs, so that one run disturbed from outside the workload (the test harness allocating on
/// its own threads as another test finishes: dhat sees every thread) cannot decide the result.
fn planted(case: &str) -> (i64, i64) {
    let case: Case = case.parse().expect("a case id");
    let driver = Driver::new(case.runtime).expect("runtime builds");
    let plain = RunOptions {
        payload: Some(0),
        ..Default::default()
    };
    let loaded = RunOptions {
        payload: Some(PAYLOAD),
        ..Default::default()
    };
    let (mut blocks, mut bytes) = (Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        let a = profile_case(&driver, &case, &plain, &Output::Testing).expect("plain run");
        let b = profile_case(&driver, &case, &loaded, &Output::Testing).expect("payload run");
        assert_eq!((a.n, b.n), (case.n, case.n));
        blocks.push(b.blocks - a.blocks);
        bytes.push(b.bytes - a.bytes);
    }
    blocks.sort_unstable();
    bytes.sort_unstable();
    (blocks[PAIRS / 2], bytes[PAIRS / 2])
}

/// Checks a pair whose workload allocates the same in every run apart from the payload.
/// (Not `os/threads`: each thread's own bookkeeping varies by a few blocks from run to run,
/// in the plain run too, so its difference is not exact.)
fn check(case: &str) {
    let _s = serial();
    let (blocks, bytes) = planted(&format!("{case}/{N}"));
    assert_eq!(
        (blocks, bytes),
        (N as i64, (N * PAYLOAD) as i64),
        "{case}: the payload run should add exactly one {PAYLOAD}-byte block per task"
    );
}

#[test]
fn tokio_ct_spawn_sees_one_planted_block_per_task() {
    check("tokio-ct/spawn");
}

#[test]
fn tokio_ct_join_all_sees_one_planted_block_per_task() {
    check("tokio-ct/join_all");
}

#[test]
fn tokio_mt_joinset_sees_one_planted_block_per_task() {
    check("tokio-mt/joinset");
}

#[test]
fn smol_spawn_sees_one_planted_block_per_task() {
    check("smol/spawn");
}

#[test]
fn async_std_spawn_sees_one_planted_block_per_task() {
    check("async-std/spawn");
}

#[test]
fn a_profile_without_payload_has_the_task_counts_it_ran() {
    let _s = serial();
    let case: Case = "tokio-ct/spawn/1000".parse().unwrap();
    let driver = Driver::new(case.runtime).unwrap();
    let p = profile_case(&driver, &case, &RunOptions::default(), &Output::Testing).unwrap();
    assert_eq!(p.id, "tokio-ct/spawn/1000");
    // Every spawned task is at least one live block of its own at the peak.
    assert!(p.blocks >= N as i64, "{p:?}");
    assert_eq!(p.allocations_per_task, p.blocks as f64 / N as f64);
    assert!(
        p.peak_bytes as i64 >= p.bytes && p.max_bytes >= p.peak_bytes,
        "{p:?}"
    );
    assert!(p.total_bytes as i64 >= p.bytes, "{p:?}");
}

#[test]
fn a_bad_task_count_is_one_line() {
    let _s = serial();
    let e = Settings::from_parts(Some("1,ten"), &[]).unwrap_err();
    assert_eq!(
        error_line(&e),
        "taskmem: TASKMEM_SIZES: 'ten' is not a task count (examples: 1, 10000, 10k, 1m)"
    );
    let e = Settings::from_parts(Some("0"), &[]).unwrap_err();
    assert!(error_line(&e).starts_with("taskmem: TASKMEM_SIZES: task count '0'"));
    assert!(!error_line(&e).contains('\n'));
}

#[test]
fn a_bad_filter_is_one_line() {
    let _s = serial();
    let args = vec!["tokio-(".to_string(), "--bench".to_string()];
    let e = Settings::from_parts(None, &args).unwrap_err();
    let line = error_line(&e);
    assert!(
        line.starts_with("taskmem: the filter 'tokio-(' is not a valid regular expression: "),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");
}

#[test]
fn defaults_stop_at_100k_and_the_filter_picks_cases() {
    let _s = serial();
    let all = Settings::from_parts(None, &["--bench".to_string()]).unwrap();
    assert_eq!(all.sizes, DEFAULT_SIZES.to_vec());
    assert!(all.cases().unwrap().iter().all(|c| c.n <= 100_000));
    let args = vec!["--bench".to_string(), "tokio-mt/spawn".to_string()];
    let some = Settings::from_parts(Some("1m,1"), &args).unwrap();
    let ids: Vec<String> = some.cases().unwrap().iter().map(Case::id).collect();
    assert_eq!(ids, ["tokio-mt/spawn/1", "tokio-mt/spawn/1000000"]);
    // A filter that matches no case, in a bench run: one line naming it, exit code 2.
    let args = vec!["--bench".to_string(), "no-such-case".to_string()];
    let none = Settings::from_parts(None, &args)
        .unwrap()
        .cases()
        .unwrap_err();
    assert_eq!(none.code, 2);
    let message = none.message.unwrap();
    assert!(
        message.starts_with(
            "no case matches the filter 'no-such-case' (ids look like tokio-mt/spawn/100000;"
        ),
        "{message}"
    );
}

fn profile(bytes: i64, n: usize) -> Profile {
    Profile {
        id: format!("tokio-ct/join_all/{n}"),
        n,
        blocks: n as i64,
        bytes,
        allocations_per_task: 1.0,
        requested_bytes_per_task: bytes as f64 / n as f64,
        peak_bytes: bytes as u64,
        max_bytes: bytes as u64,
        total_bytes: bytes as u64,
        total_blocks: n as u64,
        file: None,
        warm_up_seconds: 0.0,
        profiled_seconds: 0.0,
    }
}

fn jemalloc(allocated: f64, usable: f64, min: f64, max: f64) -> Jemalloc {
    Jemalloc {
        allocated_per_task: allocated,
        usable_per_task: usable,
        resident_per_task: usable,
        allocated_min_per_task: min,
        allocated_max_per_task: max,
        runs: 11,
    }
}

#[test]
fn the_cross_check_accepts_rounding_and_flags_more_with_a_reason() {
    let _s = serial();
    // 184 B requested against 184 B allocated, 192 B usable: equal.
    let ok: CrossCheck = cross_check(&profile(1840, 10), &jemalloc(184.0, 192.0, 184.0, 184.0));
    assert!(!ok.flagged && ok.reason.is_none(), "{ok:?}");
    // 8 B off with 8 B of rounding: accepted; 9 B off: flagged.
    let edge = cross_check(&profile(1920, 10), &jemalloc(184.0, 192.0, 184.0, 184.0));
    assert!(!edge.flagged, "{edge:?}");
    let off = cross_check(&profile(1930, 10), &jemalloc(184.0, 192.0, 184.0, 184.0));
    assert!(off.flagged, "{off:?}");
    assert!(
        off.reason
            .as_deref()
            .unwrap()
            .contains("did not allocate the same")
    );
    // No rounding at all: any difference is flagged; inside jemalloc's run range it is
    // run-to-run variation.
    let varied = cross_check(&profile(2650, 10), &jemalloc(264.0, 264.0, 262.0, 266.0));
    assert!(varied.flagged, "{varied:?}");
    assert!(
        varied
            .reason
            .as_deref()
            .unwrap()
            .starts_with("run-to-run variation")
    );
}
