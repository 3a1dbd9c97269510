//! `target/taskmem/dhat/summary.json`: its model, the per-pair slopes and checks, and the
//! merge of a run over an earlier summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Profile;
use super::cross_check::{CrossCheck, Jemalloc};
use crate::matrix::{self, Case};
use taskmem::summary::{self, Skip};

/// The dhat summary file's format version.
pub const FORMAT: u32 = 1;

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

/// Builds the per-pair slopes and checks from the profiled cases (in matrix order).
pub(super) fn pair_entries(
    cases: &[CaseEntry],
    jemalloc: Option<&summary::Summary>,
) -> Vec<PairEntry> {
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
pub(super) fn merge(
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
