//! Machine limits: which cases this machine can run, and why not.
//!
//! OS threads are bounded by the kernel (`kernel.pid_max`, `kernel.threads-max`,
//! `vm.max_map_count`: two mappings per thread stack), by `RLIMIT_NPROC` (not for root), by
//! the cgroup's `pids.max` (a container's; [`taskmem::probe::cgroup`]) and by memory. Every case is
//! also bounded by memory: half of `MemAvailable`, and the room the cgroup's memory limit
//! leaves (`memory.max` or `memory.limit_in_bytes` minus current usage), which a container
//! sets and `MemAvailable` does not see. A case past a limit is skipped before it starts,
//! with a one-line reason naming the limit; a thread the OS refuses anyway ends the run as
//! skipped, with the OS's error, after the threads already started are released.

use crate::matrix::{Case, CaseError, Strategy};
use taskmem::probe::cgroup::{self, Controller};
use taskmem::probe::{ThreadLimit, os};

/// Threads other code in this process or machine may start meanwhile; kept free.
pub const THREAD_MARGIN: u64 = 512;

/// A generous estimate of what one OS thread costs the machine while it sleeps: its touched
/// stack pages, kernel stack and task struct, and jemalloc's per-thread cache.
pub const THREAD_COST_BYTES: u64 = 96 * 1024;

/// A generous estimate of what one async task costs, before any payload: the largest
/// measured at 1M is under 350 B per task (async-std spawn, `allocated`) and about 280 B
/// resident; this leaves room for the allocator's pages and the run's bookkeeping.
pub const TASK_COST_BYTES: u64 = 1024;

/// A generous estimate of what one task of a peer in another language costs its process
/// (a goroutine's 2-8 KiB stack, an Erlang process's 2.7 KiB heap, a Python task's objects).
pub const PEER_TASK_COST_BYTES: u64 = 8 * 1024;

/// Checks the case against the machine's limits; `Err(Skipped)` names the limit. A bounded
/// case needs room for its K live tasks only; a payload (the case's, or `extra_payload`
/// bytes planted per task) adds its bytes to every live task.
pub fn check_case(case: &Case, extra_payload: Option<usize>) -> Result<(), CaseError> {
    if case.strategy == Strategy::Threads {
        check_threads(case.n as u64)?;
    }
    check_memory(case, need(case, extra_payload))
}

/// What [`check_case`] expects the case to need at its peak: its live tasks at
/// [`THREAD_COST_BYTES`] or [`TASK_COST_BYTES`] each, plus their payloads.
pub fn need(case: &Case, extra_payload: Option<usize>) -> u64 {
    let payload = case.payload.map_or(0, |p| match p.place {
        // A dropped payload lives only while its task is created.
        crate::matrix::Place::Dropped => 0,
        _ => p.bytes,
    });
    let per_task = if case.strategy == Strategy::Threads {
        THREAD_COST_BYTES
    } else {
        TASK_COST_BYTES
    } + extra_payload.unwrap_or(0) as u64
        + payload as u64;
    (case.live_tasks() as u64).saturating_mul(per_task)
}

/// The memory a case may take now, by [`check_bytes`]'s rule: half of `MemAvailable`, and
/// no more than the room the cgroup's memory limit leaves. `None` when `MemAvailable`
/// cannot be read.
pub fn memory_room() -> Option<u64> {
    taskmem::probe::room::available()
}

/// Skips when `n` more threads would pass a kernel or resource limit.
pub fn check_threads(n: u64) -> Result<(), CaseError> {
    let mut limits = os::thread_limits().map_err(|e| CaseError::Skipped(e.to_string()))?;
    if let Some(pids) = cgroup::limit(Controller::Pids) {
        // Every thread is a task of the cgroup: its headroom is what is left of pids.max.
        limits.push(ThreadLimit {
            name: "the cgroup's pids.max",
            value: pids.max,
            headroom: pids.headroom(),
        });
    }
    if let Some(l) = limits.iter().min_by_key(|l| l.headroom) {
        if n + THREAD_MARGIN > l.headroom {
            return Err(CaseError::Skipped(format!(
                "{n} OS threads exceed {} = {} (room for about {} more threads now)",
                l.name,
                l.value,
                l.headroom.saturating_sub(THREAD_MARGIN)
            )));
        }
    }
    Ok(())
}

/// Skips when the case would need more than half the memory the kernel says is available,
/// or more than the room its cgroup's memory limit leaves.
pub fn check_memory(case: &Case, need: u64) -> Result<(), CaseError> {
    check_bytes(&case.id(), need)
}

/// Skips `what` when it would need (`need` bytes) more than half of `MemAvailable`, or more
/// than the room the cgroup's memory limit leaves; the reason names the limit.
pub fn check_bytes(what: &str, need: u64) -> Result<(), CaseError> {
    match taskmem::probe::room::room_for(what, need) {
        taskmem::probe::room::Room::Fits => Ok(()),
        taskmem::probe::room::Room::Exceeds(why) | taskmem::probe::room::Room::Unknown(why) => {
            Err(CaseError::Skipped(why))
        }
    }
}

/// The cgroup memory limit in words, for a child the kernel killed: `" (the cgroup allows
/// 200 MiB, memory.limit_in_bytes)"`, or empty without a limit.
pub fn memory_limit_note() -> String {
    cgroup::limit(Controller::Memory).map_or_else(String::new, |l| {
        format!(" (the cgroup allows {} MiB, {})", l.max >> 20, l.file)
    })
}
