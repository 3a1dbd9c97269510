//! Probes: the counters a measurement reads, and how the allocator is brought to a known state.
//!
//! A [`Snapshot`] holds, at one instant:
//!
//! - `resident`: jemalloc's `stats.resident` less the unused dirty pages it holds
//!   (`stats.arenas.<all>.pdirty`): the bytes in physically resident pages that back live
//!   allocations, and jemalloc's metadata. Page-granular and an upper bound: extents are
//!   counted whole, in size classes.
//! - `dirty`: those unused dirty pages, in bytes.
//! - `requested` / `usable`: the exact live heap bytes counted by
//!   [`TrackedJemalloc`](crate::alloc::TrackedJemalloc), as requested and as rounded to
//!   jemalloc's size classes.
//! - `rss`: the process's resident set size from `/proc/self/statm` (Linux), which also counts
//!   what jemalloc never sees: OS thread stacks, thread-local storage, the binary's own pages.
//!
//! Dirty pages are left out of `resident` because a run may reuse the pages that the run
//! before it freed ([`start_run`]): they are resident before the run and after it, so they
//! would hide the bytes they come to back. Whether a run starts from returned pages or from
//! held ones, `resident` reads the same. A run on held pages takes the dirty pages it used
//! out of its RSS growth too ([`crate::sample::measure_reusing`]).
//!
//! [`settle`] brings jemalloc to a known state: it flushes the calling thread's cache and
//! returns every arena's unused pages to the OS. Reads need jemalloc's `epoch` advanced
//! first; [`snapshot`] does that.
//!
//! [`cgroup`] reads a container's limits, and `room` the memory a run may take by them and
//! `MemAvailable`: runs past it are refused before they start.

pub mod cgroup;
mod jemalloc;
#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "other.rs")]
pub mod os;
pub mod room;

use std::fmt;

/// A probe that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

/// One limit on how many more threads this process can create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLimit {
    /// The limit's name as a user would look it up (e.g. `kernel.pid_max`).
    pub name: &'static str,
    /// The configured value.
    pub value: u64,
    /// How many more threads it leaves room for now.
    pub headroom: u64,
}

/// Every counter at one instant, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// jemalloc `stats.resident`, less its unused dirty pages.
    pub resident: u64,
    /// jemalloc's unused dirty pages (`stats.arenas.<all>.pdirty`), in bytes.
    pub dirty: u64,
    /// Live bytes requested from the global allocator (exact, all threads).
    pub requested: i64,
    /// Live bytes in jemalloc's size classes (exact, all threads).
    pub usable: i64,
    /// Live allocations in jemalloc's large size classes (exact, all threads).
    pub large: i64,
    /// Process resident set size (`/proc/self/statm`).
    pub rss: u64,
}

/// Checks that the probes can be read in this binary: taskmem's allocator is the global one
/// and the OS probes answer.
pub fn check() -> Result<(), ProbeError> {
    if !crate::alloc::installed() {
        return Err(ProbeError(
            "taskmem::alloc::TrackedJemalloc is not this binary's global allocator \
             (add `taskmem::use_tracked_jemalloc!();`)"
                .into(),
        ));
    }
    jemalloc::resident()?;
    os::rss_bytes()?;
    Ok(())
}

/// Reads every counter now.
pub fn snapshot() -> Result<Snapshot, ProbeError> {
    let counters = crate::alloc::counters();
    let resident = jemalloc::resident()?;
    let dirty = jemalloc::dirty_bytes()?;
    let resident = resident.checked_sub(dirty).ok_or_else(|| {
        ProbeError(format!(
            "jemalloc counts {dirty} B of dirty pages in {resident} B of resident ones"
        ))
    })?;
    Ok(Snapshot {
        resident,
        dirty,
        requested: counters.requested,
        usable: counters.usable,
        large: counters.large,
        rss: os::rss_bytes()?,
    })
}

/// Flushes this thread's jemalloc cache and returns every arena's unused dirty pages to the OS,
/// with freed pages returned at once again from here on (ending [`hold_freed_pages`]).
pub fn settle() -> Result<(), ProbeError> {
    // Decay 0 whatever the flag says, so that a failed change cannot leave pages held.
    jemalloc::set_decay_ms(0)?;
    HOLDING.store(false, std::sync::atomic::Ordering::Relaxed);
    jemalloc::flush_thread_cache();
    jemalloc::purge_all_arenas()
}

