//! dhat heap profiles of the memory suite's cases, beside jemalloc's figures.
//!
//! [`main`] is the whole `cargo bench --bench dhat` binary. For every case of the matrix
//! (default N = 1, 10K and 100K; `TASKMEM_SIZES` chooses others, 1M included), it makes one
//! unprofiled warm-up run, then one run under a [`dhat::Profiler`], reads dhat's
//! [`dhat::HeapStats`] just before the tasks are created and again at the peak (every task
//! alive and polled once, the heap quiet: see [`crate::workload`]), and prints per task:
//! the allocations (live blocks at the peak minus before, / N) and the requested bytes (live
//! bytes at the peak minus before, / N); per run: the live heap at the peak, dhat's own peak
//! over the profile and the bytes allocated from task creation to release. Each case's
//! profile is written to `target/taskmem/dhat/<runtime>/<strategy>/<N>/dhat-heap.json` (one
//! directory per segment of the case id, so `.../buffer_unordered/k1000/<N>/` for a bounded
//! case), for DHAT's viewer (`dh_view.html`), and every figure to
//! `target/taskmem/dhat/summary.json`.
//!
//! # What dhat counts
//!
//! dhat counts what goes through the global allocator while its profiler runs, on every
//! thread: each allocation (`alloc`, `alloc_zeroed`) and reallocation with the size the
//! program requested (`Layout::size`), and each free of a block it saw allocated. Its byte
//! figures are therefore *requested* bytes, the same quantity as the memory suite's exact
//! `allocated` metric; `dhat::Alloc` hands the calls to the system allocator (glibc malloc),
//! not to jemalloc, which changes no requested size. A reallocation counts as one more block
//! in dhat's totals (`total_blocks`) with its whole new size in `total_bytes`, while the live
//! figures move by the size difference only.
//!
//! # What dhat does not count
//!
//! - Size-class rounding, allocator metadata and page granularity: the bytes an allocator
//!   really hands out or keeps resident. The memory suite's `usable` (jemalloc size classes)
//!   and `resident` (jemalloc pages) figures, printed beside dhat's when
//!   `target/taskmem/summary.json` exists, show them.
//! - Memory that does not go through the global allocator: OS thread stacks and TLS (mapped
//!   by pthread), memory mapped by other code. An `os/threads` figure here is the heap part
//!   of a thread only; the memory suite's `rss` metric counts the rest.
//! - Blocks allocated before the profiler started: freeing one while it runs changes nothing
//!   (dhat ignores it) and reallocating one counts as a new block of its full new size. The
//!   profiler starts after the runtime is built and after the warm-up run, so what they
//!   allocate (the runtime, global executors and their threads) is not counted against the
//!   tasks.
//! - dhat's own bookkeeping (its block table and backtraces).
//!
//! # Cross-check with jemalloc
//!
//! dhat's requested bytes and jemalloc's `allocated` bytes count the same thing, so per task
//! they should agree to within jemalloc's size-class rounding of those allocations (`usable`
//! minus `allocated`). Each case and each runtime x strategy pair (slope across N) is checked;
//! a difference larger than that is flagged with its reason (see [`CrossCheck`]).
//!
//! # Cost and viewing
//!
//! dhat takes a backtrace at every allocation, so a profiled run is several times slower
//! than the unprofiled warm-up (both times are printed per case): 1M runs only on request.
//! The viewer shows function names; for file and line too, build the bench with line tables:
//! `CARGO_PROFILE_BENCH_DEBUG=line-tables-only cargo bench --bench dhat` (a full rebuild).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Filter, parse_sizes};
use crate::matrix::{self, Case, Runtime};
use crate::measurement::format_bytes;
use crate::progress::Progress;
use crate::summary::{self, Skip};
use crate::workload::{CaseError, Driver, RunOptions, exclusive};

/// The default task counts: 1M takes about 7x longer under dhat and runs only when
/// `TASKMEM_SIZES` asks for it.
pub const DEFAULT_SIZES: [usize; 3] = [1, 10_000, 100_000];

