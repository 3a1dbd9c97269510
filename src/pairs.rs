//! The matrix's pairs in the summary file: what the suite knows about its own pairs that
//! their ids alone do not say, filled in after every merge ([`pairing`], the summary's
//! [`Pairing`](taskmem::summary::Pairing)).
//!
//! A matrix pair (`runtime/strategy[/kK][/pP-place]`) carries its payload or bound; each async
//! pair that is not bounded carries a [`Breakdown`] of its bytes per task: the future's
//! `size_of_val`, the payload's heap bytes, the runtime's (or combinator's) per-task header,
//! the allocator's rounding, and the unexplained rest (a payload pair also its plain pair's
//! header beside its own). A bounded pair carries its bytes per live task instead (its bytes
//! are flat in N). The matrix's pairs come first, in matrix order, then a user's; the pairs
//! that do not exist are listed with their reasons.

use taskmem::summary::{Breakdown, PairSummary, PerTask, Skip, Summary};

use crate::matrix::{Pair, Payload};

/// Fills in the matrix's pairs of a merged summary (see the module's docs).
pub fn pairing(summary: &mut Summary) {
    let pad = summary.machine.jemalloc_large_pad.unwrap_or(0) as f64;
    let mut matrix: Vec<(Pair, PairSummary)> = Vec::new();
    let mut own = Vec::new();
    for p in std::mem::take(&mut summary.pairs) {
        match p.id.parse::<Pair>() {
            Ok(pair) => matrix.push((pair, pair_summary(pair, p.cases, pad))),
            Err(_) => own.push(p),
        }
    }
    matrix.sort_by_key(|(pair, _)| *pair);
    // A payload pair's header beside its plain pair's.
    let plain_headers: std::collections::BTreeMap<Pair, f64> = matrix
        .iter()
        .filter(|(p, _)| p.payload.is_none())
        .filter_map(|(p, s)| Some((*p, s.breakdown?.header?)))
        .collect();
    for (pair, s) in &mut matrix {
        if let (Some(_), Some(b)) = (pair.payload, s.breakdown.as_mut()) {
            b.header_plain = plain_headers.get(&pair.plain()).copied();
        }
    }
    summary.pairs = matrix.into_iter().map(|(_, s)| s).chain(own).collect();
    summary.unsupported = crate::matrix::unsupported()
        .into_iter()
        .map(|(p, why)| Skip {
            id: p.id(),
            reason: why.to_string(),
        })
        .collect();
}

/// The payload of a matrix pair's summary, where it has one.
pub fn payload(pair: &PairSummary) -> Option<Payload> {
    serde_json::from_value(pair.payload.clone()?).ok()
}

/// One matrix pair's summary from its cases; `pad` is jemalloc's large-allocation pad.
fn pair_summary(pair: Pair, cases: Vec<taskmem::summary::CaseSummary>, pad: f64) -> PairSummary {
    let mut s = PairSummary::of(pair.id(), cases, pad);
    let future_size = s
        .future_size
        .or_else(|| crate::workload::future_size(&pair.case(1)));
    s.breakdown = match (future_size, pair.bound()) {
        (Some(future), None) => Some(Breakdown::compute(
            PerTask::of(&s.cases, &s.bytes_per_task, pad),
            future,
            Some(pair.payload.map_or(0, |p| p.heap_bytes())),
        )),
        _ => None,
    };
    s.bytes_per_live_task = pair.bound().and_then(|_| {
        let last = s.cases.last()?;
        let live = pair.case(last.n).live_tasks().max(1);
        Some(last.value.median / live as f64)
    });
    s.runtime = pair.runtime.describe().to_string();
    s.future_size = future_size;
    s.payload = pair.payload.and_then(|p| serde_json::to_value(p).ok());
    s.bound = pair.bound();
    s
}