/// Brings jemalloc to the start of a measured run: flushes this thread's cache and, unless
/// freed pages are held, returns every arena's unused pages to the OS ([`settle`]); then
/// holds the pages freed from here on ([`hold_freed_pages`]), past the end of the run.
///
/// So the first run after a [`settle`] (or [`return_freed_pages`]) faults every page it
/// needs in anew, and each run after it reuses the pages the run before it freed: the same
/// resident bytes ([`snapshot`] leaves held pages out), without a page fault per page and an
/// `madvise` and TLB shootdown per emptied extent (`async-std/join_all` at 1M on two cores:
/// 0.54-0.57 s per run from fresh pages, 0.30-0.34 s reusing them). Return the held pages
/// with [`return_freed_pages`] when the runs of one workload are over.
pub fn start_run() -> Result<(), ProbeError> {
    if HOLDING.load(std::sync::atomic::Ordering::Relaxed) {
        jemalloc::flush_thread_cache();
        Ok(())
    } else {
        settle()?;
        hold_freed_pages()
    }
}

static HOLDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// jemalloc keeps the pages freed from now on instead of returning each to the OS as it
/// empties (decay -1 on every arena), until [`return_freed_pages`] or [`settle`] returns
/// them all in one purge. Releasing 1M tasks with decay 0 returns their pages a few at a
/// time, each an `madvise` and a TLB shootdown on every core running the process; one purge
/// of the coalesced extents costs a fraction of that, and a next run reuses them at no cost.
pub fn hold_freed_pages() -> Result<(), ProbeError> {
    jemalloc::set_decay_ms(-1)?;
    HOLDING.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Ends [`hold_freed_pages`]: decay back to 0 on every arena (as
/// [`crate::alloc::MALLOC_CONF`] sets it), which returns the held pages now, in one purge per
/// arena. Nothing to do when no hold is on.
pub fn return_freed_pages() -> Result<(), ProbeError> {
    if HOLDING.load(std::sync::atomic::Ordering::Relaxed) {
        jemalloc::set_decay_ms(0)?;
        HOLDING.store(false, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

/// The bytes jemalloc adds to every large allocation's extent: one page when
/// `opt.cache_oblivious` is on (it offsets each large allocation by a random multiple of the
/// cache line within that extra page), 0 when it is off.
pub fn large_pad_bytes() -> Result<u64, ProbeError> {
    Ok(if jemalloc::cache_oblivious()? {
        os::page_size()
    } else {
        0
    })
}

/// Called on a runtime's worker thread (tokio's thread-start hook; the first poll of a spawned
/// task, for the global executors of async-std and smol): under taskmem's allocator, turns the
/// calling thread's jemalloc cache off, once per thread.
///
/// Why: worker threads outlive a run, and a thread's cache keeps blocks the last run freed, each
/// pinning the rest of its slab's pages. The next run fills those pages, already resident, without
/// growing `stats.resident`, and the shortfall grows from run to run (tokio-mt/joinset at 10K,
/// 64-byte payload: 35 % low after 40 runs on one runtime). [`settle`] can flush only the calling
/// thread's cache, so the workers go without. The thread that runs the measurements keeps its
/// cache ([`measuring_thread`]; it is flushed before each run), and so do threads a run creates
/// (they end with it).
#[inline]
pub(crate) fn runtime_thread() {
    if THREAD_CACHE.get() != UNDECIDED || !crate::alloc::serving() {
        return;
    }
    THREAD_CACHE.set(OFF);
    // Cannot fail with taskmem's allocator: the mallctl exists in every jemalloc build.
    let _ = jemalloc::set_thread_cache(false);
}

/// Marks the calling thread as the one that runs measurements: it keeps its jemalloc cache
/// ([`settle`] flushes it before every run), even where it polls tasks itself (tokio's
/// current-thread runtime), so that [`runtime_thread`] leaves it alone.
pub(crate) fn measuring_thread() {
    if THREAD_CACHE.get() == UNDECIDED {
        THREAD_CACHE.set(KEPT);
    }
}

const UNDECIDED: u8 = 0;
const KEPT: u8 = 1;
const OFF: u8 = 2;

thread_local! {
    /// What this thread's jemalloc cache is: [`UNDECIDED`] (as jemalloc made it), [`KEPT`]
    /// (a measuring thread's) or [`OFF`] (a runtime worker's). No allocation, no destructor.
    static THREAD_CACHE: std::cell::Cell<u8> = const { std::cell::Cell::new(UNDECIDED) };
}

/// jemalloc's `opt.dirty_decay_ms`, to show whether [`crate::alloc::MALLOC_CONF`] took effect.
pub fn dirty_decay_ms() -> Result<i64, ProbeError> {
    jemalloc::dirty_decay_ms()
}
