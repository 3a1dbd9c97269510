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

/// The system allocator's statistics: glibc's `mallinfo2`, Linux only.
pub fn system_malloc_in_use() -> Result<u64, ProbeError> {
    Err(unsupported("the system allocator's statistics (mallinfo2)"))
}
