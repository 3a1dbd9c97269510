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