/// The dhat summary file's format version.
pub const FORMAT: u32 = 1;

/// The bench's settings: `TASKMEM_SIZES` and a Criterion-style filter.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Task counts to run.
    pub sizes: Vec<usize>,
    /// Which cases run (a regex on the case id, or `--exact ID`).
    pub filter: Filter,
    /// `--list`: print the cases, run nothing.
    pub list_only: bool,
}

impl Settings {
    /// Reads `TASKMEM_SIZES` and the bench's arguments (program name excluded).
    pub fn from_env_and_args(args: &[String]) -> Result<Settings, String> {
        Settings::from_parts(std::env::var("TASKMEM_SIZES").ok().as_deref(), args)
    }

    /// The same from explicit values. The error is one line, without the `taskmem: ` prefix
    /// that [`error_line`] adds.
    pub fn from_parts(sizes: Option<&str>, args: &[String]) -> Result<Settings, String> {
        let sizes = match sizes {
            Some(s) => parse_sizes(s).map_err(|e| format!("TASKMEM_SIZES: {e}"))?,
            None => DEFAULT_SIZES.to_vec(),
        };
        // The suite's own parsing of Criterion's command line: the first argument that is not
        // an option is the filter; `--exact` and `--list` work as in Criterion.
        let config = Config::from_parts(None, None, args)?;
        Ok(Settings {
            sizes,
            filter: config.filter,
            list_only: config.list_only,
        })
    }

    /// The cases to run, in matrix order.
    pub fn cases(&self) -> Vec<Case> {
        matrix::cases(&self.sizes)
            .into_iter()
            .filter(|c| self.filter.matches(&c.id()))
            .collect()
    }
}

/// The line printed on stderr for bad input: `taskmem: <message>`, on one line.
pub fn error_line(message: &str) -> String {
    format!("taskmem: {}", message.replace('\n', " "))
}

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

/// A case's figures from the memory suite's summary (`cargo bench --bench memory`), per task:
/// the median over its sampled runs divided by N.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Jemalloc {
    /// Exact requested live bytes (taskmem's wrapper around jemalloc).
    pub allocated_per_task: f64,
    /// The same allocations in jemalloc's size classes.
    pub usable_per_task: f64,
    /// jemalloc `stats.resident` growth: whole pages, metadata included.
    pub resident_per_task: f64,
    /// The smallest `allocated` run.
    pub allocated_min_per_task: f64,
    /// The largest `allocated` run.
    pub allocated_max_per_task: f64,
    /// The memory suite's sampled runs of the case, which the figures summarise.
    pub runs: usize,
}

/// dhat's requested bytes against jemalloc's `allocated` bytes, per task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossCheck {
    /// dhat's requested bytes minus jemalloc's allocated bytes.
    pub difference_per_task: f64,
    /// jemalloc's size-class rounding of the same allocations (usable minus allocated): the
    /// largest difference accepted.
    pub rounding_per_task: f64,
    /// The difference is larger than the rounding.
    pub flagged: bool,
    /// Why the figures differ, when they do.
    pub reason: Option<String>,
}

/// One case in the dhat summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEntry {
    /// dhat's figures.
    #[serde(flatten)]
    pub profile: Profile,
    /// The memory suite's figures, when its summary has the case.
    pub jemalloc: Option<Jemalloc>,
    /// The comparison, when there are jemalloc figures.
    pub cross_check: Option<CrossCheck>,
}

/// One runtime x strategy pair in the dhat summary: least-squares slopes across N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairEntry {
    /// `runtime/strategy`.
    pub id: String,
    /// The task counts dhat measured.
    pub sizes: Vec<usize>,
    /// Slope of dhat's live blocks across N.
    pub allocations_per_task: f64,
    /// Slope of dhat's requested bytes across N.
    pub requested_bytes_per_task: f64,
    /// The memory suite's slopes (`allocated`, `usable`, `resident`) across the N both
    /// measured, from its medians, when its summary has the pair.
    pub jemalloc: Option<BTreeMap<String, f64>>,
    /// The comparison, when there are jemalloc figures.
    pub cross_check: Option<CrossCheck>,
}

