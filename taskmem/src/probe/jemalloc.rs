//! jemalloc's own counters and controls, through `mallctl`.

use super::ProbeError;
use tikv_jemalloc_ctl::{epoch, stats};

/// `MALLCTL_ARENAS_ALL`: the pseudo arena index meaning "every arena".
const ARENAS_ALL: usize = 4096;

fn err(what: &str, e: impl std::fmt::Display) -> ProbeError {
    ProbeError(format!("jemalloc {what}: {e}"))
}

/// `stats.resident`, after advancing the stats epoch.
pub(super) fn resident() -> Result<u64, ProbeError> {
    epoch::advance().map_err(|e| err("epoch", e))?;
    stats::resident::read()
        .map(|v| v as u64)
        .map_err(|e| err("stats.resident", e))
}

/// Calls a `mallctl` that takes no arguments (`arena.<i>.purge`, `thread.tcache.flush`).
fn call_void(name: &str) -> Result<(), ProbeError> {
    let cname = std::ffi::CString::new(name).map_err(|e| err(name, e))?;
    // SAFETY: a void mallctl takes null old/new pointers and zero length.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            cname.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(err(name, std::io::Error::from_raw_os_error(rc)))
    }
}

/// Sets `arena.<i>.dirty_decay_ms` and `muzzy_decay_ms` of every initialised arena, and
/// `arenas.*_decay_ms` for arenas made later, to `ms` (-1: never return freed pages on
/// their own; 0: return them as soon as they are freed). Setting 0 purges the arena at once.
pub(super) fn set_decay_ms(ms: isize) -> Result<(), ProbeError> {
    // SAFETY: arenas.narenas is an unsigned int.
    let narenas = unsafe { tikv_jemalloc_ctl::raw::read::<u32>(b"arenas.narenas\0") }
        .map_err(|e| err("arenas.narenas", e))?;
    for kind in ["dirty", "muzzy"] {
        for i in 0..narenas {
            let name = format!("arena.{i}.{kind}_decay_ms\0");
            // SAFETY: arena.<i>.*_decay_ms is an ssize_t. An arena index that was never
            // initialised answers EFAULT: it holds no pages, there is nothing to set.
            let _ = unsafe { tikv_jemalloc_ctl::raw::write::<isize>(name.as_bytes(), ms) };
        }
        let name = format!("arenas.{kind}_decay_ms\0");
        // SAFETY: arenas.*_decay_ms is an ssize_t.
        unsafe { tikv_jemalloc_ctl::raw::write::<isize>(name.as_bytes(), ms) }
            .map_err(|e| err(&name[..name.len() - 1], e))?;
    }
    Ok(())
}

/// `stats.arenas.<all>.pdirty` in bytes (jemalloc's own page size, `arenas.page`): pages
/// jemalloc holds unused but not yet returned to the OS, counted in `stats.resident`. Read
/// after [`resident`], which advances the epoch.
pub(super) fn dirty_bytes() -> Result<u64, ProbeError> {
    let name = format!("stats.arenas.{ARENAS_ALL}.pdirty\0");
    // SAFETY: stats.arenas.<i>.pdirty and arenas.page are size_t.
    let pages = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(name.as_bytes()) }
        .map_err(|e| err("stats.arenas.pdirty", e))?;
    let page = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(b"arenas.page\0") }
        .map_err(|e| err("arenas.page", e))?;
    Ok((pages * page) as u64)
}

pub(super) fn purge_all_arenas() -> Result<(), ProbeError> {
    call_void(&format!("arena.{ARENAS_ALL}.purge"))
}

pub(super) fn flush_thread_cache() {
    // An error here only means this thread has no cache (tcache disabled): nothing to flush.
    let _ = call_void("thread.tcache.flush");
}

/// `thread.tcache.enabled` of the calling thread.
pub(super) fn set_thread_cache(on: bool) -> Result<(), ProbeError> {
    // SAFETY: thread.tcache.enabled is a bool.
    unsafe { tikv_jemalloc_ctl::raw::write::<bool>(b"thread.tcache.enabled\0", on) }
        .map_err(|e| err("thread.tcache.enabled", e))
}

pub(super) fn cache_oblivious() -> Result<bool, ProbeError> {
    // SAFETY: opt.cache_oblivious is a bool.
    unsafe { tikv_jemalloc_ctl::raw::read::<bool>(b"opt.cache_oblivious\0") }
        .map_err(|e| err("opt.cache_oblivious", e))
}

pub(super) fn dirty_decay_ms() -> Result<i64, ProbeError> {
    // SAFETY: opt.dirty_decay_ms is an ssize_t.
    unsafe { tikv_jemalloc_ctl::raw::read::<isize>(b"opt.dirty_decay_ms\0") }
        .map(|v| v as i64)
        .map_err(|e| err("opt.dirty_decay_ms", e))
}
