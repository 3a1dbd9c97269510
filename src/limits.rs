//! Machine limits: which cases this machine can run, and why not.
//!
//! OS threads are bounded by the kernel (`kernel.pid_max`, `kernel.threads-max`,
//! `vm.max_map_count`: two mappings per thread stack), by `RLIMIT_NPROC` (not for root), and
//! by memory. Every case is also bounded by memory. A case past a limit is skipped before it
//! starts, with a one-line reason naming the limit; a thread the OS refuses anyway ends the
//! run as skipped, with the OS's error, after the threads already started are released.

use crate::matrix::{Case, CaseError, Strategy};
use crate::probe::os;

/// Threads other code in this process or machine may start meanwhile; kept free.
pub const THREAD_MARGIN: u64 = 512;

/// A generous estimate of what one OS thread costs the machine while it sleeps: its touched
/// stack pages, kernel stack and task struct, and jemalloc's per-thread cache.
pub const THREAD_COST_BYTES: u64 = 96 * 1024;

/// A generous estimate of what one async task costs, before any payload.
pub const TASK_COST_BYTES: u64 = 2 * 1024;

/// Checks the case against the machine's limits; `Err(Skipped)` names the limit. A bounded
/// case needs room for its K live tasks only; a payload (the case's, or `extra_payload`
/// bytes planted per task) adds its bytes to every live task.
pub fn check_case(case: &Case, extra_payload: Option<usize>) -> Result<(), CaseError> {
    let n = case.n as u64;
    let payload = case.payload.map_or(0, |p| match p.place {
        // A dropped payload lives only while its task is created.
        crate::matrix::Place::Dropped => 0,
        _ => p.bytes,
    });
    let per_task = if case.strategy == Strategy::Threads {
        check_threads(n)?;
        THREAD_COST_BYTES
    } else {
        TASK_COST_BYTES
    } + extra_payload.unwrap_or(0) as u64
        + payload as u64;
    check_memory(case, (case.live_tasks() as u64).saturating_mul(per_task))
}

/// Skips when `n` more threads would pass a kernel or resource limit.
pub fn check_threads(n: u64) -> Result<(), CaseError> {
    let limits = os::thread_limits().map_err(|e| CaseError::Skipped(e.to_string()))?;
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

/// Skips when the case would need more than half the memory the kernel says is available.
pub fn check_memory(case: &Case, need: u64) -> Result<(), CaseError> {
    let available = os::mem_available_bytes().map_err(|e| CaseError::Skipped(e.to_string()))?;
    if need > available / 2 {
        return Err(CaseError::Skipped(format!(
            "{} needs about {} MiB, more than half of the {} MiB available (MemAvailable)",
            case.id(),
            need >> 20,
            available >> 20
        )));
    }
    Ok(())
}
