//! One measured run of a case: every counter read just before the tasks are created and again
//! at the peak, and the growth between the two.
//!
//! [`measure`] starts from fresh pages: jemalloc is settled ([`probe::settle`]: this thread's
//! cache flushed, every arena purged), returns pages freed before the peak at once (decay 0),
//! and from the peak reading holds the pages the release frees, returning them in one purge
//! when the run ends ([`probe::hold_freed_pages`]): the same readings, without a TLB
//! shootdown per emptied slab. [`measure_reusing`] starts from the pages the run before it
//! freed ([`probe::start_run`]) and holds every page it frees for the next run, which saves a
//! page fault per page. The readings leave held pages out of `resident`, and a reusing run
//! counts the held pages it took up in its RSS growth (see [`probe`]), so the resident and
//! allocated bytes are the same either way (RSS: see [`crate::Tasks::reuse_pages`]). The peak
//! reading is taken inside the run, where its driver says every task is alive and polled
//! once (see [`crate::Tasks`]).

use crate::error::Error;
use crate::probe::{self, Snapshot};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which bytes a measurement reports.
#[derive(
    Debug,
    Default,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Growth of jemalloc's `stats.resident`, its unused dirty pages left out: the pages
    /// jemalloc made resident for the tasks, metadata included, in whole pages and size
    /// classes. The default.
    #[default]
    Resident,
    /// Growth of the exact live heap bytes requested by all threads (taskmem's counting
    /// wrapper around jemalloc). Not page-granular; misses thread stacks.
    Allocated,
    /// Growth of the process's resident set size (`/proc/self/statm`), with the held pages a
    /// run on reused pages took up: counts OS thread stacks and TLS, which jemalloc never
    /// sees.
    Rss,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [Metric::Resident, Metric::Allocated, Metric::Rss];

    /// The metric's name (`resident`, `allocated`, `rss`).
    pub fn id(self) -> &'static str {
        match self {
            Metric::Resident => "resident",
            Metric::Allocated => "allocated",
            Metric::Rss => "rss",
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.id() == s)
            .ok_or_else(|| format!("unknown metric '{s}' (valid: resident, allocated, rss)"))
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Growth of every counter between the start of a run and its peak, in bytes (negative
/// when a counter shrank).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Growth of jemalloc's `stats.resident`, its unused dirty pages left out.
    pub resident: i64,
    /// Exact requested live bytes growth.
    pub requested: i64,
    /// The same allocations in jemalloc's size classes.
    pub usable: i64,
    /// Growth of the count of live allocations in jemalloc's large size classes (each
    /// padded by [`crate::probe::large_pad_bytes`] in resident memory).
    pub large: i64,
    /// Process RSS growth. In a run on reused pages ([`measure_reusing`]) the held pages it
    /// took up count too: they were resident before it.
    pub rss: i64,
}

/// A sample's figure for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    /// The bytes reported (never zero).
    pub bytes: u64,
    /// The page-granular counter grew by less than one page, which it cannot resolve; the
    /// figure is then the exact allocated bytes.
    pub below_resolution: bool,
}

impl Sample {
    /// The growth from `before` to `peak`.
    pub(crate) fn between(before: &Snapshot, peak: &Snapshot) -> Sample {
        Sample {
            resident: peak.resident as i64 - before.resident as i64,
            requested: peak.requested - before.requested,
            usable: peak.usable - before.usable,
            large: peak.large - before.large,
            rss: peak.rss as i64 - before.rss as i64,
        }
    }

    /// The figure for `metric`. Resident and RSS count whole pages: growth below one page
    /// cannot be resolved and falls back to the exact allocated bytes, flagged.
    pub fn value(&self, metric: Metric) -> Result<Value, Error> {
        let page = probe::os::page_size() as i64;
        let paged = match metric {
            Metric::Allocated => None,
            Metric::Resident => Some(self.resident),
            Metric::Rss => Some(self.rss),
        };
        match paged {
            Some(bytes) if bytes >= page => Ok(Value {
                bytes: bytes as u64,
                below_resolution: false,
            }),
            _ if self.requested > 0 => Ok(Value {
                bytes: self.requested as u64,
                below_resolution: paged.is_some(),
            }),
            _ => Err(Error::NothingMeasured(format!(
                "{metric} grew by {} B and the heap by {} B",
                paged.unwrap_or(self.requested),
                self.requested
            ))),
        }
    }

    /// Bytes per task of `metric` for a run of `n` tasks: [`Sample::value`] divided by `n`
    /// (with its fallback below a page: at N = 1, `resident` is 0 or whole pages).
    pub fn per_task(&self, metric: Metric, n: usize) -> Result<f64, Error> {
        if n == 0 {
            return Err(Error::Invalid("bytes per task of 0 tasks".into()));
        }
        Ok(self.value(metric)?.bytes as f64 / n as f64)
    }
}

