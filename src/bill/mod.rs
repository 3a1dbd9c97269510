//! The bill of one task: what each task of a case holds at the peak, part by part, and what
//! to change.
//!
//! - **By allocation site** ([`sites`]): every block the tasks hold at the peak, from a site
//!   recording of the run ([`taskmem::Tasks::sites`]), per task and by whose code allocated
//!   it: the bench's own line, a library called from it, the runtime (tokio's task cell, with
//!   the future and the cell's own share read from the layouts; tokio's boxed future past its
//!   threshold and the smaller cell around it; the runtime's other blocks by file and line),
//!   taskmem's harness; with each site's size-class rounding.
//! - **The future** ([`future`]): its state machine from the compiler's layout
//!   ([`layout`]), state by state with the locals each holds, the fattest state named by
//!   what it awaits, the futures it awaits as rows of their own, and the locals of the
//!   fattest state held across an await, with the bytes a change would save.
//! - Without sites (none recorded, or no way to name them): the future, tokio's cell and the
//!   `JoinHandle` from the layouts, and the rest by difference, said as such.
//!
//! The parts add up to the measured figure (exact allocated bytes per task, the slope across
//! N); what no part explains is printed as the rest, never left out.

pub mod future;
pub mod layout;
pub mod sites;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use taskmem::summary::PairSummary;

use layout::TypeLayout;
use sites::{Owner, SiteShare};

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
    pub parts: Vec<Part>,
    /// What could not be had (the allocation sites, and why), printed above the parts.
    pub notes: Vec<String>,
    /// Whether the parts are allocation sites (else the future, the cell and the handle,
    /// with the rest by difference).
    pub by_site: bool,
}

/// The cells tokio allocates around a spawned future, from the layouts: the
/// `tokio::runtime::task::core::Cell<..>` whose task is `future` in taskmem's first-poll
/// wrapper (a newtype), on the scheduler of `runtime` (`tokio-mt`: the multi-thread one):
/// the cell that holds the future itself, and the one that holds it boxed (tokio boxes a
/// future past its threshold; both can be compiled, where tokio decides at run time).
fn tokio_cells<'a>(
    types: &'a BTreeMap<String, TypeLayout>,
    future: &str,
    runtime: &str,
) -> (Option<&'a TypeLayout>, Option<&'a TypeLayout>) {
    // The cell's first type argument is the task itself: `Cell<..::FirstPoll<F>, Arc<..>>`
    // (not a cell whose task merely names F, like the block that spawns them), or
    // `Cell<Pin<Box<..::FirstPoll<F>>>, Arc<..>>` when tokio boxed it.
    let inline = format!("::FirstPoll<{future}>, std::sync::Arc<");
    let boxed = format!("::FirstPoll<{future}>>>, std::sync::Arc<");
    let scheduler = if runtime == "tokio-ct" {
        "current_thread"
    } else {
        "multi_thread"
    };
    let cell = |pattern: &str, prefix: &str| {
        types.values().find(|t| {
            t.name
                .strip_prefix("tokio::runtime::task::core::Cell<")
                .and_then(|args| args.split_once(pattern))
                .and_then(|(wrapper, handle)| Some((wrapper.strip_prefix(prefix)?, handle)))
                .is_some_and(|(wrapper, handle)| {
                    !wrapper.contains('<') && handle.contains(scheduler)
                })
        })
    };
    (
        cell(&inline, ""),
        cell(&boxed, "std::pin::Pin<std::boxed::Box<"),
    )
}

/// tokio's box threshold in a release build (`BOX_FUTURE_THRESHOLD`; 2 KiB with debug
/// assertions): a larger future is boxed before it is spawned.
const TOKIO_BOX_THRESHOLD: usize = 16 * 1024;

