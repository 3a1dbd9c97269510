//! How much memory a run may take on this machine: no more than the room its cgroup's memory
//! limit leaves (a container's, which `MemAvailable` does not see: past it the kernel kills
//! the process with SIGKILL), and no more than half of `MemAvailable`. The measuring core
//! refuses a run past it before the run starts ([`crate::Error::TooLarge`]); the suite's
//! limits (`limits.rs`) skip a case by the same rule.
//!
//! The files are read by [`crate::probe::cgroup`] and [`crate::probe::os`], the Linux-specific
//! modules; elsewhere the room is unknown and nothing is refused.

use crate::probe::cgroup::{self, Controller};
use crate::probe::os;

/// Whether `need` bytes fit in the room left.
pub enum Room {
    /// They fit (or no limit is known and `MemAvailable` was read).
    Fits,
    /// They do not: one line naming the limit and the need.
    Exceeds(String),
    /// `MemAvailable` could not be read (not Linux): why (the suite's skip says it).
    Unknown(String),
}

/// Whether `what`, needing `need` bytes, fits in the room left: the cgroup's memory limit
/// minus its usage, and half of `MemAvailable`.
pub fn room_for(what: &str, need: u64) -> Room {
    if let Some(l) = cgroup::limit(Controller::Memory) {
        if need > l.headroom() {
            return Room::Exceeds(format!(
                "{what} needs about {} MiB; the cgroup allows {} MiB, {} MiB in use ({} in {})",
                need >> 20,
                l.max >> 20,
                l.current >> 20,
                l.file,
                l.dir.display()
            ));
        }
    }
    let available = match os::mem_available_bytes() {
        Ok(a) => a,
        Err(e) => return Room::Unknown(e.to_string()),
    };
    if need > available / 2 {
        return Room::Exceeds(format!(
            "{what} needs about {} MiB, more than half of the {} MiB available (MemAvailable)",
            need >> 20,
            available >> 20
        ));
    }
    Room::Fits
}

/// The memory a run may take now, by [`room_for`]'s rule: half of `MemAvailable`, and no more
/// than the room the cgroup's memory limit leaves. `None` when `MemAvailable` cannot be read.
/// (The suite's jobs size themselves by it; the lean library does not call it.)
pub fn available() -> Option<u64> {
    let half = os::mem_available_bytes().ok()? / 2;
    Some(cgroup::limit(Controller::Memory).map_or(half, |l| half.min(l.headroom())))
}
