//! Linux probes: `/proc` and `/proc/sys` readings and resource limits.
//!
//! Everything Linux-specific in taskmem lives here; `other.rs` answers the same calls with a
//! clear "not supported on this OS" error elsewhere.

use super::{ProbeError, ThreadLimit};
use std::fs;

fn read(path: &str) -> Result<String, ProbeError> {
    fs::read_to_string(path).map_err(|e| ProbeError(format!("cannot read {path}: {e}")))
}

fn read_number(path: &str) -> Result<u64, ProbeError> {
    let text = read(path)?;
    text.trim()
        .parse()
        .map_err(|_| ProbeError(format!("unexpected contents in {path}: {:?}", text.trim())))
}

/// The page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// The process's resident set size: `/proc/self/statm` field 2, in bytes.
pub fn rss_bytes() -> Result<u64, ProbeError> {
    let statm = read("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ProbeError(format!("unexpected /proc/self/statm: {statm:?}")))?;
    Ok(pages * page_size())
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in bytes.
pub fn peak_rss_bytes() -> Result<u64, ProbeError> {
    status_kib("VmHWM").map(|kib| kib * 1024)
}

fn status_kib(key: &str) -> Result<u64, ProbeError> {
    let status = read("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| ProbeError(format!("no {key} in /proc/self/status")))
}

/// A `/proc/meminfo` field (given in KiB there), in bytes.
fn meminfo_bytes(key: &str) -> Result<u64, ProbeError> {
    let meminfo = read("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| ProbeError(format!("no {key} in /proc/meminfo")))
}

/// Memory the kernel says is available for new allocations (`MemAvailable`), in bytes.
pub fn mem_available_bytes() -> Result<u64, ProbeError> {
    meminfo_bytes("MemAvailable")
}

/// The machine's total memory (`MemTotal`), in bytes.
pub fn mem_total_bytes() -> Result<u64, ProbeError> {
    meminfo_bytes("MemTotal")
}

/// The kernel release (`/proc/sys/kernel/osrelease`).
pub fn kernel_release() -> Result<String, ProbeError> {
    read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string())
}

/// The kernel and resource limits on new threads, each with the room it leaves now.
pub fn thread_limits() -> Result<Vec<ThreadLimit>, ProbeError> {
    // Every thread in the system uses a pid; /proc/loadavg's 4th field is running/total.
    let loadavg = read("/proc/loadavg")?;
    let system_threads: u64 = loadavg
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split('/').nth(1)?.parse().ok())
        .ok_or_else(|| ProbeError(format!("unexpected /proc/loadavg: {loadavg:?}")))?;
    let mut limits = Vec::new();
    let pid_max = read_number("/proc/sys/kernel/pid_max")?;
    limits.push(ThreadLimit {
        name: "kernel.pid_max",
        value: pid_max,
        headroom: pid_max.saturating_sub(system_threads),
    });
    let threads_max = read_number("/proc/sys/kernel/threads-max")?;
    limits.push(ThreadLimit {
        name: "kernel.threads-max",
        value: threads_max,
        headroom: threads_max.saturating_sub(system_threads),
    });
    // Each thread stack is two mappings (the stack and its guard page).
    let max_map_count = read_number("/proc/sys/vm/max_map_count")?;
    let maps = read("/proc/self/maps")?.lines().count() as u64;
    limits.push(ThreadLimit {
        name: "vm.max_map_count",
        value: max_map_count,
        headroom: max_map_count.saturating_sub(maps) / 2,
    });
    let mut rlim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut rlim) };
    // RLIMIT_NPROC does not bind root (CAP_SYS_RESOURCE / CAP_SYS_ADMIN).
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if rc == 0 && rlim.rlim_cur != libc::RLIM_INFINITY && !root {
        limits.push(ThreadLimit {
            name: "RLIMIT_NPROC",
            value: rlim.rlim_cur,
            headroom: rlim.rlim_cur.saturating_sub(system_threads),
        });
    }
    Ok(limits)
}

/// Bytes the system allocator (glibc malloc) holds in allocated chunks of its arenas,
/// headers and size-class rounding included: `uordblks` of `mallinfo2()`, plus its mmapped
/// chunks (`hblkhd`). Meaningful only in a process whose global allocator is glibc malloc.
#[cfg(target_env = "gnu")]
pub fn system_malloc_in_use() -> Result<u64, ProbeError> {
    // SAFETY: mallinfo2 has no preconditions; it walks glibc's arenas under their locks.
    let info = unsafe { libc::mallinfo2() };
    Ok((info.uordblks + info.hblkhd) as u64)
}

/// Not glibc: no `mallinfo2`.
#[cfg(not(target_env = "gnu"))]
pub fn system_malloc_in_use() -> Result<u64, ProbeError> {
    Err(ProbeError(
        "the system allocator's statistics (mallinfo2) are glibc's only".into(),
    ))
}
