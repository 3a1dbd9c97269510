//! One case profiled under dhat: a warm-up run, then a profiled run read just before the
//! tasks are created and at the peak.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::matrix::Case;
use crate::workload::{CaseError, Driver, RunOptions, exclusive};

/// Where a profile goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write dhat's JSON profile to this path when the profiler stops.
    File(PathBuf),
    /// dhat's testing mode: nothing is written or printed.
    Testing,
}

/// What dhat saw in one profiled run of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// `runtime/strategy/N`.
    pub id: String,
    /// Task count.
    pub n: usize,
    /// Live blocks at the peak minus live blocks just before the tasks were created.
    pub blocks: i64,
    /// Live requested bytes at the peak minus just before the tasks were created.
    pub bytes: i64,
    /// `blocks / n`.
    pub allocations_per_task: f64,
    /// `bytes / n`.
    pub requested_bytes_per_task: f64,
    /// Live heap bytes at the peak, counted from the profiler's start (just after the warm-up
    /// run): the tasks plus what the run allocated beside them.
    pub peak_bytes: u64,
    /// dhat's global peak over the whole profile ("t-gmax"), which is above `peak_bytes` when
    /// the release allocates beside the live tasks.
    pub max_bytes: u64,
    /// Bytes allocated from task creation to the end of the release, freed or not (a
    /// reallocation counts its whole new size).
    pub total_bytes: u64,
    /// Blocks allocated over the same span (a reallocation counts as one).
    pub total_blocks: u64,
    /// Where dhat's JSON profile was written.
    pub file: Option<String>,
    /// Wall time of the unprofiled warm-up run, in seconds.
    pub warm_up_seconds: f64,
    /// Wall time of the profiled run (quiescence waits included), in seconds.
    pub profiled_seconds: f64,
}

/// dhat's live counters and totals, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reading {
    curr_bytes: usize,
    curr_blocks: usize,
    max_bytes: usize,
    total_bytes: u64,
    total_blocks: u64,
}

/// Reads dhat's counters (a profiler must be running). Allocates nothing.
fn read() -> Reading {
    let s = dhat::HeapStats::get();
    Reading {
        curr_bytes: s.curr_bytes,
        curr_blocks: s.curr_blocks,
        max_bytes: s.max_bytes,
        total_bytes: s.total_bytes,
        total_blocks: s.total_blocks,
    }
}

/// The memory suite's quiescence ([`taskmem::sample::quiesce_on`]) on dhat's counters:
/// taskmem's jemalloc counters do not move under `dhat::Alloc`.
fn quiesce() {
    taskmem::sample::quiesce_on(|| {
        let r = read();
        (r.curr_bytes, r.curr_blocks, r.total_blocks)
    })
}

/// Runs the case once unprofiled (warm-up; a skip or failure ends here), then once under a
/// dhat profiler, and returns what dhat saw between just before the tasks were created and
/// the peak. The binary's global allocator must be `dhat::Alloc`; no other dhat profiler
/// may run meanwhile (this function holds [`exclusive`] throughout).
pub fn profile_case(
    driver: &Driver,
    case: &Case,
    opts: &RunOptions,
    output: &Output,
) -> Result<Profile, CaseError> {
    profile_case_around(driver, case, opts, output, &|stop| stop())
}

/// [`profile_case`], with `around_output` wrapped around the profiler's end, where dhat
/// prints its totals on stderr: a progress bar clears itself there
/// ([`crate::progress::Progress::suspend`]) so that the lines do not tear. It runs after
/// every reading is taken.
pub(super) fn profile_case_around(
    driver: &Driver,
    case: &Case,
    opts: &RunOptions,
    output: &Output,
    around_output: &dyn Fn(&mut dyn FnMut()),
) -> Result<Profile, CaseError> {
    let _guard = exclusive();
    let warm_up = Instant::now();
    driver.run(case, opts, &mut || {})?;
    let warm_up_seconds = warm_up.elapsed().as_secs_f64();
    let failed = |what: String| CaseError::Failed(what);
    let profiler = match output {
        Output::File(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
            }
            // A stale profile must not pass for this run's if dhat cannot write.
            let _ = std::fs::remove_file(path);
            dhat::Profiler::builder().file_name(path).build()
        }
        Output::Testing => dhat::Profiler::builder().testing().build(),
    };
    let probe = read();
    drop(std::hint::black_box(Box::new(0u64)));
    if read().total_blocks == probe.total_blocks {
        drop(profiler);
        if let Output::File(path) = output {
            let _ = std::fs::remove_file(path);
        }
        return Err(failed(
            "dhat sees no allocation: this binary's global allocator is not dhat::Alloc".into(),
        ));
    }
    quiesce();
    let before = read();
    let profiled = Instant::now();
    let mut peak: Option<Reading> = None;
    let run = driver.run(case, opts, &mut || {
        quiesce();
        peak = Some(read());
    });
    quiesce();
    let end = read();
    let profiled_seconds = profiled.elapsed().as_secs_f64();
    let mut profiler = Some(profiler);
    around_output(&mut || drop(profiler.take()));
    let file = match output {
        Output::File(path) if run.is_ok() => {
            if !path.is_file() {
                return Err(failed(format!(
                    "dhat did not write {} (see its message above)",
                    path.display()
                )));
            }
            Some(path.display().to_string())
        }
        Output::File(path) => {
            let _ = std::fs::remove_file(path);
            None
        }
        Output::Testing => None,
    };
    run?;
    let peak = peak.ok_or_else(|| failed("the run never reached its peak".into()))?;
    let blocks = peak.curr_blocks as i64 - before.curr_blocks as i64;
    let bytes = peak.curr_bytes as i64 - before.curr_bytes as i64;
    Ok(Profile {
        id: case.id(),
        n: case.n,
        blocks,
        bytes,
        allocations_per_task: blocks as f64 / case.n as f64,
        requested_bytes_per_task: bytes as f64 / case.n as f64,
        peak_bytes: peak.curr_bytes as u64,
        max_bytes: end.max_bytes as u64,
        total_bytes: end.total_bytes - before.total_bytes,
        total_blocks: end.total_blocks - before.total_blocks,
        file,
        warm_up_seconds,
        profiled_seconds,
    })
}
