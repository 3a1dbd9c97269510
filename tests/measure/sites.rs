//! Allocation sites ([`taskmem::Tasks::sites`]) against planted heap: every task allocates a
//! block of a known size, and the recording must find exactly N of them, in sites that hold
//! nothing else, on
//! each runtime and on a spawning and an unspawned strategy; and the site recording must not
//! be left on after its run (a measured run after it reads what it read before).
//!
//! Run with: `cargo test --test measure sites::`

use std::time::Duration;

use taskmem::{Runtime, Strategy, Tasks};

use crate::serial;

/// A size no runtime allocates per task on its own.
const PLANTED: usize = 3_333;

async fn holds_a_block() {
    let block = vec![1u8; PLANTED];
    futures::future::pending::<()>().await;
    std::hint::black_box(&block);
}

fn planted_site_found(runtime: Runtime, strategy: Strategy) {
    let n = 2_000;
    let _serial = serial();
    let tasks = Tasks::new(runtime, strategy, n).timeout(Duration::from_secs(30));
    let sites = tasks
        .sites(holds_a_block)
        .unwrap_or_else(|e| panic!("{runtime}/{strategy}: {e}"));
    // The blocks of one line of code can come through more than one call stack (tokio's
    // workers poll from more than one place): the sites whose blocks are all planted ones.
    let planted: Vec<_> = sites
        .iter()
        .filter(|s| s.bytes == s.blocks * PLANTED as u64)
        .collect();
    let blocks: u64 = planted.iter().map(|s| s.blocks).sum();
    assert_eq!(
        blocks, n as u64,
        "{runtime}/{strategy}: not {n} blocks of {PLANTED} B: {sites:?}"
    );
    let usable: u64 = planted.iter().map(|s| s.usable).sum();
    assert_eq!(
        usable,
        n as u64 * taskmem::alloc::size_class(PLANTED, 1) as u64,
        "{planted:?}"
    );
    assert!(planted.iter().all(|s| s.frames.len() > 3), "{planted:?}");
    // Every recorded byte is a live block of the run: the sites hold at least the planted
    // bytes and the future of each task, and nothing from before the run.
    let total: u64 = sites.iter().map(|s| s.bytes).sum();
    assert!(total >= (n * PLANTED) as u64, "{total}");
}

#[test]
fn a_planted_block_per_task_is_one_site_on_tokio_spawned() {
    planted_site_found(Runtime::TokioMultiThread, Strategy::Spawn);
}

#[test]
fn a_planted_block_per_task_is_one_site_on_smol_join_all() {
    planted_site_found(Runtime::Smol, Strategy::JoinAll);
}

#[test]
fn a_planted_block_per_task_is_one_site_on_async_std_spawned() {
    planted_site_found(Runtime::AsyncStd, Strategy::Spawn);
}

#[test]
fn a_measured_run_after_a_recording_reads_as_before() {
    let _serial = serial();
    let tasks = Tasks::new(Runtime::TokioCurrentThread, Strategy::Spawn, 1_000);
    let before = tasks.measure(holds_a_block).unwrap().requested;
    tasks.sites(holds_a_block).unwrap();
    let after = tasks.measure(holds_a_block).unwrap().requested;
    assert_eq!(
        before, after,
        "requested bytes moved after a site recording"
    );
}

/// The suite's own cases (`TASKMEM_SITES=1 cargo bench --bench memory`): what the sites of a
/// recording hold is what a measured run of the same case allocates, within 1 %, and the
/// sites, named from this very binary's line tables by `taskmem bill`'s reader, include the
/// runtime's task (or, unspawned, futures-util's or taskmem's hold of the futures).
#[test]
fn the_suites_cases_sites_hold_what_a_measured_run_allocates() {
    use taskmem_suite::bill::sites::{self, Owner};
    use taskmem_suite::matrix::Case;
    use taskmem_suite::workload::{Driver, RunOptions};

    let _serial = serial();
    let exe = std::env::current_exe().unwrap();
    for id in [
        "tokio-mt/spawn/4000",
        "smol/spawn/4000",
        "tokio-ct/join_all/4000",
    ] {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let opts = RunOptions::default();
        driver.measure(&case, &opts).unwrap();
        let measured = driver.measure(&case, &opts).unwrap().requested as f64;
        let (found, future_type) = driver.sites(&case, &opts).unwrap();
        let held: u64 = found.iter().map(|s| s.bytes).sum();
        assert!(
            (held as f64 - measured).abs() <= 0.01 * measured,
            "{id}: the sites hold {held} B, a measured run allocated {measured} B"
        );
        assert!(future_type.is_some(), "{id}");
        let frames = taskmem_suite::symbols::resolve(&exe, &sites::addresses(&found)).unwrap();
        let shares = sites::shares(&[(case.n, &found)], &frames, None);
        let owners: Vec<&Owner> = shares.iter().map(|s| &s.owner).collect();
        let expected = if case.strategy.spawns() {
            owners.iter().any(|o| matches!(o, Owner::Runtime(_)))
        } else {
            // join_all of many futures is futures-util's FuturesUnordered: a task per future.
            owners
                .iter()
                .any(|o| **o == Owner::Taskmem || **o == Owner::Library("futures-util".into()))
        };
        assert!(expected, "{id}: {shares:#?}");
    }
}