/// Which of the two cells ([`tokio_cells`]) the run allocated: the one whose size the
/// task-cell site's blocks have, or, without sites, by the future's size against tokio's
/// release threshold. True when it is the boxed one.
fn tokio_cell<'a>(
    cells: (Option<&'a TypeLayout>, Option<&'a TypeLayout>),
    sites: Option<&[SiteShare]>,
    future_size: usize,
) -> Option<(&'a TypeLayout, bool)> {
    let seen = sites.and_then(|shares| {
        shares
            .iter()
            .find(|s| {
                s.owner == Owner::Runtime("tokio".into()) && s.function.contains("runtime::task::")
            })
            .and_then(|s| s.block_size)
    });
    let (inline, boxed) = cells;
    match seen {
        Some(size) if inline.is_some_and(|c| c.size == size) => inline.map(|c| (c, false)),
        Some(size) if boxed.is_some_and(|c| c.size == size) => boxed.map(|c| (c, true)),
        _ if future_size > TOKIO_BOX_THRESHOLD && boxed.is_some() => boxed.map(|c| (c, true)),
        _ => inline.map(|c| (c, false)).or(boxed.map(|c| (c, true))),
    }
}

/// The bill of `pair`, a pair recorded from a user's bench (with its future's type and size),
/// from the bench's compiler layouts `types` and, when the run recorded them, its allocation
/// sites per task (`sites`; the reason when there are none).
pub fn of(
    pair: &PairSummary,
    types: &BTreeMap<String, TypeLayout>,
    sites: Result<Vec<SiteShare>, String>,
) -> Bill {
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
    let future_bytes = pair.future_size.unwrap_or(0) as f64;
    // A user's case records its runtime's id; the suite's carry it in their id.
    let runtime = last
        .and_then(|c| c.runtime.clone())
        .unwrap_or_else(|| pair.id.split('/').next().unwrap_or("").to_string());
    let on_tokio = runtime.starts_with("tokio");
    let cell = match (&future, on_tokio) {
        (Ok(f), true) => tokio_cell(
            tokio_cells(types, &f.name, &runtime),
            sites.as_deref().ok(),
            pair.future_size.unwrap_or(0),
        ),
        _ => None,
    };
    let future_name = future
        .as_ref()
        .map_or("the future".to_string(), |f| f.name.clone());
    let mut parts = Vec::new();
    let mut notes = Vec::new();
    let recorded = sites.is_ok();
    match sites {
        Ok(shares) => {
            // Sites of blocks that do not grow with N (under half a byte per task) are left to
            // the rest, and counted.
            let (shares, fixed): (Vec<SiteShare>, Vec<SiteShare>) =
                shares.into_iter().partition(|s| s.bytes.abs() >= 0.5);
            if !fixed.is_empty() {
                notes.push(format!(
                    "{} site{} more, under half a byte per task each (blocks that do not grow \
                     with N), left in the rest",
                    fixed.len(),
                    if fixed.len() == 1 { "" } else { "s" }
                ));
            }
            for share in &shares {
                parts.push(Part {
                    what: site_label(share, &future_name, future_bytes, cell),
                    whose: Whose::of(&share.owner),
                    bytes: share.bytes,
                    rounding: share.usable - share.bytes,
                });
            }
        }
        Err(why) => {
            notes.push(format!("allocation sites: not recorded: {why}"));
            let spawned_on_tokio = on_tokio && pair.id.ends_with("/spawn");
            match (cell, spawned_on_tokio) {
                (Some((cell, false)), true) => {
                    parts.push(Part::of(
                        format!("the future ({future_name})"),
                        Whose::Yours,
                        future_bytes,
                    ));
                    parts.push(Part::of(
                        format!(
                            "tokio's task cell around it (header, scheduler links, trailer; \
                             {} B in all, aligned to {} B)",
                            cell.size, cell.align
                        ),
                        Whose::Runtime,
                        cell.size as f64 - future_bytes,
                    ));
                    parts.push(Part::of(
                        "the JoinHandle kept per task".into(),
                        Whose::Taskmem,
                        JOIN_HANDLE_BYTES,
                    ));
                }
                (Some((cell, true)), true) => {
                    parts.push(Part::of(
                        format!(
                            "the future ({future_name}), boxed by tokio: past its threshold \
                             (16 KiB; 2 KiB in a debug build)"
                        ),
                        Whose::Yours,
                        future_bytes,
                    ));
                    parts.push(Part::of(
                        format!(
                            "tokio's task cell around the box ({} B, aligned to {} B)",
                            cell.size, cell.align
                        ),
                        Whose::Runtime,
                        cell.size as f64,
                    ));
                    parts.push(Part::of(
                        "the JoinHandle kept per task".into(),
                        Whose::Taskmem,
                        JOIN_HANDLE_BYTES,
                    ));
                }
                (None, true) => parts.push(Part::of(
                    format!("the future ({future_name}; tokio's cell not in the layouts)"),
                    Whose::Yours,
                    future_bytes,
                )),
                _ => parts.push(Part::of("the future".into(), Whose::Yours, future_bytes)),
            }
        }
    }
    let known: f64 = parts.iter().map(|p| p.bytes).sum();
    parts.push(Part::of(
        if recorded {
            "the rest: no site explains it (the exact figure less the sites' sum)".into()
        } else {
            "the rest: heap the task's code allocated and the runtime's other bookkeeping, \
             not told apart without the sites"
                .into()
        },
        Whose::Rest,
        allocated - known,
    ));
    Bill {
        id: pair.id.clone(),
        allocated,
        rounding,
        future,
        parts,
        notes,
        by_site: recorded,
    }
}

