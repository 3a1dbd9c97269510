//! Non-Linux stand-ins for the OS probes: each answers with a clear "not supported" error.

use super::{ProbeError, ThreadLimit};

fn unsupported(what: &str) -> ProbeError {
    ProbeError(format!("{what} is only implemented for Linux (/proc)"))
}

/// The page size in bytes.
pub fn page_size() -> u64 {
    4096
}

/// Process RSS: not available off Linux.
pub fn rss_bytes() -> Result<u64, ProbeError> {
    Err(unsupported("process RSS"))
}

/// Peak process RSS: not available off Linux.
pub fn peak_rss_bytes() -> Result<u64, ProbeError> {
    Err(unsupported("peak RSS"))
}

/// Resetting peak RSS: not available off Linux.
pub fn reset_peak_rss() -> Result<(), ProbeError> {
    Err(unsupported("resetting peak RSS"))
}

/// Available memory: not available off Linux.
pub fn mem_available_bytes() -> Result<u64, ProbeError> {
    Err(unsupported("available memory"))
}

/// Total memory: not available off Linux.
pub fn mem_total_bytes() -> Result<u64, ProbeError> {
    Err(unsupported("total memory"))
}

/// The kernel release: the OS name off Linux.
pub fn kernel_release() -> Result<String, ProbeError> {
    Ok(std::env::consts::OS.to_string())
}

/// Thread limits: not available off Linux.
pub fn thread_limits() -> Result<Vec<ThreadLimit>, ProbeError> {
    Err(unsupported("thread limits"))
}

/// One cache of `/proc/slabinfo` (Linux only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slab {
    /// The cache's name.
    pub name: String,
    /// Objects in use.
    pub active: u64,
    /// Object size, bytes.
    pub object_size: u64,
}

/// Slab caches: not available off Linux.
pub fn slabs(_names: &[&str]) -> Result<Vec<Slab>, ProbeError> {
    Err(unsupported("/proc/slabinfo"))
}

/// TCP socket buffer pages: not available off Linux.
pub fn tcp_mem_pages() -> Result<u64, ProbeError> {
    Err(unsupported("/proc/net/sockstat"))
}

/// Raising `RLIMIT_NOFILE`: not implemented off Linux.
pub fn raise_open_files_limit() -> Result<(u64, u64), ProbeError> {
    Err(unsupported("RLIMIT_NOFILE"))
}