/// How long the heap must stay unchanged before the peak is read.
pub const QUIET_FOR: Duration = Duration::from_millis(3);
/// The longest [`quiesce`] waits for the heap to stop changing.
pub const QUIET_TIMEOUT: Duration = Duration::from_millis(200);

/// Waits until the live heap bytes stop changing (for [`QUIET_FOR`], at most
/// [`QUIET_TIMEOUT`]). Runtimes built on async-io register timers through a queue that its
/// reactor thread drains into a B-tree, and multi-threaded schedulers may still be finishing
/// their first polls: the peak is the state the process then keeps for the whole sleep.
pub fn quiesce() {
    quiesce_on(crate::alloc::counters)
}

/// [`quiesce`] on any heap counter: waits until `read` returns the same value for
/// [`QUIET_FOR`] (at most [`QUIET_TIMEOUT`]). `read` must not allocate.
pub fn quiesce_on<T: PartialEq>(read: impl Fn() -> T) {
    let start = Instant::now();
    let mut last = read();
    let mut quiet_since = Instant::now();
    while start.elapsed() < QUIET_TIMEOUT {
        std::thread::sleep(Duration::from_micros(500));
        let now = read();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET_FOR {
            return;
        }
    }
}

static RUN_LOCK: Mutex<()> = Mutex::new(());

/// Serialises runs and measurements in this process: the counters are process-wide, so two
/// runs at once would see each other's bytes.
pub fn exclusive() -> MutexGuard<'static, ()> {
    RUN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the pages that earlier runs left held for the next one (with
/// [`crate::Tasks::reuse_pages`]) to the OS. Call it as a different workload starts: one
/// that started on another's held pages would keep more memory than its own peak.
pub fn return_held_pages() -> Result<(), Error> {
    Ok(probe::return_freed_pages()?)
}

/// [`return_held_pages`], or the process ends with one line (inside Criterion's routine,
/// which has no way to return an error).
pub(crate) fn return_held_pages_or_exit() {
    if let Err(e) = return_held_pages() {
        crate::error::exit_with(&e.to_string(), 1);
    }
}

/// Measures one run from fresh pages: returns every page jemalloc holds free to the OS
/// ([`probe::settle`]), reads every counter, then calls `run` with the closure to call at its
/// peak (which quiesces the heap and reads every counter again), and returns the growth
/// between the two readings. `run` must call it exactly once, with every task alive; a run
/// that never calls it is an error. The caller holds [`exclusive`]. Pages freed before the
/// peak go back to the OS at once (decay 0); those freed by the release are held and returned
/// in one purge when the run ends ([`probe::hold_freed_pages`]).
pub fn measure(run: impl FnOnce(&mut dyn FnMut()) -> Result<(), Error>) -> Result<Sample, Error> {
    measure_with(false, run)
}

/// [`measure`], reusing the pages the run before it freed when they are still held
/// ([`probe::start_run`]), and holding every page this run frees, from its start, for the next
/// one: the same resident and allocated bytes, without a page fault per page. See
/// [`crate::Tasks::reuse_pages`] for what RSS then reads.
pub fn measure_reusing(
    run: impl FnOnce(&mut dyn FnMut()) -> Result<(), Error>,
) -> Result<Sample, Error> {
    measure_with(true, run)
}

fn measure_with(
    reuse: bool,
    run: impl FnOnce(&mut dyn FnMut()) -> Result<(), Error>,
) -> Result<Sample, Error> {
    if !crate::alloc::installed() {
        return Err(Error::NoAllocator);
    }
    quiesce();
    if reuse {
        probe::start_run()?;
    } else {
        probe::settle()?;
    }
    let before = probe::snapshot()?;
    let mut peak: Option<Result<Snapshot, probe::ProbeError>> = None;
    let ran = run(&mut || {
        quiesce();
        peak = Some(probe::snapshot().and_then(|s| {
            if !reuse {
                // The release that follows keeps its freed pages until the run ends.
                probe::hold_freed_pages()?;
            }
            Ok(s)
        }));
    });
    // The pages the release freed go back to the OS now, in one purge per arena.
    let returned = if reuse {
        Ok(())
    } else {
        probe::return_freed_pages()
    };
    ran?;
    returned?;
    let peak = peak.ok_or_else(|| Error::Probe("the run never reached its peak".into()))??;
    let mut sample = Sample::between(&before, &peak);
    if reuse {
        // Held pages the run took up were resident before it: they count as its growth.
        sample.rss -= peak.dirty as i64 - before.dirty as i64;
    }
    Ok(sample)
}