/// What one site's line says: whose code, what it is (the runtime's parts by name, with
/// their layout where the compiler gave one), and where.
fn site_label(
    share: &SiteShare,
    future_name: &str,
    future_bytes: f64,
    cell: Option<(&TypeLayout, bool)>,
) -> String {
    let function = short_function(&share.function);
    let blocks = if (share.blocks - 1.0).abs() < 0.05 {
        String::new()
    } else if share.blocks < 0.5 {
        ", one block for all the tasks, grown with N".to_string()
    } else {
        format!(", {:.2} blocks per task", share.blocks)
    };
    let same_as_future = share
        .block_size
        .is_some_and(|b| b as f64 == future_bytes && future_bytes > 0.0);
    let at = share
        .site
        .as_deref()
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    let what = match &share.owner {
        Owner::Runtime(rt) if rt == "tokio" && share.function.contains("runtime::task::") => {
            match cell {
                Some((cell, false)) => format!(
                    "tokio: the task cell: the future {future_bytes:.0} B ({future_name}), and \
                     {:.0} B of header, scheduler links, trailer and padding; {} B, aligned to \
                     {} B",
                    cell.size as f64 - future_bytes,
                    cell.size,
                    cell.align
                ),
                Some((cell, true)) => format!(
                    "tokio: the task cell around the boxed future ({} B, aligned to {} B)",
                    cell.size, cell.align
                ),
                None => format!(
                    "tokio: the task cell{} (the future inside; its layout not read)",
                    share
                        .block_size
                        .map(|b| format!(", {b} B each"))
                        .unwrap_or_default()
                ),
            }
        }
        Owner::Runtime(rt) if rt == "tokio" && same_as_future => format!(
            "tokio: the future ({future_name}), boxed: past tokio's threshold (16 KiB; 2 KiB \
             in a debug build)"
        ),
        Owner::Runtime(rt)
            if rt == "async-task"
                && (share.function.contains("RawTask")
                    || share
                        .site
                        .as_deref()
                        .is_some_and(|s| s.contains("/src/raw.rs"))) =>
        {
            format!(
                "async-task: the task: header, schedule function and the future \
                 {future_bytes:.0} B ({future_name}){}",
                share
                    .block_size
                    .map(|b| format!(", {b} B each"))
                    .unwrap_or_default()
            )
        }
        Owner::Runtime(rt) => match runtime_part(rt, &share.function, share.site.as_deref()) {
            Some(what) => format!("{rt}: {what}{at}"),
            None => format!("{rt}{at}"),
        },
        Owner::Taskmem => format!(
            "taskmem's harness: what its strategy keeps for the run (a spawn run's \
             JoinHandles, a join_all's futures){at}"
        ),
        Owner::Yours => format!("your code{at}"),
        Owner::Library(name) => {
            let via = share
                .via
                .as_deref()
                .map(|v| format!(", for {v}"))
                .unwrap_or_default();
            match share.place.as_deref() {
                Some(place) => format!("{name}{at}{via}, called from your code at {place}"),
                None => format!("{name}{at}{via}"),
            }
        }
        Owner::Unknown => "an allocation no frame names".to_string(),
    };
    format!("{what} [{function}]{blocks}")
}

