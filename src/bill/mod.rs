//! The bill of one task: what each task of a case holds at the peak, part by part, and what
//! to change.
//!
//! - **The future** ([`future`]): its state machine from the compiler's layout
//!   ([`layout`]), state by state with the locals each holds, the fattest state named by
//!   what it awaits, the futures it awaits as rows of their own, and the locals of the
//!   fattest state held across an await, with the bytes a change would save.
//! - **The runtime's share**: on tokio, the task cell around the future (its size from the
//!   same layouts: header, the future, the trailer, padded to 128 bytes on x86_64) and the
//!   `JoinHandle` kept per task; the allocator's size-class rounding.
//! - **The rest**, shown as such: exact allocated bytes per task beyond the parts above
//!   (what the task's own code allocated, and the runtime's other bookkeeping). This version
//!   does not yet tell them apart by allocation site.
//!
//! The parts add up to the measured figure (exact allocated bytes per task, the slope across
//! N); what no part explains is printed as the rest, never left out.

pub mod future;
pub mod layout;

use std::collections::BTreeMap;

use taskmem::summary::PairSummary;

use layout::TypeLayout;

/// The size of tokio's `JoinHandle` (one pointer), which taskmem's `Spawn` strategy keeps per
/// task in a `Vec`.
const JOIN_HANDLE_BYTES: f64 = 8.0;

/// The bill of one pair of a user's bench (its cases across N).
#[derive(Debug, Clone)]
pub struct Bill {
    /// The pair's id (`handler/tokio-mt/spawn`).
    pub id: String,
    /// Exact allocated bytes per task (slope across N).
    pub allocated: f64,
    /// jemalloc's size-class rounding per task (usable - allocated).
    pub rounding: f64,
    /// The future's state machine, or why it could not be had.
    pub future: Result<future::FutureBill, String>,
    /// Each part and its bytes per task, in the order printed; the last is the rest.
    pub parts: Vec<(String, f64)>,
}

/// The cell tokio allocates around a spawned future, from the layouts: the
/// `tokio::runtime::task::core::Cell<..>` whose task is `future` in taskmem's first-poll
/// wrapper (a newtype), on the scheduler of `runtime` (`tokio-mt`: the multi-thread one).
fn tokio_cell<'a>(
    types: &'a BTreeMap<String, TypeLayout>,
    future: &str,
    runtime: &str,
) -> Option<&'a TypeLayout> {
    // The cell's first type argument is the task itself: `Cell<..::FirstPoll<F>, Arc<..>>`
    // (not a cell whose task merely names F, like the block that spawns them).
    let task = format!("::FirstPoll<{future}>, std::sync::Arc<");
    let scheduler = if runtime == "tokio-ct" {
        "current_thread"
    } else {
        "multi_thread"
    };
    types.values().find(|t| {
        t.name
            .strip_prefix("tokio::runtime::task::core::Cell<")
            .is_some_and(|args| {
                args.split_once(&task).is_some_and(|(wrapper, handle)| {
                    !wrapper.contains('<') && handle.contains(scheduler)
                })
            })
    })
}

/// The bill of `pair`, a pair recorded from a user's bench (with its future's type and size),
/// from the bench's compiler layouts `types`.
pub fn of(pair: &PairSummary, types: &BTreeMap<String, TypeLayout>) -> Bill {
    let per = |key: &str| pair.bytes_per_task.get(key).copied().unwrap_or(0.0);
    let allocated = per("allocated");
    let rounding = per("usable") - allocated;
    let last = pair.cases.iter().rev().find(|c| c.future_type.is_some());
    let future = match (
        last.and_then(|c| c.future_type.as_deref()),
        pair.future_size,
    ) {
        (Some(ty), Some(size)) => {
            future::find(types, ty, size as u64).map(|layout| future::bill(types, layout))
        }
        _ => Err(
            "the summary does not record this pair's future type (measured by an \
                  older taskmem, or not through Tasks)"
                .into(),
        ),
    };
    let mut parts = Vec::new();
    let spawned_on_tokio = pair.runtime.starts_with("tokio") && pair.id.ends_with("/spawn");
    let future_bytes = pair.future_size.unwrap_or(0) as f64;
    match (&future, spawned_on_tokio) {
        (Ok(f), true) => match tokio_cell(types, &f.name, &pair.runtime) {
            Some(cell) => {
                parts.push((format!("the future ({})", f.name), future_bytes));
                parts.push((
                    format!(
                        "tokio's task cell around it (header, scheduler links, trailer; {} B in \
                         all, aligned to {} B)",
                        cell.size, cell.align
                    ),
                    cell.size as f64 - future_bytes,
                ));
                parts.push(("the JoinHandle kept per task".into(), JOIN_HANDLE_BYTES));
            }
            None => parts.push((
                format!("the future ({}; tokio's cell not in the layouts)", f.name),
                future_bytes,
            )),
        },
        _ => parts.push(("the future".into(), future_bytes)),
    }
    let known: f64 = parts.iter().map(|(_, b)| b).sum();
    parts.push((
        "the rest: heap the task's code allocated and the runtime's other bookkeeping, not \
         yet told apart by allocation site"
            .into(),
        allocated - known,
    ));
    Bill {
        id: pair.id.clone(),
        allocated,
        rounding,
        future,
        parts,
    }
}

impl Bill {
    /// The bill as lines of text, to print under the case's line.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "bill of {}: {:.0} B allocated per task (exact, slope across N), {:.0} B more in \
             jemalloc's size classes",
            self.id, self.allocated, self.rounding
        )];
        for (what, bytes) in &self.parts {
            out.push(format!("  {bytes:>9.0} B  {what}"));
        }
        match &self.future {
            Ok(f) => out.extend(f.lines(2)),
            Err(why) => out.push(format!("  the future's states: not read: {why}")),
        }
        out
    }
}
