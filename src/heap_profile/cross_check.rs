//! dhat's requested bytes against jemalloc's `allocated` bytes from the memory suite's
//! summary: the figures, the check with its reason, and the sentence explaining them.

use serde::{Deserialize, Serialize};

use super::Profile;
use taskmem::summary;

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

/// The jemalloc figures of a case from the memory suite's summary.
pub(super) fn jemalloc_figures(summary: &summary::Summary, id: &str) -> Option<Jemalloc> {
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
pub(super) fn explain(profile: &Profile, jemalloc: &Jemalloc) -> String {
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
        let class = taskmem::alloc::size_class(size, 1);
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
pub(super) fn per_task(bytes: f64) -> String {
    format!("{bytes:.2} B")
}