/// What a runtime's block is, by the function (and file) that allocated it, for the parts a
/// runtime allocates per task beside its task: the I/O registration of a socket, the timers'
/// entries, a boxed `Sleep`, a channel. `None` for any other.
fn runtime_part(runtime: &str, function: &str, site: Option<&str>) -> Option<&'static str> {
    let site = site.unwrap_or("");
    match runtime {
        "tokio" if function.contains("registration_set") => {
            Some("the socket's I/O registration (its ScheduledIo)")
        }
        "tokio" if function.contains("time::interval") => Some("the Interval's boxed Sleep"),
        "tokio" if function.contains("sync::mpsc") || site.contains("/sync/mpsc/") => {
            Some("the mpsc channel (its state and blocks of slots)")
        }
        "async-io" if function.contains("insert_io") => {
            Some("the socket's I/O registration (its Source)")
        }
        "async-io" if function.contains("btree") => {
            Some("the timers' B-tree, an entry per sleeping task")
        }
        _ => None,
    }
}

/// A function's path without its generic arguments (`<tokio::runtime::task::core::Cell<F,
/// S>>::new`: `<tokio::runtime::task::core::Cell>::new`), at most 100 characters (the last).
fn short_function(function: &str) -> String {
    const MAX: usize = 100;
    let out = future::without_generics(function);
    let chars: Vec<char> = out.chars().collect();
    if chars.len() <= MAX {
        out
    } else {
        let tail: String = chars[chars.len() - MAX..].iter().collect();
        format!("...{tail}")
    }
}

/// One line of the bill: what, whose, its bytes per task, and its size-class rounding per
/// task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// What the bytes are.
    pub what: String,
    /// Whose code allocated them.
    pub whose: Whose,
    /// Requested bytes per task.
    pub bytes: f64,
    /// jemalloc's size-class rounding of them per task, where known (0 otherwise).
    pub rounding: f64,
}

impl Part {
    fn of(what: String, whose: Whose, bytes: f64) -> Part {
        Part {
            what,
            whose,
            bytes,
            rounding: 0.0,
        }
    }
}

/// Whose code a part's bytes are, as the report colours them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Whose {
    /// The bench's own code (its future, its lines).
    Yours,
    /// A library the bench's code called.
    Library,
    /// The runtime (its task cell, timers, I/O registrations, channels).
    Runtime,
    /// taskmem's harness (what its strategy keeps for the run).
    Taskmem,
    /// An allocation no frame names.
    Unknown,
    /// What no part explains: the exact figure less the parts.
    Rest,
}

impl Whose {
    fn of(owner: &Owner) -> Whose {
        match owner {
            Owner::Yours => Whose::Yours,
            Owner::Library(_) => Whose::Library,
            Owner::Runtime(_) => Whose::Runtime,
            Owner::Taskmem => Whose::Taskmem,
            Owner::Unknown => Whose::Unknown,
        }
    }

    /// Every owner, in the order the report's key lists them.
    pub const ALL: [Whose; 6] = [
        Whose::Yours,
        Whose::Library,
        Whose::Runtime,
        Whose::Taskmem,
        Whose::Unknown,
        Whose::Rest,
    ];