/// `target/taskmem/dhat/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DhatSummary {
    /// [`FORMAT`].
    pub format: u32,
    /// `taskmem <version>`.
    pub tool: String,
    /// Unix time of the last update.
    pub updated_unix: u64,
    /// The memory suite summary the jemalloc figures came from, or why there are none.
    pub jemalloc_source: String,
    /// Profiled cases, in matrix order.
    pub cases: Vec<CaseEntry>,
    /// Per pair slopes, in matrix order.
    pub pairs: Vec<PairEntry>,
    /// Cases skipped, with reasons.
    pub skipped: Vec<Skip>,
}

/// `$CARGO_TARGET_DIR/taskmem/dhat` or `target/taskmem/dhat`.
pub fn output_dir() -> PathBuf {
    summary::default_path()
        .parent()
        .map_or_else(|| PathBuf::from("taskmem"), Path::to_path_buf)
        .join("dhat")
}

/// Where a case's profile is written: `<output_dir>/<runtime>/<strategy>/<N>/dhat-heap.json`.
pub fn profile_path(case: &Case) -> PathBuf {
    case.id()
        .split('/')
        .fold(output_dir(), |dir, part| dir.join(part))
        .join("dhat-heap.json")
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

/// The memory suite's quiescence ([`crate::sample::quiesce_on`]) on dhat's counters:
/// taskmem's jemalloc counters do not move under `dhat::Alloc`.
fn quiesce() {
    crate::sample::quiesce_on(|| {
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
pub fn profile_case_around(
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

/// The jemalloc figures of a case from the memory suite's summary.
pub fn jemalloc_figures(summary: &summary::Summary, id: &str) -> Option<Jemalloc> {
    let case = summary
        .pairs
        .iter()
        .flat_map(|p| &p.cases)
        .find(|c| c.id == id)?;
    let n = case.n as f64;
    let m = |key: &str| case.metrics.get(key);
    let allocated = m("allocated")?;
    Some(Jemalloc {
        allocated_per_task: allocated.median / n,
        usable_per_task: m("usable")?.median / n,
        resident_per_task: m("resident")?.median / n,
        allocated_min_per_task: allocated.min / n,
        allocated_max_per_task: allocated.max / n,
        runs: case.values.len(),
    })
}

/// Compares dhat's requested bytes with jemalloc's exact `allocated` bytes for one case.
///
/// Both count requested bytes, so the accepted difference is jemalloc's size-class rounding of
/// the same allocations (`usable` minus `allocated`), compared on whole-run bytes. A larger
/// difference is flagged with its reason: inside the range of jemalloc's own runs it is
/// run-to-run variation; outside it, the two runs did not allocate the same bytes.
pub fn cross_check(profile: &Profile, jemalloc: &Jemalloc) -> CrossCheck {
    let n = profile.n as f64;
    let dhat = profile.requested_bytes_per_task;
    let difference = dhat - jemalloc.allocated_per_task;
    let rounding = jemalloc.usable_per_task - jemalloc.allocated_per_task;
    // Compared on the whole run's bytes (integers, or halves for an even median count), so a
    // per-task division cannot tip an exact match over the limit.
    let flagged = (difference * n).abs() > (rounding * n).abs() + 1e-6;
    let (lo, hi) = (
        jemalloc.allocated_min_per_task,
        jemalloc.allocated_max_per_task,
    );
    let reason = if !flagged {
        None
    } else if (lo..=hi).contains(&dhat) {
        Some(format!(
            "run-to-run variation: jemalloc's {} runs of this case ranged {}-{} per task and \
             dhat's one run ({}) falls inside; the median is what differs",
            jemalloc.runs,
            per_task(lo),
            per_task(hi),
            per_task(dhat)
        ))
    } else {
        Some(format!(
            "the runs did not allocate the same: dhat's run is {:+.0} B from the median \
             jemalloc run and outside the {}-{} per task its {} runs spanned (the dhat \
             profile shows where the bytes were allocated; rerun `cargo bench --bench memory \
             -- '^{}$'` if the code changed since its summary was written)",
            difference * n,
            per_task(lo),
            per_task(hi),
            jemalloc.runs,
            profile.id
        ))
    };
    CrossCheck {
        difference_per_task: difference,
        rounding_per_task: rounding,
        flagged,
        reason,
    }
}

/// One sentence on what the per-task figures are made of, in jemalloc's terms.
///
/// "One 184-byte allocation per task, rounded up to jemalloc's 192-byte size class" is said
/// only when the figures prove it: one block per task (besides a few blocks per run), and
/// jemalloc's measured rounding equal to that size's size class. Otherwise the sentence gives
/// the counts without guessing the block sizes.
pub fn explain(profile: &Profile, jemalloc: &Jemalloc) -> String {
    let n = profile.n as f64;
    let rounding = jemalloc.usable_per_task - jemalloc.allocated_per_task;
    let resident = if profile.n == 1 {
        format!(
            "{} resident in jemalloc (whole pages: at N = 1 the pages the first allocations \
             touched, not a per-task cost)",
            per_task(jemalloc.resident_per_task)
        )
    } else {
        format!(
            "{} per task resident in jemalloc (whole pages and metadata)",
            per_task(jemalloc.resident_per_task)
        )
    };
    let per_block = (profile.blocks as f64 / n).round();
    // One block per task, apart from at most 1 % of N blocks that the run allocates once.
    let one_each = (profile.blocks - profile.n as i64).abs() as f64 <= 0.01 * n;
    let size = profile.requested_bytes_per_task.round().max(0.0) as usize;
    if one_each && size > 0 {
        let class = crate::alloc::size_class(size, 1);
        if ((class - size) as f64 - rounding).abs() < 0.5 {
            let rounded = if class == size {
                "already one of jemalloc's size classes".to_string()
            } else {
                format!("rounded up to jemalloc's {class}-byte size class")
            };
            return format!("one {size}-byte allocation per task, {rounded}; {resident}");
        }
    }
    if profile.n == 1 {
        return format!(
            "{} allocations holding {} for the one task and the run around it (at N = 1 \
             what the run allocates once counts in full); jemalloc's size classes add {}; \
             {resident}",
            profile.blocks,
            per_task(profile.requested_bytes_per_task),
            per_task(rounding)
        );
    }
    if per_block == 0.0 {
        return format!(
            "no allocation of its own per task: the {} per task sit in buffers allocated once \
             for all tasks; jemalloc's size classes add {} per task; {resident}",
            per_task(profile.requested_bytes_per_task),
            per_task(rounding)
        );
    }
    let shared = if (profile.allocations_per_task - per_block).abs() >= 0.005 {
        " (a fraction: some blocks serve several tasks)"
    } else {
        ""
    };
    format!(
        "{:.2} allocations per task{shared} holding {}, shares of buffers allocated once for \
         all tasks included; jemalloc's size classes add {} per task; {resident}",
        profile.allocations_per_task,
        per_task(profile.requested_bytes_per_task),
        per_task(rounding)
    )
}

/// Per-task figures with two decimals: `184.00 B`.
fn per_task(bytes: f64) -> String {
    format!("{bytes:.2} B")
}

/// Builds the per-pair slopes and checks from the profiled cases (in matrix order).
pub fn pair_entries(cases: &[CaseEntry], jemalloc: Option<&summary::Summary>) -> Vec<PairEntry> {
    let mut out = Vec::new();
    for pair in matrix::pairs() {
        let prefix = format!("{}/", pair.id());
        let mine: Vec<&CaseEntry> = cases
            .iter()
            .filter(|c| {
                c.profile
                    .id
                    .strip_prefix(&prefix)
                    .is_some_and(|n| n.parse::<usize>().is_ok())
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let pts = |f: &dyn Fn(&CaseEntry) -> f64| -> Vec<(f64, f64)> {
            mine.iter().map(|c| (c.profile.n as f64, f(c))).collect()
        };
        let allocations = summary::slope(&pts(&|c| c.profile.blocks as f64));
        let requested = summary::slope(&pts(&|c| c.profile.bytes as f64));
        // jemalloc's slopes over the same N as dhat's, from the memory suite's medians.
        let both: Vec<&&CaseEntry> = mine.iter().filter(|c| c.jemalloc.is_some()).collect();
        let (jem, check) = if jemalloc.is_some() && !both.is_empty() {
            let slope_of = |f: fn(&Jemalloc) -> f64| {
                summary::slope(
                    &both
                        .iter()
                        .map(|c| {
                            let n = c.profile.n as f64;
                            (n, f(c.jemalloc.as_ref().expect("filtered")) * n)
                        })
                        .collect::<Vec<_>>(),
                )
            };
            let allocated = slope_of(|j| j.allocated_per_task);
            let usable = slope_of(|j| j.usable_per_task);
            let resident = slope_of(|j| j.resident_per_task);
            let dhat = summary::slope(
                &both
                    .iter()
                    .map(|c| (c.profile.n as f64, c.profile.bytes as f64))
                    .collect::<Vec<_>>(),
            );
            let difference = dhat - allocated;
            let rounding = usable - allocated;
            let flagged = difference.abs() > rounding.abs() + 1e-9 * allocated.abs().max(1.0);
            let flagged_cases: Vec<String> = both
                .iter()
                .filter(|c| c.cross_check.as_ref().is_some_and(|x| x.flagged))
                .map(|c| c.profile.id.clone())
                .collect();
            let reason = flagged.then(|| {
                if flagged_cases.is_empty() {
                    "the slopes differ though every case agrees within its rounding: the \
                     per-case differences add up across N"
                        .to_string()
                } else {
                    format!(
                        "follows from the flagged case(s) {}",
                        flagged_cases.join(", ")
                    )
                }
            });
            let mut map = BTreeMap::new();
            map.insert("allocated".to_string(), allocated);
            map.insert("usable".to_string(), usable);
            map.insert("resident".to_string(), resident);
            (
                Some(map),
                Some(CrossCheck {
                    difference_per_task: difference,
                    rounding_per_task: rounding,
                    flagged,
                    reason,
                }),
            )
        } else {
            (None, None)
        };
        out.push(PairEntry {
            id: pair.id(),
            sizes: mine.iter().map(|c| c.profile.n).collect(),
            allocations_per_task: allocations,
            requested_bytes_per_task: requested,
            jemalloc: jem,
            cross_check: check,
        });
    }
    out
}

/// Merges this run's cases and skips over an earlier dhat summary (a filtered run updates only
/// its cases), in matrix order.
pub fn merge(
    earlier: Option<DhatSummary>,
    measured: Vec<CaseEntry>,
    skipped: Vec<Skip>,
    jemalloc: Option<&summary::Summary>,
    jemalloc_source: String,
) -> DhatSummary {
    let mut cases: BTreeMap<String, CaseEntry> = BTreeMap::new();
    let mut skips: BTreeMap<String, String> = BTreeMap::new();
    if let Some(e) = earlier {
        cases.extend(e.cases.into_iter().map(|c| (c.profile.id.clone(), c)));
        skips.extend(e.skipped.into_iter().map(|s| (s.id, s.reason)));
    }
    for c in measured {
        skips.remove(&c.profile.id);
        cases.insert(c.profile.id.clone(), c);
    }
    for s in skipped {
        cases.remove(&s.id);
        skips.insert(s.id, s.reason);
    }
    let order = |id: &str| id.parse::<Case>().ok();
    let mut cases: Vec<CaseEntry> = cases.into_values().collect();
    cases.sort_by_key(|c| order(&c.profile.id));
    let mut skipped: Vec<Skip> = skips
        .into_iter()
        .map(|(id, reason)| Skip { id, reason })
        .collect();
    skipped.sort_by_key(|s| order(&s.id));
    DhatSummary {
        format: FORMAT,
        tool: format!("taskmem {}", env!("CARGO_PKG_VERSION")),
        updated_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        jemalloc_source,
        pairs: pair_entries(&cases, jemalloc),
        cases,
        skipped,
    }
}

/// Prints one profiled case: dhat's figures, jemalloc's beside them, the check.
fn print_case(entry: &CaseEntry, have_summary: bool) {
    let p = &entry.profile;
    let pad = "   ";
    println!("{}", p.id);
    println!(
        "{pad}dhat      {:.2} allocations/task | {} requested/task | heap at peak {} (dhat max {}) | {} allocated over the run in {} blocks | run {:.2} s profiled, {:.2} s unprofiled",
        p.allocations_per_task,
        per_task(p.requested_bytes_per_task),
        format_bytes(p.peak_bytes as f64),
        format_bytes(p.max_bytes as f64),
        format_bytes(p.total_bytes as f64),
        p.total_blocks,
        p.profiled_seconds,
        p.warm_up_seconds,
    );
    match (&entry.jemalloc, &entry.cross_check) {
        (Some(j), Some(x)) => {
            println!(
                "{pad}jemalloc  allocated {} | usable {} | resident {} per task (medians of the memory suite's {} sampled runs)",
                per_task(j.allocated_per_task),
                per_task(j.usable_per_task),
                per_task(j.resident_per_task),
                j.runs,
            );
            let verdict = if x.flagged { "FLAGGED" } else { "ok" };
            println!(
                "{pad}check     dhat requested - jemalloc allocated = {:+.1} B over the run ({:+.2} B/task); size-class rounding {}/task: {verdict}",
                x.difference_per_task * p.n as f64,
                x.difference_per_task,
                per_task(x.rounding_per_task),
            );
            if let Some(reason) = &x.reason {
                println!("{pad}          reason: {reason}");
            }
            println!("{pad}          {}", explain(p, j));
        }
        _ if have_summary => println!(
            "{pad}jemalloc  the memory suite's summary has no figures for this case (`cargo bench --bench memory -- '^{}$'` adds them)",
            p.id
        ),
        _ => println!("{pad}jemalloc  no memory suite summary: nothing to cross-check"),
    }
    if let Some(file) = &p.file {
        println!("{pad}profile   {file}");
    }
}

/// Prints the per-pair table.
fn print_pairs(pairs: &[PairEntry]) {
    println!(
        "\n{:<30} {:>9} {:>10} {:>10} {:>10} {:>10}  check (bytes per task: slope across the N profiled)",
        "pair", "allocs", "dhat req", "allocated", "usable", "resident"
    );
    for p in pairs {
        let j = |k: &str| {
            p.jemalloc
                .as_ref()
                .and_then(|m| m.get(k))
                .map_or("-".to_string(), |v| format!("{v:.2}"))
        };
        let check = match &p.cross_check {
            None => "no jemalloc figures".to_string(),
            Some(x) if x.flagged => format!(
                "FLAGGED: {:+.2} B/task, rounding {:.2}: {}",
                x.difference_per_task,
                x.rounding_per_task,
                x.reason.as_deref().unwrap_or("")
            ),
            Some(x) => format!(
                "ok ({:+.2} B/task, rounding {:.2})",
                x.difference_per_task, x.rounding_per_task
            ),
        };
        println!(
            "{:<30} {:>9.4} {:>10.2} {:>10} {:>10} {:>10}  {check}",
            p.id,
            p.allocations_per_task,
            p.requested_bytes_per_task,
            j("allocated"),
            j("usable"),
            j("resident"),
        );
    }
}

/// Reads the memory suite's summary for the cross-check; `Err` says why there is none.
fn load_jemalloc() -> Result<(summary::Summary, PathBuf), String> {
    let path = summary::default_path();
    if !path.exists() {
        return Err(format!(
            "no memory suite summary at {} (run `cargo bench --bench memory` for the jemalloc cross-check)",
            path.display()
        ));
    }
    summary::load(&path).map(|s| (s, path))
}

/// The bench binary's `main`: profile the configured cases under dhat.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::from_env_and_args(&args).unwrap_or_else(|e| {
        eprintln!("{}", error_line(&e));
        std::process::exit(2)
    });
    let cases = settings.cases();
    if settings.list_only {
        for c in &cases {
            println!("{}: dhat profile", c.id());
        }
        return;
    }
    if cases.is_empty() {
        println!("taskmem: no case matches the filter");
        return;
    }
    let (jemalloc, source) = match load_jemalloc() {
        Ok((s, path)) => {
            let source = path.display().to_string();
            println!("taskmem: jemalloc figures from {source}");
            (Some(s), source)
        }
        Err(why) => {
            println!("taskmem: no jemalloc cross-check: {why}");
            (None, why)
        }
    };
    let started = Instant::now();
    // About 11 s on the default sizes: a bar on a terminal, nothing in a log. No steady tick:
    // the bar draws only between cases, never inside a profiled run.
    let progress = Progress::new(cases.len(), "dhat profiles");
    let mut measured: Vec<CaseEntry> = Vec::new();
    let mut skipped: Vec<Skip> = Vec::new();
    let mut failed = 0;
    for runtime in Runtime::ALL {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.runtime == runtime).collect();
        if mine.is_empty() {
            continue;
        }
        let driver = match Driver::new(runtime) {
            Ok(d) => d,
            Err(e) => {
                progress.suspend(|| eprintln!("taskmem: {runtime}: {e}"));
                failed += mine.len();
                mine.iter().for_each(|_| progress.inc());
                continue;
            }
        };
        for case in mine {
            let id = case.id();
            progress.case(&id);
            let output = Output::File(profile_path(case));
            let around = |stop: &mut dyn FnMut()| progress.suspend(stop);
            match profile_case_around(&driver, case, &RunOptions::default(), &output, &around) {
                Ok(profile) => {
                    let jem = jemalloc.as_ref().and_then(|s| jemalloc_figures(s, &id));
                    let check = jem.as_ref().map(|j| cross_check(&profile, j));
                    let entry = CaseEntry {
                        profile,
                        jemalloc: jem,
                        cross_check: check,
                    };
                    progress.suspend(|| print_case(&entry, jemalloc.is_some()));
                    measured.push(entry);
                }
                Err(CaseError::Skipped(why)) => {
                    progress.println(&format!("{id}: skipped: {why}"));
                    skipped.push(Skip { id, reason: why });
                }
                Err(CaseError::Failed(why)) => {
                    progress.suspend(|| eprintln!("taskmem: {id}: failed: {why}"));
                    failed += 1;
                }
            }
            progress.inc();
        }
    }
    progress.finish();
    let elapsed = started.elapsed();
    let flagged: Vec<String> = measured
        .iter()
        .filter(|c| c.cross_check.as_ref().is_some_and(|x| x.flagged))
        .map(|c| c.profile.id.clone())
        .collect();
    let path = output_dir().join("summary.json");
    let earlier = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<DhatSummary>(&t).ok())
        .filter(|s| s.format == FORMAT);
    let merged = merge(earlier, measured, skipped, jemalloc.as_ref(), source);
    print_pairs(&merged.pairs);
    match serde_json::to_vec_pretty(&merged) {
        Ok(json) => match summary::write_atomic(&path, &json) {
            Ok(()) => println!("\ntaskmem: dhat summary written to {}", path.display()),
            Err(e) => {
                eprintln!("{}", error_line(&e));
                std::process::exit(1)
            }
        },
        Err(e) => {
            eprintln!(
                "{}",
                error_line(&format!("cannot encode the dhat summary: {e}"))
            );
            std::process::exit(1)
        }
    }
    println!(
        "taskmem: profiled in {:.1} s; profiles open in DHAT's viewer (dh_view.html, \"Load...\")",
        elapsed.as_secs_f64()
    );
    if !flagged.is_empty() {
        println!(
            "taskmem: {} case(s) differ from jemalloc by more than its size-class rounding: {}",
            flagged.len(),
            flagged.join(", ")
        );
    }
    if failed > 0 {
        eprintln!("{}", error_line(&format!("{failed} case(s) failed")));
        std::process::exit(1);
    }
}