    /// What the report's key calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Whose::Yours => "your code",
            Whose::Library => "a library",
            Whose::Runtime => "the runtime",
            Whose::Taskmem => "taskmem's harness",
            Whose::Unknown => "no frame named",
            Whose::Rest => "the rest (unexplained)",
        }
    }
}

/// A pair's bill as `summary.json` keeps it (the pair's `bill`), for the report and for
/// scripts: the parts with their owners, the future's states, and the bill as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Exact allocated bytes per task (slope across N).
    pub allocated: f64,
    /// jemalloc's size-class rounding per task.
    pub rounding: f64,
    /// Whether the parts are allocation sites.
    pub by_site: bool,
    /// The parts, the rest last.
    pub parts: Vec<Part>,
    /// What could not be had.
    pub notes: Vec<String>,
    /// The future's state machine, when its layout was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub future: Option<future::FutureBill>,
    /// Why the future's states were not read, when they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub future_not_read: Option<String>,
    /// The bill as `taskmem bill` printed it.
    pub lines: Vec<String>,
}

impl Bill {
    /// The bill as the summary keeps it.
    pub fn record(&self) -> Record {
        Record {
            allocated: self.allocated,
            rounding: self.rounding,
            by_site: self.by_site,
            parts: self.parts.clone(),
            notes: self.notes.clone(),
            future: self.future.as_ref().ok().cloned(),
            future_not_read: self.future.as_ref().err().cloned(),
            lines: self.lines(),
        }
    }

    /// The bill as lines of text, to print under the case's line.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "bill of {}: {:.0} B allocated per task (exact, slope across N), {:.0} B more in \
             jemalloc's size classes",
            self.id, self.allocated, self.rounding
        )];
        if self.by_site {
            out.push(
                "  by allocation site (the blocks live at the peak in one more run per case, \
                 slope across N; + size-class rounding):"
                    .into(),
            );
        }
        for note in &self.notes {
            out.push(format!("  {note}"));
        }
        for p in &self.parts {
            let rounding = if p.rounding.abs() >= 0.5 {
                format!(" (+{:.0})", p.rounding)
            } else {
                String::new()
            };
            out.push(format!("  {:>9.0} B{rounding:<7}  {}", p.bytes, p.what));
        }
        match &self.future {
            Ok(f) => out.extend(f.lines(2)),
            Err(why) => out.push(format!("  the future's states: not read: {why}")),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{runtime_part, short_function};

    #[test]
    fn a_runtimes_blocks_beside_its_task_are_named_for_what_they_are() {
        let io = runtime_part(
            "tokio",
            "tokio::runtime::io::registration_set::RegistrationSet::allocate",
            None,
        );
        assert_eq!(io, Some("the socket's I/O registration (its ScheduledIo)"));
        let timers = runtime_part(
            "async-io",
            "alloc::collections::btree::node::Handle::insert_recursing",
            None,
        );
        assert_eq!(
            timers,
            Some("the timers' B-tree, an entry per sleeping task")
        );
        let block = runtime_part(
            "tokio",
            "<tokio::sync::mpsc::block::Block>::new",
            Some("tokio-1.54.1/src/sync/mpsc/block.rs:99"),
        );
        assert!(block.is_some_and(|b| b.starts_with("the mpsc channel")));
        assert_eq!(runtime_part("tokio", "tokio::something::else", None), None);
    }

    #[test]
    fn generic_arguments_are_left_out_of_a_functions_name() {
        assert_eq!(
            short_function(
                "<tokio::runtime::task::core::Cell<taskmem::FirstPoll<h::{closure#0}>, \
                 alloc::sync::Arc<H>>>::new"
            ),
            "<tokio::runtime::task::core::Cell>::new"
        );
        assert_eq!(
            short_function("<a::B as core::future::Future>::poll"),
            "<a::B as core::future::Future>::poll"
        );
        assert_eq!(
            short_function("tasks::handler::{closure#0}"),
            "tasks::handler::{closure#0}"
        );
    }
}
